"""One artefact, one set of pairs, one number: sidecar parity, ``bench --data`` and the INT8 search agree.

The shipped student (``edge_nano_ivf``) is exported at 32x48 to FP16 and INT8 with the bundled
samples as parity pairs; ``bench --data`` on the same samples must report the PSNR/SSIM written in
each sidecar, and the INT8 search's score of the chosen graph must be that graph's parity PSNR.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import SAMPLES
from tests.export.conftest import H, W, requires_fp16

pytestmark = [pytest.mark.ort, requires_fp16]


@pytest.fixture(scope="module")
def shipped_int8(tmp_path_factory, calib_dir):
    """``edge_nano_ivf`` exported to FP32, FP16, INT8 and INT8-FP16 with a search that keeps one node FP32."""
    from edgefuse.export import ExportConfig, run_export

    out = tmp_path_factory.mktemp("one_number")
    cfg = ExportConfig(model="edge_nano_ivf", height=H, width=W, precision="int8", calib=str(calib_dir),
                       calib_samples=8, psnr_target=99.0, max_fp32_nodes=1, out=str(out), threads=1)
    report = run_export(cfg)
    sidecars = {p: json.loads(path.read_text()) for p, path in report.sidecars.items()}
    return report, sidecars


def _bench_accuracy(path):
    from edgefuse.bench import BenchConfig, run_bench

    res = run_bench(BenchConfig(onnx=str(path), data=str(SAMPLES / "ivf"), accuracy_pairs=8, iters=1, warmup=0, threads=1))
    return res["accuracy"]


@pytest.mark.parametrize("precision", ["fp16", "int8", "int8_fp16"])
def test_sidecar_parity_is_bench_accuracy(shipped_int8, precision):
    report, sidecars = shipped_int8
    parity = sidecars[precision]["parity"]
    acc = _bench_accuracy(report.artefacts[precision])
    assert acc["available"] and acc["pairs"] == parity["pairs"] == 2
    assert "edge_nano_ivf.safetensors" in acc["reference"]
    # bench prints PSNR with 2 decimals and SSIM with 4; both JSONs hold the full floats: all must agree
    assert acc["psnr_db_mean"] == parity["psnr_db"]
    assert acc["psnr_db_min"] == parity["psnr_db_min"]
    assert acc["ssim_mean"] == parity["ssim"]
    assert f"{acc['psnr_db_mean']:.2f}" == f"{parity['psnr_db']:.2f}"


def test_int8_search_score_is_sidecar_parity(shipped_int8):
    report, sidecars = shipped_int8
    search = sidecars["int8_fp16"]["int8"]
    assert search["scored_graph"] == report.artefacts["int8_fp16"].name
    assert search["kept_fp32_nodes"] and search["search"][-1]["fp32_nodes"] == len(search["kept_fp32_nodes"])
    chosen = search["search"][-1]["psnr_db"]  # the search log rounds to 0.01 dB
    assert chosen == round(sidecars["int8_fp16"]["parity"]["psnr_db"], 2)
    # the FP32-elsewhere graph's score is written unrounded: it is that artefact's parity PSNR exactly
    assert search["psnr_db_fp32_elsewhere"] == sidecars["int8"]["parity"]["psnr_db"]
    assert np.isfinite(chosen) and chosen < 99.0 and search["target_met"] is False


def test_sidecars_record_the_cards_constructor_options(shipped_int8):
    """The default's card turns on the black-level clamp, IR denoising and destriping, visible denoising; sidecars say so."""
    import onnx

    report, sidecars = shipped_int8
    for precision, doc in sidecars.items():
        assert doc["model"]["config"] == {"ir_black_level": True, "ir_denoise": True, "ir_destripe": True,
                                          "vis_denoise": True}, precision
    ops = {n.op_type for n in onnx.load(str(report.artefacts["fp32"])).graph.node}
    assert {"ReduceMin", "ReduceMax", "Less"} <= ops
