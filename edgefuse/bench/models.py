"""Models as the benchmarks time them: any spec through the one resolver, teachers with a fixed text.

The DTPF teacher takes ``(vis, ir, text)``; its text comes from a sentence encoder at run time,
which is not part of the fusion network's cost and cannot be exported with it. For timing, the
runtime's torch loader wraps a teacher in :class:`~edgefuse.text.conditioning.FixedTextTeacher`
(``text="fixed"``), so it has the ``(vis, ir) -> fused`` contract of every other model.
"""

from __future__ import annotations

from torch import nn

from edgefuse.runtime import TorchLoader, resolve


def bench_model(spec: str, random_weights: bool = False, seed: int = 0) -> tuple[nn.Module, str]:
    """The module ``spec`` names, ready to time, and where its weights came from.

    ``spec`` is anything ``edgefuse.runtime.resolve`` takes for torch: a shipped model name or a
    checkpoint; an architecture name only with ``random_weights`` (seeded; it times the same as
    trained weights).
    """
    art = resolve(spec, random_weights=random_weights)
    loaded = TorchLoader(art, text="fixed", seed=seed)()
    how = f"trained ({art.path.name})" if art.path is not None else "random (seeded; timing only)"
    return loaded.module, how


def timing_spec(architecture: str) -> tuple[str, bool]:
    """(spec, random_weights) to time ``architecture``: its shipped model if one is shipped, else random weights.

    For benchmark tables over architectures: trained and random weights time the same, and the
    table says which it used.
    """
    from edgefuse.models.checkpoint import read_card
    from edgefuse.runtime import shipped_models

    for name, path in shipped_models().items():
        if read_card(path).get("architecture") == architecture:
            return name, False
    return architecture, True
