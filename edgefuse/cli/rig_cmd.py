"""``edgefuse rig calibrate``: the IR -> visible rig file from point pairs or checkerboard images."""

from __future__ import annotations

import glob
from pathlib import Path

import click

from edgefuse.errors import ConfigError, DataError


def _size(text: str | None, flag: str) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as e:
        raise ConfigError(f"{flag} {text!r} must be WIDTHxHEIGHT, e.g. 640x480") from e
    return w, h


def _images(spec: str, flag: str) -> list[Path]:
    from edgefuse.data.images import IMAGE_SUFFIXES

    p = Path(spec)
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() \
        else sorted(Path(f) for f in glob.glob(spec))
    if not files:
        raise DataError(f"{flag} {spec}: no images (give a folder or a glob such as 'boards/ir_*.png')")
    return files


@click.group("rig")
def rig_group() -> None:
    """IR/visible camera rig: registration and clock offset."""


@rig_group.command("calibrate")
@click.option("--points", type=click.Path(dir_okay=False), help="Point pairs: CSV ir_x,ir_y,vis_x,vis_y or JSON "
              '{"ir": [[x, y], ...], "vis": [...]}.')
@click.option("--ir-images", help="Folder (or glob) of IR checkerboard images.")
@click.option("--vis-images", help="Folder (or glob) of visible checkerboard images, same order as --ir-images.")
@click.option("--board", default="9x6", show_default=True, help="Checkerboard inner corners, COLUMNSxROWS.")
@click.option("--model", type=click.Choice(["homography", "affine"]), default="homography", show_default=True)
@click.option("--ransac", "ransac_px", type=float, default=0.0, show_default=True,
              help="RANSAC inlier threshold in pixels (0 = least squares over all points).")
@click.option("--offset-ms", type=float, default=0.0, show_default=True,
              help="Clock offset stored in the rig (added to IR timestamps).")
@click.option("--ir-size", help="IR resolution WIDTHxHEIGHT (points mode; images give it themselves).")
@click.option("--vis-size", help="Visible resolution WIDTHxHEIGHT (points mode).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Rig file (.yaml or .json).")
def calibrate_cmd(points: str | None, ir_images: str | None, vis_images: str | None, board: str, model: str,
                  ransac_px: float, offset_ms: float, ir_size: str | None, vis_size: str | None, out: str) -> None:
    """Compute the IR -> visible homography (or affine map) and report the reprojection error."""
    from edgefuse.stream.registration import calibrate_checkerboards, calibrate_points, read_points

    if (points is None) == (ir_images is None and vis_images is None):
        raise ConfigError("give either --points FILE or --ir-images and --vis-images (checkerboards)")
    if points is not None:
        ir_pts, vis_pts = read_points(points)
        rig = calibrate_points(ir_pts, vis_pts, model, ransac_px, _size(ir_size, "--ir-size"),
                               _size(vis_size, "--vis-size"), offset_ms, note=f"points from {Path(points).name}")
    else:
        if ir_images is None or vis_images is None:
            raise ConfigError("checkerboard calibration needs both --ir-images and --vis-images")
        cols_rows = _size(board, "--board") or (9, 6)
        rig = calibrate_checkerboards(_images(ir_images, "--ir-images"), _images(vis_images, "--vis-images"),
                                      cols_rows, model, ransac_px, offset_ms)
    rig.save(out)
    e = rig.error
    click.echo(f"wrote {out}: {model}, reprojection error rms {e['rms_px']:.3f} px, max {e['max_px']:.3f} px "
               f"({e['inliers']}/{e['points']} points as inliers){'; ' + rig.note if rig.note else ''}")
