"""Fixtures for the text tests: a clean real pair to degrade on purpose."""

from __future__ import annotations

import pytest

from edgefuse.data.pairs import LoadedPair, find_pairs, load_pair
from tests.helpers import SAMPLES


@pytest.fixture(scope="session")
def clean_pair() -> LoadedPair:
    """RoadScene FLIR_00211 from the bundled samples: daylight, no event fires on it."""
    (pair,) = [p for p in find_pairs(SAMPLES / "ivf") if p.name == "FLIR_00211"]
    return load_pair(pair)


@pytest.fixture(scope="session")
def night_pair() -> LoadedPair:
    """MSRS 00004N from the bundled samples: a night scene."""
    (pair,) = [p for p in find_pairs(SAMPLES / "ivf") if p.name == "00004N"]
    return load_pair(pair)


@pytest.fixture(scope="session")
def medical_pair() -> LoadedPair:
    """A bundled Harvard MRI/PET pair (PET pseudo-colour in the visible role)."""
    return load_pair(find_pairs(SAMPLES / "medical")[0])
