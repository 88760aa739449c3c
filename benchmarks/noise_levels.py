"""Noise and stripe levels of clean training images, as the edge students' input stages estimate them.

``EdgeFuseNet(ir_denoise=True)`` (and ``vis_denoise``) shrinks the detail band of the IR (and of each
visible channel) only when its noise estimate over the flat pixels
(:meth:`edgefuse.models.edge.EdgeFuseNet.noise_levels`) is above a start level. This script measures
that estimate on the clean training splits and prints the start levels in ``edgefuse/models/edge.py``:
for the IR the 95th percentile (95 % of the clean training images, and every image with less noise,
pass unchanged), for the visible channels the largest level of any clean training image (their levels
have a long tail, and a grainy clean capture is what full-reference metrics score against). The IR
column-stripe level of ``ir_destripe`` (the mean size of
:meth:`~edgefuse.models.edge.EdgeFuseNet.stripe_profile`) starts at its 95th percentile. It also reports
the share of visible pixels clipped at white (luminance at 254/255 or above) and the share of pixels that
``vis_exposure`` hands to the IR (inside white regions, :meth:`~edgefuse.models.edge.EdgeFuseNet.overexposure`
above 0). With ``--suite DIR`` it
also prints the estimates of a degraded suite per type and severity, to see how far apart the two are.

    python benchmarks/noise_levels.py                         # writes benchmarks/results/noise_levels.md
    python benchmarks/noise_levels.py --data data/medical_split/train --out benchmarks/results/noise_levels_medical.md
    # plus the training-split suites that benchmarks/noise_factor.py builds, and all three IR-noise
    # severities (edgefuse degrade --data ../shared/data/msrs/train --out runs/stripe/msrs_train_suite
    #  --type ir_noise --severity 1,2,3 --seed 5, the same for roadscene/train):
    # and all three low-light severities (edgefuse degrade --data ../shared/data/msrs/train --out
    #  runs/lowlight/msrs_train_suite --type low_light --severity 1,2,3 --seed 5, the same for roadscene/train)
    # and all three over-exposure severities (the same with --type over_exposure, runs/exposure/...):
    python benchmarks/noise_levels.py --suite runs/noise_factor/msrs_train_suite \\
        --suite runs/noise_factor/roadscene_train_suite --suite runs/stripe/msrs_train_suite \\
        --suite runs/stripe/roadscene_train_suite --suite runs/lowlight/msrs_train_suite \\
        --suite runs/lowlight/roadscene_train_suite --suite runs/exposure/msrs_train_suite \\
        --suite runs/exposure/roadscene_train_suite

Test splits are not used: the start levels must not be chosen on the data they are scored on.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import torch

from edgefuse.data.pairs import find_pairs, load_pair
from edgefuse.data.suite import read_manifest
from edgefuse.models.edge import _CLIP_LEVEL, EdgeFuseNet

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TRAIN = [DATA / "msrs" / "train", DATA / "roadscene" / "train"]
CHANNELS = ("IR", "R", "G", "B", "IR stripes", "visible clipped share", "share handed to the IR")


def levels(net: EdgeFuseNet, root: Path) -> dict[str, np.ndarray]:
    """Flat-pixel noise estimate (IR, R, G, B), IR stripe level, clipped and handed-over share of every pair."""
    out = {}
    for pair in find_pairs(root):
        p = load_pair(pair)
        ir = torch.from_numpy(p.ir.astype(np.float32) / 255.0)[None, None]
        vis = torch.from_numpy(p.vis.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            flat, _ = net.noise_levels(torch.cat([ir, vis], dim=1))
            stripes = net.stripe_profile(ir).abs().mean()
            y = net._luminance(vis)
            clipped = (y >= _CLIP_LEVEL).float().mean()
            handed = (net.overexposure(y) > 0).float().mean()
        out[pair.name] = np.append(flat.flatten().numpy(), [stripes.numpy(), clipped.numpy(), handed.numpy()])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", default=[],
                    help="clean training folders (repeatable; default msrs/train and roadscene/train)")
    ap.add_argument("--suite", action="append", default=[], help="a degraded suite folder (repeatable)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "noise_levels.md"))
    args = ap.parse_args()
    net = EdgeFuseNet(ir_denoise=True, vis_denoise=True, ir_destripe=True, vis_exposure=True).eval()
    train = [Path(d) for d in args.data] or TRAIN
    if any(p.name == "test" for p in train):
        raise SystemExit("noise_levels.py: pass training splits; start levels must not come from a test split")
    rows = []
    for root in train:
        rows += list(levels(net, root).values())
    clean = np.array(rows)
    ir95 = float(np.percentile(clean[:, 0], 95))
    vis_max = float(clean[:, 1:4].max())
    stripe95 = float(np.percentile(clean[:, 4], 95))
    clip_max, hand_max = float(clean[:, 5].max()), float(clean[:, 6].max())
    lines = [
        "# Noise (flat pixels), IR stripe and visible clipping estimates of clean training images",
        "",
        "Noise and stripes in grey levels / 255; the clipped share is the share of visible pixels whose BT.601 "
        "luminance is at 254/255 or above; the share handed to the IR is that of the pixels where `vis_exposure` "
        "acts (more than half of the 31x31 window around them clipped).",
        "",
        f"`python benchmarks/noise_levels.py{''.join(' ' + a for a in sys.argv[1:])}` ({date.today().isoformat()}); "
        f"{len(clean)} clean pairs of {', '.join(r.parent.name + '/' + r.name for r in train)}.",
        "",
        "| channel | median | 95th percentile | max |",
        "|---|---:|---:|---:|",
    ]
    for i, name in enumerate(CHANNELS):
        c = clean[:, i]
        lines.append(f"| {name} | {np.median(c):.4f} | {np.percentile(c, 95):.4f} | {c.max():.4f} |")
    lines += ["", f"Start levels: IR {ir95:.4f} (95th percentile), visible channels {vis_max:.4f} (the largest of any "
              f"clean image, pooled over R, G, B), IR stripes {stripe95:.4f} (95th percentile); full strength at "
              f"twice that. Visible clipped share: at most {clip_max:.4f} of any clean image; `vis_exposure` hands at most "
              f"{hand_max:.4f} of a clean image to the IR."]
    for suite in args.suite:
        manifest = read_manifest(Path(suite))
        est = levels(net, Path(suite))
        groups: dict[tuple[str, int], list[np.ndarray]] = defaultdict(list)
        for entry in manifest["pairs"]:
            groups[(entry["type"], int(entry["severity"]))].append(est[entry["name"]])
        shown = os.path.relpath(Path(suite).resolve(), ROOT)
        lines += ["", f"Suite `{shown}`: 5th percentile per type and severity (IR, the largest visible channel, IR stripes), "
                  f"median clipped share and median share handed to the IR",
                  "", "| type | severity | IR p5 | visible p5 | IR stripes p5 | clipped p50 | handed to the IR p50 |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for (typ, sev), vals in sorted(groups.items()):
            a = np.array(vals)
            ir5, vis5 = np.percentile(a[:, 0], 5), np.percentile(a[:, 1:4].max(axis=1), 5)
            st5 = np.percentile(a[:, 4], 5)
            clip50, hand50 = np.median(a[:, 5]), np.median(a[:, 6])
            lines.append(f"| {typ} | {sev} | {ir5:.4f} | {vis5:.4f} | {st5:.4f} | {clip50:.4f} | {hand50:.4f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text, end="")
    print(f"wrote {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
