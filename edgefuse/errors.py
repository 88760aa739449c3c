"""The edgefuse error family and the exit codes the CLI maps them to."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_MISSING_DEPENDENCY = 3


class EdgefuseError(Exception):
    """Base of every error edgefuse raises on purpose.

    Messages say what failed, the bad value, and how to fix it. The CLI prints the
    message (no traceback) and exits with ``exit_code``.
    """

    exit_code = EXIT_FAILURE


class ConfigError(EdgefuseError, ValueError):
    """A bad option, flag combination or configuration value."""

    exit_code = EXIT_USAGE


class UnknownNameError(EdgefuseError, KeyError):
    """A name (model, metric, method, backend) that no registry knows."""

    exit_code = EXIT_USAGE

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0]) if self.args else ""


class DataError(EdgefuseError):
    """Input images or folders that cannot be used (missing, unreadable, mismatched)."""

    exit_code = EXIT_USAGE


class BackendUnavailableError(EdgefuseError, ImportError):
    """An optional dependency (onnxruntime, tensorrt, ...) is not installed."""

    exit_code = EXIT_MISSING_DEPENDENCY


class ShapeMismatchError(EdgefuseError, ValueError):
    """Arrays or tensors whose shapes do not fit together."""

    exit_code = EXIT_USAGE


class CheckpointError(EdgefuseError):
    """A checkpoint that is missing, corrupt or of another architecture."""

    exit_code = EXIT_USAGE


class OutputError(DataError):
    """An output file or folder that cannot be written (disk full, no permission, read-only).

    A ``DataError`` for callers that catch those, but exit 1: the run failed, the options were fine.
    """

    exit_code = EXIT_FAILURE


class ExportError(EdgefuseError):
    """A failed ONNX export, simplification or quantization stage."""


class EngineBuildError(EdgefuseError):
    """A failed TensorRT engine build or an engine that cannot be loaded here."""


class StreamError(EdgefuseError):
    """A camera or file source that cannot be opened or read."""


class StreamTimeout(StreamError):
    """A source delivered no frame for too long."""


def reject_unknown(values: Iterable[str], known: list[str], what: str, list_known: bool = False) -> None:
    """Raise ``ConfigError`` for the first key of ``values`` not in ``known``, with a did-you-mean.

    Used by the config dataclasses (``from_dict``): ``what`` names the option family
    (``export``, ``training``, ``stream``).
    """
    for key in values:
        if key not in known:
            tail = f" Known: {', '.join(known)}" if list_known else ""
            raise ConfigError(f"unknown {what} option {key!r}.{did_you_mean(key, known)}{tail}")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return a ' Did you mean ...?' hint for ``name`` among ``choices`` (or '')."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
