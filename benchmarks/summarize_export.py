"""Parity of exported artefacts (from their sidecars) as one markdown table.

Usage: python benchmarks/summarize_export.py export/out/edge_nano_ivf export/out/dtpf_student_cpu ...
       [--out benchmarks/results/export_parity.md]

Each folder is the ``--out`` of one ``edgefuse export`` run; the command that made it is recorded
in its ``resolved_config.yaml`` and copied into the table's notes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


NOTES = "<!-- notes: kept when this file is regenerated -->"


def rows(folder: Path) -> list[str]:
    out = []
    for sidecar in sorted(folder.glob("*.onnx.json")):
        doc = json.loads(sidecar.read_text())
        par = doc.get("parity") or {}
        for data, r in (par.get("by_data") or {"all": par}).items():
            shapes = doc.get("shapes", {})
            size = "x".join(map(str, shapes.get("static", shapes.get("opt", []))))
            kept = (doc.get("int8") or {}).get("kept_fp32_nodes") or (doc.get("fp16") or {}).get("kept_fp32_ops") or []
            out.append(
                f"| {doc['model']['name']} | {doc['precision']} | {size} | {Path(data).parent.name}/{Path(data).name} "
                f"| {r['pairs']} | {r['max_abs_err']:.2e} | {r['psnr_db']:.1f} (min {r['psnr_db_min']:.1f}) "
                f"| {r['ssim']:.4f} | {r['delta_VIF']:+.4f} | {r['delta_Qabf']:+.4f} | {len(kept)} "
                f"| {'pass' if par.get('passed') else 'FAIL'} ({par.get('gate', '')}) |"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/export_parity.md"))
    args = ap.parse_args()
    lines = ["# Export parity against PyTorch FP32 (ONNX Runtime, CPU)", "",
             "From the sidecars of each `edgefuse export` run (commands below). PSNR and SSIM are of the 8-bit fused "
             "image against the PyTorch FP32 one (100 dB = identical); ΔVIF/ΔQabf = artefact − PyTorch on the same "
             "pairs; 'kept' = FP16: op types kept in FP32, INT8: layers kept in FP32 by the PSNR search.", "",
             "| model | precision | size | data | pairs | max abs err | PSNR dB | SSIM | ΔVIF | ΔQabf | kept | gate |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    notes = []
    for folder in args.folders:
        lines += rows(folder)
        cfg = folder / "resolved_config.yaml"
        if cfg.is_file():
            notes += [f"`{folder}` (resolved config):", "", "```yaml", cfg.read_text().strip(), "```", ""]
    kept = ""  # hand-written notes below the marker survive a rerun
    if args.out.is_file() and NOTES in args.out.read_text():
        kept = args.out.read_text().split(NOTES, 1)[1].split("## Resolved configs", 1)[0]
    args.out.write_text("\n".join(lines + ["", NOTES]) + (kept or "\n") + "\n".join(["## Resolved configs", "", *notes]) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
