"""TensorRT at run time: the bindings (imported lazily), the per-version API table, the GPU and the plan guard.

Building engines (``edgefuse.engines``) and running them (the TensorRT backend) both use these;
they import ``tensorrt`` only when called, so the package imports without it.
"""
