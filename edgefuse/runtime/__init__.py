"""The runtime layer: what an artefact is (resolve), how it is loaded, how it is compared.

Everything that runs a model (fuse, eval, bench, export, stream) goes through this layer, so a
name, a checkpoint, an ``.onnx`` file or a TensorRT plan means the same thing everywhere.
"""

from edgefuse.runtime.artefacts import DEFAULT_MODEL, Artefact, resolve, shipped_models
from edgefuse.runtime.backends.base import Backend, TensorSpec
from edgefuse.runtime.loaders import BACKENDS, TorchLoader, backend_for, canonical_backend, open_backend

__all__ = ["BACKENDS", "DEFAULT_MODEL", "Artefact", "Backend", "TensorSpec", "TorchLoader", "backend_for",
           "canonical_backend", "open_backend", "resolve", "shipped_models"]
