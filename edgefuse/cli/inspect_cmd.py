"""``edgefuse inspect``: I/O, ops, precision per layer and TensorRT support of an ONNX file or engine."""

from __future__ import annotations

import json
from typing import Any

import click

from edgefuse.errors import EXIT_FAILURE


def _echo_onnx(r: dict[str, Any], layers: bool) -> None:
    click.echo(f"{r['file']}: ONNX opset {r['opset']}, {sum(r['ops'].values())} nodes")
    for kind in ("inputs", "outputs"):
        for t in r[kind]:
            click.echo(f"  {kind[:-1]:<6} {t['name']:<8} {t['dtype']:<8} {t['shape']}")
    click.echo("  precision: " + ", ".join(f"{k} {v}" for k, v in r["precision"].items()))
    click.echo("  ops: " + ", ".join(f"{op} {n}" for op, n in r["ops"].items()))
    for op, counts in r["precision_by_op"].items():
        click.echo(f"    {op:<20} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if layers:
        for n in r["nodes"]:
            click.echo(f"    {n['precision']:<12} {n['op']:<20} {n['name']}")
    src = r["support_list"]
    if r["unsupported"]:
        for op, nodes in r["unsupported"].items():
            click.echo(f"  UNSUPPORTED by TensorRT {src['tensorrt']}: {op} ({len(nodes)}: {', '.join(nodes[:3])})")
    else:
        click.echo(f"  TensorRT {src['tensorrt']} ONNX parser: no unsupported ops (list: {src['source']})")
    for issue in r["restriction_issues"]:
        click.echo(f"  RESTRICTION: {issue}")


def _echo_engine(r: dict[str, Any], layers: bool) -> None:
    sc = r.get("sidecar") or {}
    built = f" built with TensorRT {sc.get('tensorrt')} for {(sc.get('gpu') or {}).get('name')}, {sc.get('precision')}"
    click.echo(f"{r['file']}: TensorRT plan" + (built if sc else ""))
    if sc:
        shapes = sc.get("profiles") or sc.get("static_shapes")
        click.echo(f"  flags: {', '.join(sc.get('flags', [])) or 'none'}; profiles: {shapes}")
    if r.get("note"):
        click.echo(f"  {r['note']}")
    for t in r.get("io", []):
        click.echo(f"  {t['mode'].lower():<6} {t['name']:<8} {t['dtype']:<8} {t['shape']}")
    counts: dict[str, int] = {}
    for layer in r.get("layers", []):
        key = ",".join(str(d) for d in layer.get("outputs") or ["?"])
        counts[key] = counts.get(key, 0) + 1
        if layers:
            click.echo(f"    {key:<24} {layer.get('type') or '':<16} {layer.get('name')}")
    if counts:
        click.echo("  layer output types: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@click.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--layers", is_flag=True, help="List every node/layer with its precision.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def inspect_cmd(file: str, layers: bool, as_json: bool) -> None:
    """Inputs, outputs, op histogram, precision per layer, and ops TensorRT cannot parse."""
    from edgefuse.engines import inspect_file

    report = inspect_file(file)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif report["kind"] == "onnx":
        _echo_onnx(report, layers)
    else:
        _echo_engine(report, layers)
    if report["kind"] == "onnx" and (report["unsupported"] or report["restriction_issues"]):
        click.get_current_context().exit(EXIT_FAILURE)
