"""Small file helpers shared by every writer: one hash, the one atomic writer, JSON, sizes (no heavy imports)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from edgefuse.errors import ConfigError, OutputError


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_hex(data: bytes | str, length: int | None = None) -> str:
    """Hex SHA-256 of bytes (a string is UTF-8 encoded), cut to ``length`` characters for cache keys."""
    digest = hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()
    return digest[:length] if length else digest


def read_json_object(path: Path, label: str, fix: str, error: type[Exception]) -> dict[str, Any]:
    """The JSON object in ``path``; anything else is one ``error`` line naming ``label`` and the ``fix``."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise error(f"{label} is not valid JSON ({str(e)[:120]}); {fix}") from None
    if not isinstance(doc, dict):
        raise error(f"{label} holds a JSON {type(doc).__name__}, not an object; {fix}")
    return doc


# ----------------------------------------------------------------------------- the one atomic writer
# Outputs get the usual ``0o666 & ~umask``, not mkstemp's 0o600 (read once; os.umask can only be read by setting it).
_UMASK = os.umask(0)
os.umask(_UMASK)


def _write_error(path: Path, e: OSError, what: str = "write") -> OutputError:
    reason = e.strerror or str(e)
    hint = {errno.ENOSPC: "free some space or choose another folder",
            errno.EDQUOT: "free some space or choose another folder",
            errno.EACCES: "choose a writable folder", errno.EPERM: "choose a writable folder",
            errno.EROFS: "choose a folder on a writable file system"}.get(e.errno or 0, "choose another folder")
    return OutputError(f"cannot {what} {path}: {reason}; {hint} (nothing was written under that name)")


def refuse_inputs(target: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]]) -> None:
    """Raise ``ConfigError`` if ``target`` is (or resolves to) one of ``inputs``.

    Compared by resolved path and, for files that exist, by device and inode (hard links).
    """
    t = Path(target)
    t_res = _resolved(t)
    try:
        t_stat: os.stat_result | None = t.stat()
    except OSError:
        t_stat = None
    for src in inputs:
        s = Path(src)
        same = _resolved(s) == t_res
        if not same and t_stat is not None:
            with contextlib.suppress(OSError):
                st = s.stat()
                same = (st.st_dev, st.st_ino) == (t_stat.st_dev, t_stat.st_ino)
        if same:
            raise ConfigError(f"output {t} is the input file {s}: writing it would destroy the input; "
                              "choose another output name or folder")


def _resolved(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare as given
        return p.absolute()


def _make_parent(parent: Path) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise OutputError(f"cannot create output folder {parent}: a file is in the way") from e
    except OSError as e:
        raise _write_error(parent, e, "create output folder") from e


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = (),
                check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; move it to ``final`` only when the block succeeds.

    Whoever fills the temporary file (our code, torch, onnx), a failure (disk full, no
    permission, an exception, an interrupt) never leaves a file under the final name and
    never touches a previous file there: the temporary file is removed. On success the file
    is fsynced, given mode ``0o666 & ~umask`` and renamed over ``final``.

    Args:
        final: the path the file should have.
        inputs: files this run reads; ``final`` must not be one of them (:func:`refuse_inputs`).
        check: called with the temporary path before the rename; may raise to refuse it.

    Raises:
        OutputError: the folder cannot be created or written (ENOSPC, EACCES, EROFS, ...).
        ConfigError: ``final`` is one of ``inputs``.
    """
    final_p = Path(final)
    refuse_inputs(final_p, inputs)
    _make_parent(final_p.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{final_p.stem}.tmp-", suffix=final_p.suffix, dir=final_p.parent)
        os.close(fd)
    except OSError as e:
        raise _write_error(final_p, e) from e
    tmp_p = Path(tmp)
    try:
        try:
            yield tmp_p
            if check is not None:
                check(tmp_p)
            _fsync(tmp_p)
            os.chmod(tmp_p, 0o666 & ~_UMASK)
            os.replace(tmp_p, final_p)
        except OSError as e:
            raise _write_error(final_p, e) from e
    finally:
        with contextlib.suppress(OSError):
            tmp_p.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:  # a full disk can also show as a short write that makes no progress
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes | memoryview,
                       inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_path`; every byte is checked written."""
    with atomic_path(path, inputs) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str,
                      inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """UTF-8 ``text`` to ``path`` atomically (:func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"), inputs)


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder inside ``final``; on success move everything in it into ``final``.

    For runs that write several files that belong together (an export's ONNX files, sidecars and
    manifest): a failure anywhere leaves the previous run's files exactly as they were, and the
    temporary folder is removed. Files are moved with ``os.replace`` (same file system: no copy).
    """
    import shutil

    final_p = Path(final)
    _make_parent(final_p)
    try:
        stage = Path(tempfile.mkdtemp(prefix=".staged-", dir=final_p))
    except OSError as e:
        raise _write_error(final_p, e, "write into") from e
    try:
        yield stage
        try:
            for src in sorted(p for p in stage.rglob("*") if p.is_file()):
                dst = final_p / src.relative_to(stage)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
        except OSError as e:
            raise _write_error(final_p, e, "move the new files into") from e
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def check_output_path(path: str | os.PathLike[str], option: str, suffixes: Iterable[str] = ()) -> Path:
    """Check, before any work, that ``path`` can become an output file; create nothing.

    Raises:
        ConfigError: ``path`` is a folder, has a suffix not in ``suffixes``, or its nearest existing
            parent is a file or not writable.
    """
    p = Path(path)
    allowed = tuple(s.lower() for s in suffixes)
    if allowed and p.suffix.lower() not in allowed:
        raise ConfigError(f"{option} {p}: unknown suffix {p.suffix!r}; use one of {', '.join(allowed)}")
    if p.is_dir():
        raise ConfigError(f"{option} {p} is a folder; give a file name such as {p / ('out' + (allowed or ('.txt',))[0])}")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {p}: {parent} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {p}: {parent} is not writable; choose another path")
    return p


def ensure_writable_dir(path: str | os.PathLike[str], role: str = "output folder") -> Path:
    """Create ``path`` if needed and prove that a file can be written into it.

    Raises:
        ConfigError: the folder cannot be created (a file is in the way, no permission)
            or a file cannot be created inside it.
    """
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise ConfigError(
            f"{role} {p} cannot be created: a file is in the way ({e.filename}); pass another folder"
        ) from e
    except OSError as e:
        raise ConfigError(f"{role} {p} cannot be created: {e.strerror}; pass a writable folder") from e
    try:
        fd, probe = tempfile.mkstemp(prefix=".edgefuse-probe-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"{role} {p} is not writable: {e.strerror}; pass a writable folder") from e
    return p


def write_json_atomic(path: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    """Write ``doc`` as indented JSON through a temporary file."""
    return write_text_atomic(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")


def human_size(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
