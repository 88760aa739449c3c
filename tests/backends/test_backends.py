"""The backend contract: torch and ONNX Runtime give the same image; bad input is refused clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgefuse.runtime import open_backend
from edgefuse.errors import (
    BackendUnavailableError,
    ConfigError,
    DataError,
    ShapeMismatchError,
    UnknownNameError,
)
from edgefuse.fusion import DEFAULT_MODEL, shipped_models

SAMPLES = Path(__file__).resolve().parents[2] / "edgefuse" / "assets" / "samples" / "ivf"


def _pair(h: int = 48, w: int = 64, n: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 3, h, w), dtype=np.float32), rng.random((n, 1, h, w), dtype=np.float32)


@pytest.fixture(scope="module")
def static_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped default student exported at 48x64 (static)."""
    pytest.importorskip("onnxruntime")
    from edgefuse.export.onnx import export_onnx
    from edgefuse.models.checkpoint import load_checkpoint

    model, _ = load_checkpoint(shipped_models()[DEFAULT_MODEL])
    path = tmp_path_factory.mktemp("onnx") / "nano.onnx"
    return export_onnx(model.eval(), path, 48, 64, None, 17)


@pytest.fixture(scope="module")
def dynamic_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxruntime")
    from edgefuse.export.onnx import export_onnx
    from edgefuse.models.checkpoint import load_checkpoint

    model, _ = load_checkpoint(shipped_models()[DEFAULT_MODEL])
    path = tmp_path_factory.mktemp("onnx") / "nano_dyn.onnx"
    return export_onnx(model.eval(), path, 48, 64, ((32, 32), (48, 64), (96, 128)), 17)


def test_default_backend_is_the_shipped_student_in_torch() -> None:
    with open_backend() as be:
        assert be.name == "torch" and be.label == DEFAULT_MODEL
        vis, ir = _pair()
        out = be.infer(vis, ir)
        assert out.shape == (1, 3, 48, 64) and out.dtype == np.float32
        assert be.last_latency_ms is not None and be.last_latency_ms > 0
        assert set(be.last_stages_ms) == {"pre", "compute", "post"}


def test_torch_and_onnxruntime_give_the_same_image(static_onnx: Path) -> None:
    vis, ir = _pair(seed=3)
    with open_backend(model=DEFAULT_MODEL) as t, open_backend(onnx=static_onnx, threads=1) as o:
        a, b = t.infer(vis, ir), o.infer(vis, ir)
        assert o.name == "onnxruntime" and o.precision == "fp32" and o.static_hw == (48, 64)
    assert np.abs(a - b).max() <= 1e-4


def test_real_pair_through_both_backends_fuse_u8(static_onnx: Path) -> None:
    """A real bundled pair goes through fuse_u8 on both backends; a smaller frame is padded and cropped."""
    from edgefuse.data.pairs import find_pairs, load_pair

    pair = load_pair(find_pairs(SAMPLES)[0])
    vis, ir = pair.vis[100:148, 200:264], pair.ir[100:148, 200:264]  # exactly the static 48x64
    with open_backend(model=DEFAULT_MODEL) as t, open_backend(onnx=static_onnx) as o:
        a, b = t.fuse_u8(vis, ir), o.fuse_u8(vis, ir)
        assert a.shape == b.shape == (48, 64, 3) and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
        small_t, small_o = t.fuse_u8(vis[:40, :60], ir[:40, :60]), o.fuse_u8(vis[:40, :60], ir[:40, :60])
    # torch runs 40x60 as is, ONNX Runtime pads to 48x64 (reflect): only the context near the border differs
    assert small_o.shape == (40, 60, 3)
    assert np.abs(small_t.astype(int) - small_o.astype(int)).mean() < 2.0


def test_dynamic_onnx_takes_several_sizes(dynamic_onnx: Path) -> None:
    with open_backend(onnx=dynamic_onnx) as o, open_backend(model=DEFAULT_MODEL) as t:
        assert o.static_hw is None
        for h, w in ((32, 32), (72, 100), (96, 128)):
            vis, ir = _pair(h, w)
            assert np.abs(o.infer(vis, ir) - t.infer(vis, ir)).max() <= 1e-4


def test_static_onnx_refuses_a_wrong_size(static_onnx: Path) -> None:
    with open_backend(onnx=static_onnx) as o:
        with pytest.raises(ShapeMismatchError, match="48x64 \\(static shape\\); got 32x32"):
            o.infer(*_pair(32, 32))
        with pytest.raises(ShapeMismatchError, match="larger than the static shape"):
            o.fuse_u8(np.zeros((60, 64, 3), np.uint8), np.zeros((60, 64), np.uint8))


def test_bad_inputs_are_refused() -> None:
    be = open_backend(model=DEFAULT_MODEL)
    vis, ir = _pair()
    with pytest.raises(ShapeMismatchError, match="vis must be"):
        be.infer(vis[:, :1], ir)
    with pytest.raises(ShapeMismatchError, match="differ"):
        be.infer(vis, _pair(32, 64)[1])
    with pytest.raises(ShapeMismatchError, match="same size"):
        be.fuse_u8(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9), np.uint8))
    be.close()


def test_missing_and_corrupt_artefacts(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    with pytest.raises(DataError, match="not found"):
        open_backend(onnx=tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf")
    with pytest.raises(DataError, match="not a loadable ONNX model"):
        open_backend(onnx=bad)
    with pytest.raises(DataError, match="engine not found"):
        open_backend(engine=tmp_path / "none.plan")


def test_backend_selection_errors(static_onnx: Path) -> None:
    with pytest.raises(UnknownNameError, match="unknown backend 'onnxruntim'"):
        open_backend(onnx=static_onnx, backend="onnxruntim")
    with pytest.raises(ConfigError, match="one of"):
        open_backend(onnx=static_onnx, model=DEFAULT_MODEL)
    with pytest.raises(ConfigError, match="cannot run"):
        open_backend(onnx=static_onnx, backend="torch")
    assert open_backend(model=str(static_onnx)).name == "onnxruntime"  # routed by suffix
    with pytest.raises(ConfigError, match="--channels-last do not apply to the onnxruntime backend"):
        open_backend(onnx=static_onnx, channels_last=True)
    with pytest.raises(ConfigError, match="--spin do not apply to the torch backend"):
        open_backend(model=DEFAULT_MODEL, spin=False)


def test_device_and_precision_errors(static_onnx: Path) -> None:
    with pytest.raises(ConfigError, match="fp16 in the torch backend needs"):
        open_backend(model=DEFAULT_MODEL, precision="fp16")
    with pytest.raises(ConfigError, match="precision"):
        open_backend(model=DEFAULT_MODEL, precision="int4")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="no CUDA GPU"):
            open_backend(model=DEFAULT_MODEL, device="cuda")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(BackendUnavailableError, match="CUDAExecutionProvider is not in this onnxruntime"):
            open_backend(onnx=static_onnx, device="cuda").open()


def test_architecture_name_needs_random_weights_and_then_warns(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match="architecture, not trained weights.*edge_nano_ivf.*--random-weights"):
        open_backend(model="edge_nano")
    with caplog.at_level("WARNING"), open_backend(model="edge_nano", random_weights=True) as be:
        assert be.checkpoint is None
        be.infer(*_pair(16, 16))
    assert "random weights" in caplog.text
    with pytest.raises(UnknownNameError):
        open_backend(model="edge_nanoo").open()


def test_describe_lists_io_and_versions(static_onnx: Path) -> None:
    with open_backend(onnx=static_onnx) as o:
        d = o.describe()
    assert d["backend"] == "onnxruntime" and d["precision"] == "fp32"
    assert d["inputs"][0] == {"name": "vis", "shape": [1, 3, 48, 64], "dtype": "float32"}
    assert "onnxruntime" in d["versions"]


def test_fuse_command_runs_an_onnx_file(tmp_path: Path) -> None:
    """`edgefuse fuse -m student.onnx` on a real 640x480 pair matches the torch default model."""
    pytest.importorskip("onnxruntime")
    from click.testing import CliRunner

    from edgefuse.cli.main import cli
    from edgefuse.data.images import read_rgb
    from edgefuse.data.pairs import find_pairs
    from edgefuse.export.onnx import export_onnx
    from edgefuse.models.checkpoint import load_checkpoint

    pair = find_pairs(SAMPLES)[0]
    model, _ = load_checkpoint(shipped_models()[DEFAULT_MODEL])
    h, w = read_rgb(pair.vis).shape[:2]
    onnx_path = export_onnx(model.eval(), tmp_path / "s.onnx", h, w, None, 17)
    runner = CliRunner()
    for method, name in ((str(onnx_path), "ort.png"), (DEFAULT_MODEL, "torch.png")):
        res = runner.invoke(cli, ["fuse", "--vis", str(pair.vis), "--ir", str(pair.ir), "-m", method,
                                  "-o", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
    a, b = read_rgb(tmp_path / "ort.png"), read_rgb(tmp_path / "torch.png")
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    res = runner.invoke(cli, ["fuse", "--vis", str(pair.vis), "--ir", str(pair.ir), "-m", str(tmp_path / "no.onnx"),
                              "-o", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "ONNX file not found" in res.output
    assert not (tmp_path / "x.png").exists()


def test_ort_input_specs_do_not_open_a_session(static_onnx: Path) -> None:
    be = open_backend(onnx=static_onnx)
    specs = be.input_specs
    assert be.session is None and not be._opened  # reading the I/O is no side effect
    assert [s.name for s in specs] == ["vis", "ir"] and be.static_hw == (48, 64)
    with be:
        assert [s.to_dict() for s in be.input_specs] == [s.to_dict() for s in specs]
