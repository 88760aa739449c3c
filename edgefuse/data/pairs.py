"""Finding IR/visible (or MRI/other) pairs on disk and loading them with checks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgefuse.data.images import IMAGE_SUFFIXES, read_ir, read_vis
from edgefuse.errors import DataError

# (grey-role folder, colour-role folder). Medical pairs: MRI takes the IR role and
# CT/PET/SPECT the visible role, as in DTPF (PAPER_SPEC 1.2) and the Harvard MRI/PET/SPECT releases.
LAYOUTS = (
    ("ir", "vi"),
    ("ir", "vis"),
    ("infrared", "visible"),
    ("mri", "other"),
)
_MAX_LISTED = 5


@dataclass(frozen=True)
class Pair:
    """One IR (grey role) and visible (colour role) file with a shared name."""

    name: str
    ir: Path
    vis: Path


@dataclass(frozen=True)
class LoadedPair:
    """Decoded pair: ``ir`` HxW uint8, ``vis`` HxWx3 uint8 RGB."""

    name: str
    ir: np.ndarray
    vis: np.ndarray


def _require_dir(path: Path, role: str) -> None:
    try:
        path.stat()
    except FileNotFoundError:
        raise DataError(f"{role} folder not found: {path}") from None
    except OSError as e:  # a symlink loop (ELOOP), no permission on a parent
        raise DataError(f"{role} folder {path} cannot be opened: {e.strerror}") from None
    if not path.exists():
        raise DataError(f"{role} folder not found: {path}")
    if not path.is_dir():
        raise DataError(f"{role} must be a folder, but {path} is a file")


def _images_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for entry in _entries(folder):
        if entry.name.startswith(".") or entry.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if entry.stem in found:
            raise DataError(
                f"two images with the name {entry.stem!r} in {folder}: {found[entry.stem].name} and "
                f"{entry.name}; keep one so the pairing is unambiguous"
            )
        found[entry.stem] = entry
    if not found:
        raise DataError(f"no images in {folder} (looked for {', '.join(IMAGE_SUFFIXES)})")
    return found


def _entries(folder: Path) -> list[Path]:
    """The sorted entries of ``folder``; a listing failure (no permission, I/O error) is a DataError."""
    try:
        return sorted(folder.iterdir())
    except OSError as e:
        raise DataError(f"cannot list {folder}: {e.strerror}") from None


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def pairs_from_folders(ir_dir: str | os.PathLike[str], vis_dir: str | os.PathLike[str]) -> list[Pair]:
    """Pair the images of two folders by file name (without suffix).

    Raises:
        DataError: a folder is missing, is a file, holds no images, or an image has no
            partner in the other folder (the unmatched names are listed).
    """
    ir_p, vis_p = Path(ir_dir), Path(vis_dir)
    _require_dir(ir_p, "IR")
    _require_dir(vis_p, "visible")
    ir_files, vis_files = _images_by_stem(ir_p), _images_by_stem(vis_p)
    only_ir = sorted(set(ir_files) - set(vis_files))
    only_vis = sorted(set(vis_files) - set(ir_files))
    if only_ir or only_vis:
        parts = []
        if only_ir:
            parts.append(f"no visible partner in {vis_p} for {_listing(only_ir)}")
        if only_vis:
            parts.append(f"no IR partner in {ir_p} for {_listing(only_vis)}")
        raise DataError("; ".join(parts) + ". Add the missing files or remove the unpaired ones.")
    return [Pair(s, ir_files[s], vis_files[s]) for s in sorted(ir_files)]


def find_layout(root: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Return the (IR, visible) sub-folders of a dataset folder such as ``msrs/test``."""
    root_p = Path(root)
    _require_dir(root_p, "data")
    for ir_name, vis_name in LAYOUTS:
        if (root_p / ir_name).is_dir() and (root_p / vis_name).is_dir():
            return root_p / ir_name, root_p / vis_name
    layouts = ", ".join(f"{a}/ + {b}/" for a, b in LAYOUTS)
    subdirs = sorted(p.name + "/" for p in _entries(root_p) if p.is_dir())
    raise DataError(
        f"{root_p} has no IR/visible sub-folders (expected one of: {layouts}; "
        f"found: {', '.join(subdirs) or 'no sub-folders'})"
    )


def find_pairs(root: str | os.PathLike[str]) -> list[Pair]:
    """All pairs of a dataset folder with ``ir/`` + ``vi/`` (or ``mri/`` + ``other/``)."""
    return pairs_from_folders(*find_layout(root))


def load_pair(pair: Pair, sixteen_bit: str = "scale") -> LoadedPair:
    """Decode a pair; raise ``DataError`` naming both files if their sizes differ."""
    ir = read_ir(pair.ir, sixteen_bit)
    vis = read_vis(pair.vis, sixteen_bit)
    if ir.shape[:2] != vis.shape[:2]:
        raise DataError(
            f"pair {pair.name!r} has different sizes: {pair.ir} is {ir.shape[1]}x{ir.shape[0]}, "
            f"{pair.vis} is {vis.shape[1]}x{vis.shape[0]} (WxH); register or resize them to one size"
        )
    return LoadedPair(pair.name, ir, vis)


def resize_pair(vis: np.ndarray, ir: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resize both images to ``size`` (H, W); area filter down, linear up (a copy at the same size)."""
    h, w = size
    interp = cv2.INTER_AREA if h * w < ir.shape[0] * ir.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(vis, (w, h), interpolation=interp), cv2.resize(ir, (w, h), interpolation=interp)


def load_spread(root: str | os.PathLike[str], count: int, size: tuple[int, int]) -> list[LoadedPair]:
    """Up to ``count`` pairs spread evenly over the dataset folder ``root``, each resized to ``size`` (H, W).

    The one way pairs are picked and sized for a comparison: the export parity and
    ``edgefuse bench --data`` read the same pixels from the same folder and count.

    Raises:
        DataError: no ``ir/`` + ``vi/`` layout, no images, or an unreadable pair.
    """
    found = find_pairs(root)
    picks = sorted({int(round(i)) for i in np.linspace(0, len(found) - 1, min(count, len(found)))}) if found else []
    out = []
    for i in picks:
        p = load_pair(found[i])
        vis, ir = resize_pair(p.vis, p.ir, size)
        out.append(LoadedPair(p.name, ir, vis))
    return out


def check_pairs(pairs: list[Pair], sixteen_bit: str = "scale") -> None:
    """Decode every pair once so that bad input fails before any output is written."""
    for pair in pairs:
        load_pair(pair, sixteen_bit)
