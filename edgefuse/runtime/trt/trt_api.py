"""The TensorRT Python names edgefuse uses, with the versions that have them: data, with its source.

Source: the pybind11 bindings of NVIDIA/TensorRT, ``python/src/infer/pyCore.cpp`` and
``pyGraph.cpp``, read on the branches ``release/10.0``, ``release/10.1``, ``release/10.3``,
``release/10.9``, ``release/10.12``, ``release/10.16`` and ``main`` (TensorRT 11.1), plus
``python/docstrings/infer/pyCoreDoc.h`` for ``set_timing_cache``'s return value. ``nptype`` and
``__version__`` come from the Python package (``python/packaging``), not the bindings.

``NAMES`` maps ``"Owner.attr"`` to ``(first, last)``: the first (major, minor) that has it and
the last that still has it (``None``: still present in 11.1). The build code gates its calls on
this table, and the recording stand-in in the tests exposes exactly these names, so a call to a
name that is missing here, or missing in the version under test, fails on the CPU.
Update it with the bindings (``tests/engines/test_trt_api.py`` checks it against an installed
``tensorrt`` where there is one).
"""

from __future__ import annotations

from edgefuse.errors import ConfigError

Version = tuple[int, int]

SOURCE = "NVIDIA/TensorRT python/src/infer/pyCore.cpp, pyGraph.cpp (release/10.0 ... release/10.16, main = 11.1)"

_ALL: tuple[Version, Version | None] = ((10, 0), None)
_TRT10: tuple[Version, Version | None] = ((10, 0), (10, 99))  # removed in 11.0 (weak typing, calibrators)

NAMES: dict[str, tuple[Version, Version | None]] = {
    # module level
    "__version__": _ALL, "nptype": _ALL, "float32": _ALL,
    "Logger": _ALL, "Logger.WARNING": _ALL,
    # builder
    "Builder": _ALL, "Builder.create_network": _ALL, "Builder.create_builder_config": _ALL,
    "Builder.create_optimization_profile": _ALL, "Builder.build_serialized_network": _ALL,
    "Builder.num_DLA_cores": _ALL,
    "NetworkDefinitionCreationFlag.STRONGLY_TYPED": _ALL,  # 11.x: "Deprecated: always enabled"
    "INetworkDefinition.num_inputs": _ALL, "INetworkDefinition.get_input": _ALL,
    "INetworkDefinition.num_layers": _ALL, "INetworkDefinition.get_layer": _ALL,
    "ITensor.name": _ALL, "ITensor.shape": _ALL,
    "ILayer.name": _ALL, "ILayer.type": _ALL, "ILayer.num_outputs": _ALL,
    "ILayer.precision": _TRT10, "ILayer.set_output_type": _TRT10,
    "LayerType.NORMALIZATION": _ALL, "LayerType.SOFTMAX": _ALL, "LayerType.REDUCE": _ALL,
    "OnnxParser": _ALL, "OnnxParser.parse_from_file": _ALL, "OnnxParser.num_errors": _ALL,
    "OnnxParser.get_error": _ALL,
    "IBuilderConfig.set_flag": _ALL, "IBuilderConfig.set_memory_pool_limit": _ALL,
    "IBuilderConfig.builder_optimization_level": _ALL, "IBuilderConfig.profiling_verbosity": _ALL,
    "IBuilderConfig.default_device_type": _ALL, "IBuilderConfig.DLA_core": _ALL,
    "IBuilderConfig.hardware_compatibility_level": _ALL, "IBuilderConfig.add_optimization_profile": _ALL,
    "IBuilderConfig.create_timing_cache": _ALL,
    "IBuilderConfig.set_timing_cache": _ALL,  # returns False when the cache does not fit this device
    "IBuilderConfig.get_timing_cache": _ALL,  # may return None
    "ITimingCache.serialize": _ALL,
    "IOptimizationProfile.set_shape": _ALL,
    "BuilderFlag.FP16": _TRT10, "BuilderFlag.INT8": _TRT10, "BuilderFlag.OBEY_PRECISION_CONSTRAINTS": _TRT10,
    "BuilderFlag.GPU_FALLBACK": _ALL,
    "MemoryPoolType.WORKSPACE": _ALL, "ProfilingVerbosity.DETAILED": _ALL, "DeviceType.DLA": _ALL,
    "HardwareCompatibilityLevel.AMPERE_PLUS": _ALL,
    "HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY": ((10, 9), None),
    # runtime
    "Runtime": _ALL, "Runtime.deserialize_cuda_engine": _ALL, "Runtime.DLA_core": _ALL,
    "ICudaEngine.num_io_tensors": _ALL, "ICudaEngine.get_tensor_name": _ALL,
    "ICudaEngine.get_tensor_mode": _ALL, "ICudaEngine.get_tensor_shape": _ALL,
    "ICudaEngine.get_tensor_dtype": _ALL, "ICudaEngine.create_execution_context": _ALL,
    "ICudaEngine.create_engine_inspector": _ALL,
    "ICudaEngine.device_memory_size": _TRT10, "ICudaEngine.device_memory_size_v2": ((10, 1), None),
    "IExecutionContext.set_input_shape": _ALL, "IExecutionContext.get_tensor_shape": _ALL,
    "IExecutionContext.set_tensor_address": _ALL, "IExecutionContext.execute_async_v3": _ALL,
    "IEngineInspector.get_engine_information": _ALL, "LayerInformationFormat.JSON": _ALL,
}


def version_tuple(version: str) -> Version:
    """'10.16.1.11' -> (10, 16)."""
    parts = (str(version).split(".") + ["0"])[:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError as e:
        raise ConfigError(f"not a TensorRT version: {version!r} (expected e.g. 10.12 or 11.4.1)") from e


def has(name: str, version: str | Version) -> bool:
    """Whether TensorRT ``version`` has ``name`` (a key of ``NAMES``)."""
    v = version_tuple(version) if isinstance(version, str) else version
    first, last = NAMES[name]
    return first <= v and (last is None or v <= last)


def names_in(version: str | Version) -> set[str]:
    """Every name of ``NAMES`` that ``version`` has."""
    return {n for n in NAMES if has(n, version)}
