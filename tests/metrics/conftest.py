"""Fixtures for the metric tests: the literal-spec oracle module."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def spec_ref() -> ModuleType:
    """``spec_reference.py`` loaded by path (pytest's importlib mode puts no test dir on sys.path)."""
    path = Path(__file__).with_name("spec_reference.py")
    spec = importlib.util.spec_from_file_location("edgefuse_tests_spec_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
