"""IR -> visible registration: the rig file, warping, and calibration from points or checkerboards.

A rig file (JSON or YAML) holds a 3x3 matrix that maps IR pixel coordinates to visible
pixel coordinates (a homography, or an affine map in its top two rows), the resolutions it
was computed at, the clock offset between the cameras, and the reprojection error of the
calibration. A single homography is the standard model for a near-coplanar rig looking at
a distant scene; parallax makes it depth-dependent for close objects (see DEPLOY_NOTES §4).
Calibration uses OpenCV's ``findChessboardCornersSB``/``findHomography``/``estimateAffine2D``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from edgefuse.data.images import read_ir, write_bytes_atomic
from edgefuse.errors import ConfigError, DataError
from edgefuse.stream.frames import warn_once

logger = logging.getLogger(__name__)

MODELS = ("homography", "affine")
RIG_VERSION = 1


@dataclass(frozen=True)
class Rig:
    """An IR/visible camera rig: registration matrix, resolutions and clock offset.

    Attributes:
        matrix: 3x3, IR pixel (x, y, 1) -> visible pixel (homogeneous).
        model: ``homography`` or ``affine``.
        ir_size: (width, height) of the IR frames the matrix was computed for.
        vis_size: (width, height) of the visible frames.
        offset_ms: added to IR timestamps before pairing (``--offset-ms`` overrides it).
        error: reprojection error of the calibration (``rms_px``, ``max_px``, ``points``, ``inliers``).
    """

    matrix: np.ndarray
    model: str = "homography"
    ir_size: tuple[int, int] | None = None
    vis_size: tuple[int, int] | None = None
    offset_ms: float = 0.0
    error: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"version": RIG_VERSION, "model": self.model,
                "matrix": [[float(v) for v in row] for row in self.matrix],
                "ir_size": list(self.ir_size) if self.ir_size else None,
                "vis_size": list(self.vis_size) if self.vis_size else None,
                "offset_ms": float(self.offset_ms), "reprojection_error": dict(self.error), "note": self.note}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the rig as YAML (``.yaml``/``.yml``) or JSON (anything else), atomically."""
        p = Path(path)
        data = self.to_dict()
        text = yaml.safe_dump(data, sort_keys=False) if p.suffix.lower() in (".yaml", ".yml") \
            else json.dumps(data, indent=2) + "\n"
        write_bytes_atomic(p, text.encode())
        return p


def _pair(value: Any, key: str, path: Path) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path}: {key} must be [width, height], got {value!r}") from e
    return w, h


def rig_from_dict(data: dict[str, Any], path: Path = Path("<rig>")) -> Rig:
    """Validate a parsed rig file."""
    known = ("version", "model", "matrix", "ir_size", "vis_size", "offset_ms", "reprojection_error", "note")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
    model = data.get("model", "homography")
    if model not in MODELS:
        raise ConfigError(f"{path}: model {model!r} must be one of {', '.join(MODELS)}")
    try:
        m = np.asarray(data["matrix"], dtype=np.float64)
    except KeyError as e:
        raise ConfigError(f"{path}: no 'matrix' (3x3, IR pixel -> visible pixel)") from e
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path}: matrix is not numeric") from e
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3) or not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-12:
        raise ConfigError(f"{path}: matrix must be a finite, invertible 3x3 (or 2x3 affine); got shape {m.shape}")
    return Rig(m / m[2, 2] if model == "homography" else m, model, _pair(data.get("ir_size"), "ir_size", path),
               _pair(data.get("vis_size"), "vis_size", path), float(data.get("offset_ms", 0.0)),
               dict(data.get("reprojection_error") or {}), str(data.get("note", "")))


def load_rig(path: str | os.PathLike[str]) -> Rig:
    """Read a rig file (JSON or YAML).

    Raises:
        DataError: the file is missing or not JSON/YAML.
        ConfigError: it is not a valid rig.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"rig file not found: {p} (make one with: edgefuse rig calibrate)")
    try:
        data = yaml.safe_load(p.read_text())  # YAML is a superset of JSON
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"cannot parse rig file {p}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p} is not a rig file (expected a mapping with 'matrix')")
    return rig_from_dict(data, p)


class Registrar:
    """Warps IR frames onto the visible frame with a rig (or just resizes them without one)."""

    def __init__(self, rig: Rig | None = None) -> None:
        self.rig = rig
        self._cache: dict[tuple[tuple[int, int], tuple[int, int]], np.ndarray] = {}

    def matrix_for(self, ir_size: tuple[int, int], vis_size: tuple[int, int]) -> np.ndarray:
        """The rig matrix rescaled to the actual frame sizes ((width, height) each)."""
        key = (ir_size, vis_size)
        if key not in self._cache:
            assert self.rig is not None
            m = self.rig.matrix
            r_ir, r_vis = self.rig.ir_size or ir_size, self.rig.vis_size or vis_size
            if (r_ir, r_vis) != (ir_size, vis_size):
                warn_once(f"rig calibrated for IR {r_ir} / visible {r_vis} but frames are IR {ir_size} / "
                          f"visible {vis_size}; scaling the matrix (recalibrate if the lens or crop changed)")
                s_ir = np.diag([r_ir[0] / ir_size[0], r_ir[1] / ir_size[1], 1.0])
                s_vis = np.diag([vis_size[0] / r_vis[0], vis_size[1] / r_vis[1], 1.0])
                m = s_vis @ m @ s_ir
            self._cache[key] = m
        return self._cache[key]

    def apply(self, ir: np.ndarray, vis_hw: tuple[int, int]) -> np.ndarray:
        """IR image (HxW) registered to a visible frame of ``vis_hw`` (height, width)."""
        h, w = vis_hw
        if self.rig is None:
            if ir.shape[:2] == (h, w):
                return ir
            warn_once(f"IR {ir.shape[1]}x{ir.shape[0]} and visible {w}x{h} differ and no --rig was given; "
                      "resizing IR (calibrate with: edgefuse rig calibrate)")
            return cv2.resize(ir, (w, h), interpolation=cv2.INTER_LINEAR)
        m = self.matrix_for((ir.shape[1], ir.shape[0]), (w, h))
        if self.rig.model == "affine":
            return cv2.warpAffine(ir, m[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return cv2.warpPerspective(ir, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


# calibration --------------------------------------------------------------------------------
def project(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map Nx2 points through a 3x3 matrix (homogeneous divide)."""
    h = np.hstack([pts, np.ones((len(pts), 1))]) @ matrix.T
    return h[:, :2] / h[:, 2:3]


def reprojection_error(matrix: np.ndarray, ir_pts: np.ndarray, vis_pts: np.ndarray,
                       inliers: np.ndarray | None = None) -> dict[str, float]:
    """RMS and max distance (visible pixels) between mapped IR points and their visible points."""
    d = np.linalg.norm(project(matrix, ir_pts) - vis_pts, axis=1)
    mask = np.ones(len(d), bool) if inliers is None else inliers.astype(bool)
    di = d[mask]
    return {"rms_px": round(float(np.sqrt(np.mean(di ** 2))), 4), "max_px": round(float(di.max()), 4),
            "points": int(len(d)), "inliers": int(mask.sum()),
            "rms_all_px": round(float(np.sqrt(np.mean(d ** 2))), 4)}


def calibrate_points(ir_pts: np.ndarray, vis_pts: np.ndarray, model: str = "homography", ransac_px: float = 0.0,
                     ir_size: tuple[int, int] | None = None, vis_size: tuple[int, int] | None = None,
                     offset_ms: float = 0.0, note: str = "") -> Rig:
    """Fit a rig to point correspondences (least squares, or RANSAC when ``ransac_px`` > 0).

    Raises:
        ConfigError: unknown model, too few points, or a degenerate configuration.
    """
    if model not in MODELS:
        raise ConfigError(f"model {model!r} must be one of {', '.join(MODELS)}")
    ir_pts, vis_pts = np.asarray(ir_pts, np.float64).reshape(-1, 2), np.asarray(vis_pts, np.float64).reshape(-1, 2)
    need = 4 if model == "homography" else 3
    if len(ir_pts) != len(vis_pts) or len(ir_pts) < need:
        raise ConfigError(f"a {model} needs at least {need} point pairs with both IR and visible points; "
                          f"got {len(ir_pts)} IR and {len(vis_pts)} visible")
    if model == "homography":
        m, mask = cv2.findHomography(ir_pts, vis_pts, cv2.RANSAC if ransac_px > 0 else 0, ransac_px or 3.0)
    elif ransac_px > 0:
        m, mask = cv2.estimateAffine2D(ir_pts, vis_pts, method=cv2.RANSAC, ransacReprojThreshold=ransac_px)
    else:  # plain least squares over all points
        a = np.hstack([ir_pts, np.ones((len(ir_pts), 1))])
        sol, *_ = np.linalg.lstsq(a, vis_pts, rcond=None)
        m, mask = sol.T, None
    if m is None:
        raise ConfigError(f"could not fit a {model} to {len(ir_pts)} points (collinear or duplicated points?)")
    m = np.vstack([m, [0.0, 0.0, 1.0]]) if m.shape == (2, 3) else m / m[2, 2]
    inl = mask.ravel() if mask is not None and ransac_px > 0 else None  # least squares: all points count
    if inl is not None and not inl.any():
        raise ConfigError(f"RANSAC with {ransac_px} px found no consistent {model}; raise --ransac or check the points")
    return Rig(m, model, ir_size, vis_size, offset_ms, reprojection_error(m, ir_pts, vis_pts, inl), note)


def read_points(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Point pairs from a CSV (``ir_x,ir_y,vis_x,vis_y``) or JSON (``{"ir": [[x, y]...], "vis": [...]}``)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"points file not found: {p}")
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text())
            return np.asarray(data["ir"], np.float64), np.asarray(data["vis"], np.float64)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DataError(f"{p}: expected JSON {{\"ir\": [[x, y], ...], \"vis\": [[x, y], ...]}} ({e})") from e
    with p.open(newline="") as f:
        rows = list(csv.DictReader(f))
    cols = ("ir_x", "ir_y", "vis_x", "vis_y")
    try:
        arr = np.array([[float(r[c]) for c in cols] for r in rows], np.float64).reshape(-1, 4)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{p}: expected CSV columns {','.join(cols)} with numbers ({e})") from e
    return arr[:, :2], arr[:, 2:]


def find_board(grey: np.ndarray, board: tuple[int, int]) -> np.ndarray | None:
    """Inner corners (Nx2, row by row) of a ``board`` = (columns, rows) checkerboard, or None.

    The sector-based detector (``findChessboardCornersSB``) is tried first: it is sub-pixel
    accurate on its own and finds boards of either polarity, which matters because a heated
    board often shows inverted contrast in the thermal image. The classic detector with
    ``cornerSubPix`` refinement is the fallback.
    """
    found, corners = cv2.findChessboardCornersSB(grey, board, flags=cv2.CALIB_CB_NORMALIZE_IMAGE)
    if found:
        return corners.reshape(-1, 2).astype(np.float64)
    found, corners = cv2.findChessboardCorners(grey, board, flags=cv2.CALIB_CB_ADAPTIVE_THRESH
                                               | cv2.CALIB_CB_NORMALIZE_IMAGE)
    if not found:
        return None
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 0.01)
    corners = cv2.cornerSubPix(grey, corners.astype(np.float32), (5, 5), (-1, -1), crit)
    return corners.reshape(-1, 2).astype(np.float64)


def _same_order(ir_c: np.ndarray, vis_c: np.ndarray) -> np.ndarray:
    # findChessboardCorners may start from the opposite corner in one view (a 180-degree
    # ambiguity); for two cameras mounted the same way up the first->last corner vectors agree
    if np.dot(ir_c[-1] - ir_c[0], vis_c[-1] - vis_c[0]) < 0:
        return vis_c[::-1].copy()
    return vis_c


def calibrate_checkerboards(ir_images: list[Path], vis_images: list[Path], board: tuple[int, int],
                            model: str = "homography", ransac_px: float = 0.0, offset_ms: float = 0.0) -> Rig:
    """Fit a rig to checkerboard corners seen in IR/visible image pairs (paired by order).

    Raises:
        DataError: different numbers of images, or no pair where both views show the board.
    """
    if board[0] == board[1]:
        raise ConfigError(f"board {board[0]}x{board[1]} is square; use a board with different column and row "
                          "counts (e.g. 9x6) so both cameras order its corners the same way")
    if len(ir_images) != len(vis_images) or not ir_images:
        raise DataError(f"need the same number (>0) of IR and visible board images; got {len(ir_images)} "
                        f"and {len(vis_images)}")
    ir_all, vis_all, used, sizes = [], [], 0, set()
    for ip, vp in zip(ir_images, vis_images):
        ir, vis = read_ir(ip), read_ir(vp)
        sizes.add(((ir.shape[1], ir.shape[0]), (vis.shape[1], vis.shape[0])))
        ci, cv = find_board(ir, board), find_board(vis, board)
        if ci is None or cv is None:
            logger.warning("board %dx%d not found in %s", *board, ip.name if ci is None else vp.name)
            continue
        ir_all.append(ci)
        vis_all.append(_same_order(ci, cv))
        used += 1
    if not used:
        raise DataError(f"the {board[0]}x{board[1]} board (inner corners, columns x rows) was found in no image pair; "
                        "check --board and that the board is visible and sharp in both bands")
    if len(sizes) > 1:
        raise DataError(f"board images have different sizes {sorted(sizes)}; use one resolution per camera")
    (ir_size, vis_size), = sizes
    return calibrate_points(np.vstack(ir_all), np.vstack(vis_all), model, ransac_px, ir_size, vis_size, offset_ms,
                            note=f"checkerboard {board[0]}x{board[1]}, {used}/{len(ir_images)} image pairs used")


__all__ = ["MODELS", "Registrar", "Rig", "calibrate_checkerboards", "calibrate_points", "find_board", "load_rig",
           "project", "read_points", "reprojection_error", "rig_from_dict"]
