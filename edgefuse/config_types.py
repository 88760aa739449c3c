"""One type check for every config dataclass loader: each value against its field's annotation.

YAML recipes, model cards and CLI flags arrive as plain values; a ``height: "480"`` or a
``lr: .nan`` would otherwise surface later as a traceback deep in torch or onnx. Each
``from_dict`` calls :func:`check_field_types` right after ``reject_unknown``; ranges stay in
each class's ``__post_init__``.

Rules: ``int`` takes ints (not bools); ``float`` takes finite ints and floats (no NaN/inf);
``bool`` only bools; ``str`` only strings; an ``Enum`` its members or their string values;
``X | None`` also ``None``; ``tuple[...]``/``list[...]`` a list or tuple whose items fit, or a
string the class parses (``"256x320:480x640:720x1280"``); ``dict[K, V]`` a mapping whose keys
and values fit; ``Any`` anything.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from edgefuse.errors import ConfigError, did_you_mean


def check_field_types(cls: type, values: Mapping[str, Any], what: str) -> None:
    """Raise ``ConfigError`` naming the first field of ``values`` whose value does not fit its annotation."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        problem = _mismatch(values[f.name], hints.get(f.name, Any))
        if problem is not None:
            raise ConfigError(f"{what} option {f.name!r}: {problem}")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_name(a) for a in typing.get_args(tp))
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def _mismatch(value: Any, tp: Any) -> str | None:  # noqa: PLR0911 - one return per annotation kind
    """Why ``value`` does not fit ``tp`` (``None`` when it fits)."""
    if tp is Any or tp is object:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if any(_mismatch(value, o) is None for o in options):
            return None
        # a finite-float problem is more useful than "expected float or null"
        for o in options:
            if o is float and isinstance(value, float):
                return _mismatch(value, o)
        return f"expected {_name(tp)}, got {_describe(value)}"
    if tp is type(None):
        return None if value is None else f"expected null, got {_describe(value)}"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        ok = isinstance(value, tp) or (isinstance(value, str) and any(value.lower() == str(m.value) for m in tp))
        return None if ok else f"expected one of {', '.join(str(m.value) for m in tp)}, got {_describe(value)}"
    if tp is bool:
        return None if isinstance(value, bool) else f"expected true or false, got {_describe(value)}"
    if tp is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"expected an integer, got {_describe(value)}"
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {_describe(value)}"
        return None if math.isfinite(value) else f"expected a finite number, got {value!r}"
    if tp is str:
        return None if isinstance(value, str) else f"expected a string, got {_describe(value)}"
    if origin in (tuple, list):
        return _sequence_mismatch(value, tp)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            return f"expected a mapping, got {_describe(value)}"
        args = typing.get_args(tp) or (Any, Any)
        for k, v in value.items():
            problem = _mismatch(k, args[0]) or _mismatch(v, args[1])
            if problem is not None:
                return f"entry {k!r}: {problem}"
        return None
    return None  # other annotations (classes the dataclass converts itself) are left to __post_init__


def _sequence_mismatch(value: Any, tp: Any) -> str | None:
    if isinstance(value, str):
        return None  # the class parses it (a single path, "256x320", "MIN:OPT:MAX")
    if not isinstance(value, (list, tuple)):
        return f"expected a list, got {_describe(value)}"
    args = typing.get_args(tp)
    if not args:
        return None
    if len(args) == 2 and args[1] is Ellipsis or typing.get_origin(tp) is list:
        item_types = [args[0]] * len(value)
    else:
        if len(value) != len(args):
            return f"expected {len(args)} items, got {len(value)}"
        item_types = list(args)
    for i, (item, item_tp) in enumerate(zip(value, item_types)):
        problem = _mismatch(item, item_tp)
        if problem is not None:
            return f"item {i}: {problem}"
    return None


# ----------------------------------------------------------------------------- shared value types
# Precisions and sizes are read by export, engines and the runtime alike, so they live here.
Size = tuple[int, int]  # (height, width)
DynamicSpec = tuple[Size, Size, Size]  # (min, opt, max)


class Precision(str, enum.Enum):
    """Artefact precision. Each export also writes the lower ones it is measured against."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"

    @classmethod
    def parse(cls, value: str | Precision) -> Precision:
        try:
            return cls(str(getattr(value, "value", value)).lower())
        except ValueError:
            names = [p.value for p in cls]
            raise ConfigError(
                f"precision {value!r} is not one of {', '.join(names)}.{did_you_mean(str(value), names)}"
            ) from None

    def artefacts(self) -> list[Precision]:
        """fp32 -> [fp32]; fp16 -> [fp32, fp16]; int8 -> [fp32, fp16, int8].

        The FP32 graph is the source of the others; the FP16 graph comes with INT8 because
        it is the fallback to deploy when INT8 misses its accuracy target.
        """
        order = list(Precision)
        return order[: order.index(self) + 1]


def parse_size(text: str | Size | list[int]) -> Size:
    """'480x640' (H x W) or (480, 640) -> (480, 640)."""
    if isinstance(text, (tuple, list)):
        if len(text) != 2:
            raise ConfigError(f"a size is [height, width], got {text!r}")
        return int(text[0]), int(text[1])
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m:
        raise ConfigError(f"size {text!r} is not HEIGHTxWIDTH (e.g. 480x640)")
    return int(m.group(1)), int(m.group(2))


def parse_dynamic(text: str | list[Any] | tuple[Any, ...]) -> DynamicSpec:
    """'256x320:480x640:720x1280' (min:opt:max, each HxW) -> ((256,320),(480,640),(720,1280))."""
    parts = text.split(":") if isinstance(text, str) else list(text)
    if len(parts) != 3:
        raise ConfigError(f"dynamic shape {text!r} is not MIN:OPT:MAX, e.g. 256x320:480x640:720x1280")
    lo, opt, hi = (parse_size(p) for p in parts)
    if not (lo[0] <= opt[0] <= hi[0] and lo[1] <= opt[1] <= hi[1]):
        raise ConfigError(f"dynamic shape {text!r} needs min <= opt <= max in both height and width")
    return lo, opt, hi
