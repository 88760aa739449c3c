"""The one atomic writer: temporary file beside the target, checked writes, mode, inputs refused."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from edgefuse.errors import ConfigError, OutputError
from edgefuse.files import atomic_path, refuse_inputs, write_bytes_atomic
from tests.fullfs import small_disk  # noqa: F401  (fixture)


def _enospc_after(limit):
    real = os.write
    written = [0]

    def write(fd, data):
        if written[0] + len(data) > limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written[0] += len(data)
        return real(fd, data)

    return write


def test_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_bytes_atomic(tmp_path / "a.bin", b"abc")
    finally:
        os.umask(old)
    # the writer reads the umask once at import; the usual umask 022 gives rw-r--r--
    mode = stat.S_IMODE(p.stat().st_mode)
    assert mode == 0o666 & ~old
    assert mode & 0o044, f"output is mode {oct(mode)}: others cannot read it"


def test_enospc_keeps_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    monkeypatch.setattr(os, "write", _enospc_after(10))
    with pytest.raises(OutputError) as info:
        write_bytes_atomic(target, b"x" * 100)
    msg = str(info.value)
    assert "\n" not in msg and "No space left on device" in msg and str(target) in msg
    assert info.value.exit_code == 1
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["out.bin"]


def test_permission_error_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write into a read-only folder")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    with pytest.raises(OutputError, match="Permission denied"):
        write_bytes_atomic(d / "x.bin", b"1")


def test_exception_inside_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "m.onnx") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("stage failed")
    assert os.listdir(tmp_path) == []


def test_refuses_to_overwrite_an_input(tmp_path):
    src = tmp_path / "vi" / "a.png"
    src.parent.mkdir()
    src.write_bytes(b"source")
    link = tmp_path / "hard.png"
    os.link(src, link)
    for target in (src, tmp_path / "vi" / ".." / "vi" / "a.png", link):
        with pytest.raises(ConfigError, match="is the input file"):
            write_bytes_atomic(target, b"new", inputs=[src])
    assert src.read_bytes() == b"source"
    refuse_inputs(tmp_path / "other.png", [src])  # a different file is fine


def test_real_full_disk(small_disk):  # noqa: F811
    target = small_disk.root / "out.bin"
    target.write_bytes(b"previous")
    small_disk.fill()
    with pytest.raises(OutputError, match="No space left on device"):
        write_bytes_atomic(target, os.urandom(1 << 20))
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(small_disk.root)) == [".filler", "out.bin"]
