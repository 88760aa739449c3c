"""``edgefuse fuse``: fuse one pair or folders of pairs."""

from __future__ import annotations

import os
from pathlib import Path

import click

from edgefuse.cli.progress import progress
from edgefuse.data.images import read_ir, read_vis, write_image
from edgefuse.data.pairs import Pair, check_pairs, find_pairs, load_pair, pairs_from_folders
from edgefuse.errors import ConfigError, DataError
from edgefuse.files import refuse_inputs
from edgefuse.fusion import DEFAULT_METHOD, check_method, create_fuser, method_names
from edgefuse.resources import SAMPLE_SETS, sample_dir


def _fuse_one(method: str, vis: Path, ir: Path, out: Path, device: str | None, random_weights: bool = False) -> None:
    if out.exists() and out.is_dir():
        raise ConfigError(f"-o {out} is a folder; give an image file name such as {out / 'fused.png'}")
    refuse_inputs(out, (vis, ir))  # before anything is read or written
    pair = Pair(vis.stem, ir, vis)
    loaded = load_pair(pair)
    fuser = create_fuser(method, device, random_weights=random_weights)
    _say_model(method, random_weights)
    fused = fuser(loaded.vis, loaded.ir)
    write_image(out, fused, inputs=(vis, ir))
    click.echo(f"wrote {out} ({fused.shape[1]}x{fused.shape[0]}, method {method})")


def _say_model(method: str, random_weights: bool) -> None:
    """What -m resolved to (the line every command prints for a model spec), once it loaded."""
    art = check_method(method, random_weights)
    if art is not None:
        click.echo(art.summary(), err=True)


def _fuse_folder(method: str, pairs: list[Pair], out: Path, ext: str, device: str | None,
                 random_weights: bool = False) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out} is a file; folders of pairs need an output folder")
    _refuse_input_folders(out, pairs)
    check_pairs(pairs)  # every input decodes and matches in size before anything is written
    fuser = create_fuser(method, device, random_weights=random_weights)  # the fastest path (ONNX Runtime for weights on the CPU)
    _say_model(method, random_weights)
    with progress(len(pairs), f"fuse ({method})") as bar:
        for pair in pairs:
            loaded = load_pair(pair)
            write_image(out / f"{pair.name}{ext}", fuser(loaded.vis, loaded.ir), inputs=(pair.vis, pair.ir))
            bar.update()
    click.echo(f"wrote {len(pairs)} fused images to {out}/ (method {method})")


def _refuse_input_folders(out: Path, pairs: list[Pair]) -> None:
    """Refuse an output folder that is one of the input folders, before anything is written."""
    folders = {p.parent for pair in pairs for p in (pair.vis, pair.ir)}
    if out.is_dir():
        for folder in folders:
            if os.path.samefile(out, folder):
                raise ConfigError(f"-o {out} is the input folder {folder}: fused images would replace or mix "
                                  "with the source images; choose another output folder")
    # another folder cannot hold an input file under an output name, except by a hard link: each write checks its pair


@click.command("fuse")
@click.option("--vis", type=click.Path(path_type=Path), help="Visible (or CT/PET) image, or a folder of them.")
@click.option("--ir", type=click.Path(path_type=Path), help="IR (or MRI) image, or a folder of them.")
@click.option("--data", type=click.Path(path_type=Path), help="Dataset folder with ir/ + vi/ (or mri/ + other/).")
@click.option("--sample", type=click.Choice(SAMPLE_SETS),
              help="Fuse a sample set bundled with the package instead of --data: ivf (IR/visible) or medical "
                   "(MRI/PET); `edgefuse list` shows where they are installed.")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output image, or folder for many.")
@click.option("--method", "-m", default=DEFAULT_METHOD, show_default=True,
              help=f"Fusion method, shipped model, .safetensors checkpoint, .onnx file or TensorRT .plan: "
              f"{', '.join(method_names())}.")
@click.option("--device", default=None,
              help="Backend device: cpu/cuda (torch), cpu/cuda/tensorrt (ONNX Runtime EP), cuda (TensorRT).")
@click.option("--ext", default=".png", show_default=True, help="Suffix of images written to an output folder.")
@click.option("--random-weights", is_flag=True, help="Let -m be an architecture name (seeded random weights: for "
              "trying the toolchain; the images mean nothing).")
def fuse(vis: Path | None, ir: Path | None, data: Path | None, sample: str | None, out: Path, method: str,
         device: str | None, ext: str, random_weights: bool) -> None:
    """Fuse an IR/visible pair, two folders of pairs, a dataset folder or a bundled sample set.

    \b
    edgefuse fuse --sample ivf -o out/fused          # the bundled IR/visible pairs
    edgefuse fuse --data DATA/test -o out/fused      # a folder with ir/ + vi/
    edgefuse fuse --vis v.png --ir i.png -o f.png    # one pair
    """
    check_method(method, random_weights)  # unknown names fail before any reading
    ext = ext if ext.startswith(".") else "." + ext
    if sample is not None:
        if data is not None or vis is not None or ir is not None:
            raise ConfigError("use either --sample NAME, --data DIR or --vis/--ir, not several")
        with sample_dir(sample) as folder:
            _fuse_folder(method, find_pairs(folder), out, ext, device, random_weights)
        return
    if data is not None:
        if vis is not None or ir is not None:
            raise ConfigError("use either --data DIR or --vis/--ir, not both")
        _fuse_folder(method, find_pairs(data), out, ext, device, random_weights)
        return
    if vis is None or ir is None:
        raise ConfigError("give --vis and --ir (files or folders), --data DIR or --sample ivf")
    if vis.is_dir() != ir.is_dir():
        raise ConfigError(f"--vis {vis} and --ir {ir} must both be files or both be folders")
    if vis.is_dir():
        _fuse_folder(method, pairs_from_folders(ir, vis), out, ext, device, random_weights)
    else:
        for p in (vis, ir):
            if not p.exists():
                raise DataError(f"image not found: {p}")
        _fuse_one(method, vis, ir, out, device, random_weights)


__all__ = ["fuse", "read_ir", "read_vis"]
