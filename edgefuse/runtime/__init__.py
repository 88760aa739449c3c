"""The runtime layer: what an artefact is (resolve), how it is loaded, how it is compared.

Everything that runs a model (fuse, eval, bench, export, stream) goes through this layer, so a
name, a checkpoint, an ``.onnx`` file or a TensorRT plan means the same thing everywhere.
"""
