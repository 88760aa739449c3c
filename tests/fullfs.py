"""A real full disk for write-failure tests: a small tmpfs that can be filled to the last byte.

Needs root (``mount -t tmpfs``); where mounting is not allowed the tests that use it skip, and
the injected-failure tests in ``tests/test_files.py`` still cover the writer.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest


class SmallDisk:
    """A mounted tmpfs at ``root``; :meth:`fill` uses up every free byte."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def fill(self) -> None:
        with open(self.root / ".filler", "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as e:
                assert e.errno == errno.ENOSPC
        # tmpfs lets small files live in the inode; make sure a write really fails now
        with pytest.raises(OSError):
            with open(self.root / ".probe", "wb") as f:
                f.write(b"x" * 8192)
                f.flush()
                os.fsync(f.fileno())
        (self.root / ".probe").unlink(missing_ok=True)

    def free(self) -> None:
        (self.root / ".filler").unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path):
    root = tmp_path / "disk"
    root.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(root)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)
