"""Export configuration: the frozen ``ExportConfig`` and named recipes (precisions and sizes: ``config_types``)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from edgefuse.config_types import DynamicSpec, Precision, Size, check_field_types, parse_dynamic
from edgefuse.errors import ConfigError, did_you_mean, reject_unknown
from edgefuse.resources import asset

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

RECIPE_DIR = "recipes"  # edgefuse/assets/recipes/<name>.yaml, shipped with the package
CALIB_METHODS = ("minmax", "entropy", "percentile")


@dataclass(frozen=True)
class ExportConfig:
    """Everything ``edgefuse export`` needs; defaults < recipe YAML < CLI flags.

    ``model`` is any model spec (shipped name, checkpoint; an architecture only with
    ``random_weights``); ``weights`` is a ``.safetensors`` checkpoint (``model`` then names the
    architecture it must hold). Neither: the shipped default student.
    """

    model: str | None = None
    weights: str | None = None
    random_weights: bool = False  # let ``model`` be an architecture name (seeded random weights)
    name: str | None = None
    height: int = 480
    width: int = 640
    dynamic: DynamicSpec | None = None
    precision: Precision = Precision.FP16
    opset: int = 17
    simplify: bool = True
    out: str = "export/out"
    # INT8 calibration (never a test split)
    calib: str | None = None
    calib_method: str = "minmax"
    calib_samples: int = 32
    calib_min_pairs: int = 8
    psnr_target: float | None = 32.0
    max_fp32_nodes: int = 16
    # FP16: activations above this magnitude keep their node in FP32
    fp16_max_abs: float = 16384.0
    # parity against PyTorch FP32 on real pairs
    parity: tuple[str, ...] = ()
    parity_pairs: int = 4
    seed: int = 0
    threads: int = 0
    # TensorRT (only where it is installed)
    engine_dir: str = "engines"
    workspace_mb: int | None = None
    dla_core: int | None = None
    timing_cache: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision.parse(self.precision))
        if self.dynamic is not None:
            object.__setattr__(self, "dynamic", parse_dynamic(self.dynamic))
        parity = self.parity
        object.__setattr__(self, "parity", (parity,) if isinstance(parity, str) else tuple(parity or ()))
        if self.calib_method not in CALIB_METHODS:
            raise ConfigError(
                f"calibration method {self.calib_method!r} is not one of {', '.join(CALIB_METHODS)}."
                f"{did_you_mean(self.calib_method, CALIB_METHODS)}"
            )
        if self.opset < 17:
            raise ConfigError(f"opset {self.opset} is too old: opset >= 17 keeps LayerNorm one LayerNormalization node")
        for key in ("height", "width", "calib_samples", "calib_min_pairs", "parity_pairs"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} must be positive, got {getattr(self, key)}")
        if self.max_fp32_nodes < 0:
            raise ConfigError(f"max_fp32_nodes must be >= 0, got {self.max_fp32_nodes}")
        if self.precision is Precision.INT8 and not self.calib:
            raise ConfigError(
                "INT8 needs calibration pairs: pass --calib DIR (a folder with ir/ + vi/, never a test split), "
                "e.g. --calib DATA/train"
            )

    @property
    def export_size(self) -> Size:
        """The size the graph is traced, calibrated and measured at (opt for dynamic)."""
        return self.dynamic[1] if self.dynamic is not None else (self.height, self.width)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExportConfig:
        """Build from a mapping; unknown keys raise with a did-you-mean."""
        reject_unknown(values, [f.name for f in dataclasses.fields(cls)], "export")
        check_field_types(cls, values, "export")
        return cls(**values)

    @classmethod
    def from_recipe(cls, recipe: str | os.PathLike[str] | None, **overrides: Any) -> ExportConfig:
        """Defaults < recipe YAML < ``overrides`` (those that are not ``None``)."""
        values: dict[str, Any] = load_recipe(recipe) if recipe else {}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["precision"] = self.precision.value
        d["parity"] = list(self.parity)
        if self.dynamic is not None:
            d["dynamic"] = ":".join(f"{h}x{w}" for h, w in self.dynamic)
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def recipe_names() -> list[str]:
    """Names of the recipes shipped in ``edgefuse/assets/recipes/``."""
    folder = asset(RECIPE_DIR)
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def find_recipe(recipe: str | os.PathLike[str]) -> Path | Traversable:
    """A recipe file path, or a name looked up in ./export/ and then among the shipped recipes."""
    p = Path(recipe)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    local = Path.cwd() / "export" / f"{recipe}.yaml"
    if local.is_file():
        return local
    shipped = asset(RECIPE_DIR, f"{recipe}.yaml")
    if p.name == str(recipe) and shipped.is_file():  # a bare name, never a path into the package
        return shipped
    names = recipe_names()
    raise ConfigError(
        f"no export recipe {str(recipe)!r}.{did_you_mean(str(recipe), names)}"
        f" Recipes: {', '.join(names) or 'none'}, or pass a .yaml path."
    )


def load_recipe(recipe: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a recipe's options (a YAML mapping; an optional ``description`` key is ignored)."""
    path = find_recipe(recipe)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read export recipe {path}: {e}") from e
    if not isinstance(values, dict):
        raise ConfigError(f"export recipe {path} must hold a mapping of options, not {type(values).__name__}")
    values.pop("description", None)
    return values
