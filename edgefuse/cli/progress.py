"""Progress bars for the CLI (shown only on a terminal)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(total: int, desc: str) -> tqdm:
    """A tqdm bar on stderr, disabled when stderr is not a terminal."""
    return tqdm(total=total, desc=desc, unit="img", disable=not sys.stderr.isatty(), leave=False)
