"""A password in the --annotator URL reaches the server and nothing else: cards, YAML, last.pt, logs."""

from __future__ import annotations

import socket

import torch
from click.testing import CliRunner

from edgefuse.cli.main import cli
from tests.helpers import write_pair_dataset

SECRET = "hunter2-s3cret"


def test_annotator_password_is_stored_nowhere(tmp_path, monkeypatch, caplog):
    import edgefuse.text.dataset as text_dataset

    monkeypatch.setattr(text_dataset, "CACHE_DIR", tmp_path / "cache")
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as probe:  # a loopback port that was free a moment ago: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://alice:{SECRET}@127.0.0.1:{port}/v1"
    data = write_pair_dataset(tmp_path / "train", ["a", "b", "c", "d"], h=40, w=48)
    out = tmp_path / "run"
    args = ["train", "--mode", "teacher", "--data", str(data), "--annotator", url, "--vlm-timeout", "2",
            "--iters", "2", "--out", str(out), "--model", "edge_nano", "--batch", "2", "--crop", "32",
            "--val-every", "2", "--ckpt-every", "2", "--val-pairs", "1", "--device", "cpu"]
    with caplog.at_level("DEBUG"):
        res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed" in logs and "alice:***@127.0.0.1" in logs  # the fallback was logged, redacted
    texts = {"output": res.output, "logs": logs}
    for p in [*out.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if p.is_file():
            texts[str(p)] = p.read_bytes().decode("latin-1")
    state = torch.load(out / "last.pt", weights_only=True)
    texts["last.pt config"] = repr(state["config"])
    assert "model.json" in " ".join(texts) and "resolved_config.yaml" in " ".join(texts)
    leaks = [where for where, text in texts.items() if SECRET in text]
    assert leaks == []
    assert "alice:***@" in (out / "model.json").read_text()
    assert "alice:***@" in (out / "resolved_config.yaml").read_text()


def test_card_command_and_state_config_are_redacted(tmp_path):
    from edgefuse.train.config import TrainConfig
    from edgefuse.train.loop import Trainer

    url = f"http://alice:{SECRET}@10.0.0.1:8000/v1"
    data = write_pair_dataset(tmp_path / "train", ["a", "b", "c"], h=40, w=48)
    cfg = TrainConfig(mode="student", data=(str(data),), annotator=url, iters=1, batch=2, crop=32, device="cpu",
                      out=str(tmp_path / "run"))
    trainer = Trainer(cfg, command=f"edgefuse train --annotator {url} --data {data}")
    card, state = trainer.card({}), trainer._state()
    assert SECRET not in repr(card) and "alice:***@10.0.0.1" in card["training"]["command"]
    assert SECRET not in repr(state["config"]) and SECRET not in cfg.to_yaml()
    assert trainer.cfg.annotator == url  # the real value stays in memory for the requests
