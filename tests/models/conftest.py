"""Shared, session-scoped model fixtures for the model tests (building the teacher takes ~1 s)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from edgefuse.models import DTPF, create_model


@pytest.fixture(scope="session")
def build_model() -> Callable[[str], DTPF]:
    """Build a registered model once per session (seeded, eval mode) and reuse it."""
    cache: dict[str, DTPF] = {}

    def build(name: str) -> DTPF:
        if name not in cache:
            torch.manual_seed(0)
            cache[name] = create_model(name).eval()
        return cache[name]

    return build


@pytest.fixture(scope="session")
def student(build_model: Callable[[str], DTPF]) -> DTPF:
    """The registered student."""
    return build_model("dtpf_student")


@pytest.fixture(scope="session")
def teacher(build_model: Callable[[str], DTPF]) -> DTPF:
    """The registered teacher (text_dim 512)."""
    return build_model("dtpf_teacher")
