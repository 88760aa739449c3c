"""METRICS registry, evaluate_grey / evaluate_rgb, and properties shared by all metrics."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from edgefuse.errors import ConfigError, ShapeMismatchError, UnknownNameError
from edgefuse.metrics import (
    CDDFUSE_METRICS,
    DEFAULT_METRICS,
    METRICS,
    MetricInfo,
    evaluate_grey,
    evaluate_rgb,
    grey_from_rgb,
)

EXPECTED_ORDER = ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "Nabf", "SSIM", "MS_SSIM", "CC", "PSNR")
RNG = np.random.default_rng(7)


def _images(shape: tuple[int, int] = (40, 40)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.round(RNG.uniform(0, 255, shape))
    b = np.round(RNG.uniform(0, 255, shape))
    return np.round((a + b) / 2), a, b


def test_default_order_and_flags() -> None:
    assert DEFAULT_METRICS == EXPECTED_ORDER
    for name in DEFAULT_METRICS + CDDFUSE_METRICS:
        info = METRICS.get(name)
        assert isinstance(info, MetricInfo) and info.name == name and info.description
        assert info.higher_is_better is (not name.startswith("Nabf"))
    assert not METRICS.get("Nabf").higher_is_better
    single = {n for n in DEFAULT_METRICS if not METRICS.get(n).needs_sources}
    assert single == {"EN", "SD", "SF", "AG"}


def test_aliases_and_unknown_names() -> None:
    assert METRICS.canonical("ms-ssim") == "MS_SSIM"
    assert METRICS.canonical("qabf") == "Qabf"
    assert METRICS.canonical("vif") == "VIF"
    with pytest.raises(UnknownNameError, match="Qabf"):
        METRICS.get("Qab")


def test_metric_info_is_frozen_and_checks_sources() -> None:
    info = METRICS.get("MI")
    with pytest.raises(AttributeError):
        info.name = "X"  # type: ignore[misc]
    with pytest.raises(ConfigError):
        info(np.zeros((4, 4)))


def test_evaluate_grey_default_and_selection() -> None:
    f, a, b = _images()
    out = evaluate_grey(f, a, b)
    assert tuple(out) == EXPECTED_ORDER
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    sel = evaluate_grey(f, a, b, names=["qabf", "ms-ssim", "EN"])
    assert list(sel) == ["Qabf", "MS_SSIM", "EN"]
    assert sel["Qabf"] == out["Qabf"]
    with pytest.raises(ConfigError):
        evaluate_grey(f, a, b, names="EN")
    with pytest.raises(UnknownNameError):
        evaluate_grey(f, a, b, names=["EN", "FMI"])


def test_shape_mismatch_names_the_shapes() -> None:
    f, a, b = _images()
    with pytest.raises(ShapeMismatchError, match=r"\(40, 39\)"):
        evaluate_grey(f, a[:, :39], b)
    with pytest.raises(ShapeMismatchError):
        evaluate_grey(np.dstack([f, f, f]), np.dstack([a, a, a]), np.dstack([b, b, b]))


def test_swapping_sources_changes_nothing() -> None:
    f, a, b = _images()
    f = np.clip(f + RNG.normal(0, 5, f.shape), 0, 255)
    ab, ba = evaluate_grey(f, a, b), evaluate_grey(f, b, a)
    for name in DEFAULT_METRICS:
        assert ab[name] == pytest.approx(ba[name], rel=1e-12, abs=1e-14), name


def test_identical_images() -> None:
    x = np.round(RNG.integers(0, 6, (48, 48)) * 50.0)
    out = evaluate_grey(x, x, x)
    assert out["SSIM"] == 2.0
    assert out["MS_SSIM"] == pytest.approx(2.0)
    assert out["VIF"] == pytest.approx(2.0, abs=1e-9)
    assert out["CC"] == pytest.approx(1.0)
    assert out["Nabf"] == 0.0
    assert out["MI"] == pytest.approx(2 * out["EN"])  # MI(X, X) = H(X)
    assert out["Qabf"] == pytest.approx(0.9994 * 0.9879 / (1 + math.exp(-4.4)))
    assert out["SCD"] == 0.0  # F - A = 0 is constant
    assert math.isfinite(out["PSNR"])


@pytest.mark.parametrize("level", [0.0, 128.0, 255.0])
def test_constant_images_are_finite_and_warning_free(level: float) -> None:
    c = np.full((24, 24), level)
    t = np.round(RNG.uniform(0, 255, (24, 24)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f, a, b in ((c, c, c), (c, t, t), (t, c, c)):
            out = evaluate_grey(f, a, b, names=METRICS.names())
            assert all(math.isfinite(v) for v in out.values()), out
    out = evaluate_grey(c, c, c)
    assert out["EN"] == out["SD"] == out["SF"] == out["AG"] == out["MI"] == out["CC"] == 0.0
    assert out["SSIM"] == pytest.approx(2.0) and out["VIF"] == 2.0


def test_evaluate_rgb_converts_with_grey_from_rgb() -> None:
    rgb = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ir = RNG.integers(0, 256, (32, 32), dtype=np.uint8)
    vis = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    expected = evaluate_grey(grey_from_rgb(rgb), grey_from_rgb(ir), grey_from_rgb(vis))
    assert evaluate_rgb(rgb, ir, vis) == expected


def test_real_msrs_pair_is_in_the_literature_range(shared_data: Path, spec_ref: ModuleType) -> None:
    cv2 = pytest.importorskip("cv2")
    folder = shared_data / "msrs" / "test"
    name = sorted(p.name for p in (folder / "ir").glob("*.png"))[0]
    ir = grey_from_rgb(cv2.imread(str(folder / "ir" / name), cv2.IMREAD_UNCHANGED))
    vis = grey_from_rgb(cv2.cvtColor(cv2.imread(str(folder / "vi" / name)), cv2.COLOR_BGR2RGB))
    fused = np.round((ir + vis) / 2)
    out = evaluate_grey(fused, ir, vis)
    assert 4.0 < out["EN"] < 8.0 and 0.3 < out["VIF"] < 1.2 and 0.2 < out["Qabf"] < 0.8
    assert 55.0 < out["PSNR"] < 80.0  # the +48.13 dB fusion convention
    crop = (slice(160, 320), slice(240, 400))  # the slow literal oracles on a 160x160 crop
    f, a, b = fused[crop], ir[crop], vis[crop]
    ref_vif = spec_ref.vifp_reference(a, f) + spec_ref.vifp_reference(b, f)
    assert evaluate_grey(f, a, b, names=["VIF"])["VIF"] == pytest.approx(ref_vif, rel=1e-10)
