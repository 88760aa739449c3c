"""Files shipped inside the package: samples, export recipes, the viewer page.

Everything is found through :mod:`importlib.resources`, so an installed wheel reads its own copy
and never the source tree it was built from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING

from edgefuse.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

SAMPLE_SETS = ("ivf", "medical")  # assets/samples/<name>: ir/ + vi/, mri/ + other/


def asset(*parts: str) -> Traversable:
    """``edgefuse/assets/<parts>`` as a resource (read it with ``read_text``/``read_bytes``)."""
    return files("edgefuse").joinpath("assets", *parts)


def package_file(*parts: str) -> Traversable:
    """A file of the package itself, e.g. ``package_file("stream", "viewer.html")``."""
    return files("edgefuse").joinpath(*parts)


@contextlib.contextmanager
def asset_path(*parts: str) -> Iterator[Path]:
    """A real filesystem path for a shipped file or folder while the context is open.

    An install as plain folders (wheels, editable installs) gives the installed files themselves;
    a zipped install gets a temporary copy that is removed on exit.
    """
    with as_file(asset(*parts)) as path:
        yield Path(path)


def check_sample(name: str) -> str:
    """``name`` if it is a bundled sample set, else a one-line error listing them."""
    if name not in SAMPLE_SETS:
        raise ConfigError(f"no bundled sample set {name!r}: use one of {', '.join(SAMPLE_SETS)}."
                          f"{did_you_mean(name, SAMPLE_SETS)}")
    return name


@contextlib.contextmanager
def sample_dir(name: str) -> Iterator[Path]:
    """The folder of the bundled sample set ``name`` (``ivf``: ir/ + vi/, ``medical``: mri/ + other/)."""
    with asset_path("samples", check_sample(name)) as path:
        yield path
