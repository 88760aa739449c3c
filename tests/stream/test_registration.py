"""Registration: rig files, warping IR onto the visible frame, calibration from points and checkerboards."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from edgefuse.errors import ConfigError, DataError
from edgefuse.stream.registration import (
    Registrar, Rig, calibrate_checkerboards, calibrate_points, load_rig, project, rig_from_dict,
)

# IR (320x256) -> visible (640x480): scale ~2, a small rotation, shift and perspective
H_TRUE = np.array([[1.95, 0.06, 12.0], [-0.05, 1.9, 8.0], [1e-5, 2e-5, 1.0]])


def random_points(n, seed=0):
    return np.random.default_rng(seed).uniform([10, 10], [310, 246], (n, 2))


def test_points_recover_known_homography():
    ir = random_points(30)
    rig = calibrate_points(ir, project(H_TRUE, ir), ir_size=(320, 256), vis_size=(640, 480), offset_ms=-12)
    assert np.allclose(rig.matrix, H_TRUE, atol=1e-6)
    assert rig.error["rms_px"] < 1e-6 and rig.error["inliers"] == 30 and rig.offset_ms == -12


def test_affine_least_squares_and_ransac_against_outliers():
    a = np.array([[1.5, 0.1, 5.0], [-0.1, 1.5, -3.0], [0, 0, 1]])
    ir = random_points(40, seed=1)
    vis = project(a, ir)
    rig = calibrate_points(ir, vis, model="affine")
    assert np.allclose(rig.matrix, a, atol=1e-9) and rig.error["max_px"] < 1e-6
    noisy = vis.copy()
    noisy[:6] += 80.0  # six wrong correspondences
    plain = calibrate_points(ir, noisy)
    robust = calibrate_points(ir, noisy, ransac_px=2.0)
    assert plain.error["rms_px"] > 5
    assert robust.error["inliers"] == 34 and robust.error["rms_px"] < 1e-3 and robust.error["rms_all_px"] > 20


def test_too_few_points():
    with pytest.raises(ConfigError, match="at least 4"):
        calibrate_points(random_points(3), random_points(3))


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_rig_round_trip(tmp_path, suffix):
    rig = Rig(H_TRUE, "homography", (320, 256), (640, 480), 15.5, {"rms_px": 0.2}, "bench")
    back = load_rig(rig.save(tmp_path / f"rig{suffix}"))
    assert np.allclose(back.matrix, H_TRUE) and back.ir_size == (320, 256) and back.offset_ms == 15.5
    assert back.error == {"rms_px": 0.2} and back.note == "bench"


def test_bad_rig_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_rig(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match="unknown key"):
        rig_from_dict({"matrix": np.eye(3).tolist(), "homgraphy": 1})
    with pytest.raises(ConfigError, match="invertible"):
        rig_from_dict({"matrix": np.zeros((3, 3)).tolist()})
    assert np.allclose(rig_from_dict({"matrix": [[1, 0, 2], [0, 1, 3]], "model": "affine"}).matrix[:, 2], [2, 3, 1])


def test_registrar_warps_ir_onto_visible_and_rescales():
    ir = np.zeros((256, 320), np.uint8)
    cv2.circle(ir, (100, 80), 3, 255, -1)
    reg = Registrar(Rig(H_TRUE, ir_size=(320, 256), vis_size=(640, 480)))
    out = reg.apply(ir, (480, 640))
    ys, xs = np.nonzero(out > 128)
    assert out.shape == (480, 640)
    assert np.allclose([xs.mean(), ys.mean()], project(H_TRUE, np.array([[100.0, 80.0]]))[0], atol=1.0)
    half = reg.apply(cv2.resize(ir, (160, 128), interpolation=cv2.INTER_AREA), (240, 320))  # both at half size
    ys, xs = np.nonzero(half > 60)
    assert np.allclose([xs.mean(), ys.mean()], project(H_TRUE, np.array([[100.0, 80.0]]))[0] / 2, atol=1.0)
    assert Registrar(None).apply(ir, (480, 640)).shape == (480, 640)  # no rig: resized


def board_image(view: np.ndarray, size=(640, 480), squares=(10, 7), px=40) -> np.ndarray:
    """A white-bordered checkerboard (``squares`` columns x rows) seen through ``view``."""
    cols, rows = squares
    flat = np.full(((rows + 2) * px, (cols + 2) * px), 255, np.uint8)
    for r in range(rows):
        for c in range(cols):
            if (r + c) % 2 == 0:
                flat[(r + 1) * px:(r + 2) * px, (c + 1) * px:(c + 2) * px] = 0
    return cv2.warpPerspective(flat, view, size, flags=cv2.INTER_AREA, borderValue=255)


def test_checkerboard_calibration_recovers_homography(tmp_path):
    ir_paths, vis_paths = [], []
    views = [np.array([[1.0, 0.05, 60], [-0.04, 1.0, 50], [0, 0, 1]]),
             np.array([[0.9, -0.1, 110], [0.08, 0.95, 70], [1e-4, 0, 1]])]
    for k, view in enumerate(views):
        vis = board_image(view)
        ir = cv2.warpPerspective(vis, np.linalg.inv(H_TRUE), (320, 256), flags=cv2.INTER_AREA, borderValue=255)
        ir = 255 - ir  # a heated board: inverted polarity in the thermal band
        for name, img, paths in (("ir", ir, ir_paths), ("vis", vis, vis_paths)):
            paths.append(tmp_path / f"{name}_{k}.png")
            cv2.imwrite(str(paths[-1]), img)
    rig = calibrate_checkerboards(ir_paths, vis_paths, (9, 6))
    assert rig.ir_size == (320, 256) and rig.vis_size == (640, 480)
    assert rig.error["points"] == 2 * 54 and rig.error["rms_px"] < 0.5
    grid = random_points(20, seed=5)
    assert np.abs(project(rig.matrix, grid) - project(H_TRUE, grid)).max() < 1.5
    with pytest.raises(DataError, match="found in no image pair"):
        calibrate_checkerboards(ir_paths[:1], vis_paths[:1], (7, 5))
    with pytest.raises(ConfigError, match="square"):
        calibrate_checkerboards(ir_paths, vis_paths, (6, 6))
    # the same through the CLI, from folders
    (tmp_path / "i").mkdir(), (tmp_path / "v").mkdir()
    for p in ir_paths:
        p.rename(tmp_path / "i" / p.name)
    for p in vis_paths:
        p.rename(tmp_path / "v" / p.name)
    res = CliRunner().invoke(cli, ["rig", "calibrate", "--ir-images", str(tmp_path / "i"), "--vis-images",
                                   str(tmp_path / "v"), "--board", "9x6", "-o", str(tmp_path / "rig.json")])
    assert res.exit_code == 0, res.output
    assert "reprojection error rms" in res.output and json.loads((tmp_path / "rig.json").read_text())["model"]


def test_cli_calibrate_from_points(tmp_path):
    ir = random_points(12, seed=2)
    vis = project(H_TRUE, ir)
    rows = "".join(f"{a:.6f},{b:.6f},{c:.6f},{d:.6f}\n" for (a, b), (c, d) in zip(ir, vis))
    (tmp_path / "pts.csv").write_text("ir_x,ir_y,vis_x,vis_y\n" + rows)
    out = tmp_path / "rig.yaml"
    res = CliRunner().invoke(cli, ["rig", "calibrate", "--points", str(tmp_path / "pts.csv"), "--offset-ms", "8",
                                   "--ir-size", "320x256", "--vis-size", "640x480", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rig = load_rig(out)
    assert rig.offset_ms == 8 and rig.error["rms_px"] < 1e-3 and np.allclose(rig.matrix, H_TRUE, atol=1e-4)
    bad = CliRunner().invoke(cli, ["rig", "calibrate", "-o", str(out)])
    assert bad.exit_code == 2 and "--points" in bad.output
