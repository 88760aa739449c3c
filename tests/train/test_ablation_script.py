"""benchmarks/ablation.py: the arms' training commands and the interval arithmetic of its report."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ablation.py"


@pytest.fixture(scope="module")
def ablation():
    spec = importlib.util.spec_from_file_location("ablation_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arms_differ_only_in_what_they_ablate(ablation, tmp_path):
    args = argparse.Namespace(out=str(tmp_path), iters=800, batch=8, crop=96)
    cmds = {arm: ablation.train_command(arm, 2, args) for arm in ablation.ARMS}
    prior = cmds["student_distilled_prior"]
    assert prior[prior.index("--prior-share") + 1] == str(ablation.PRIOR_SHARE)
    assert prior[prior.index("--teacher") + 1] == str(tmp_path / "teacher_text_s2" / "model.safetensors")
    # the same command as the calibrated arm but for the prior term and the output folder
    calibrated = cmds["student_distilled"]
    strip = {"--prior-share", str(ablation.PRIOR_SHARE)}
    assert [a for a in prior if a not in strip][:-1] == calibrated[:-1]
    assert cmds["student_distilled_dtpf"][cmds["student_distilled_dtpf"].index("--recipe") + 1] == "dtpf"
    assert "--prior-share" not in calibrated and "--prior-share" not in cmds["student_plain"]
    # the own-prior arms: edge_nano_sp instead of edge_nano, otherwise the plain and the prior arm's commands
    sp_plain, sp_kd = cmds["student_plain_sp"], cmds["student_distilled_sp"]
    assert sp_plain[sp_plain.index("--model") + 1] == sp_kd[sp_kd.index("--model") + 1] == "edge_nano_sp"
    swap = {"edge_nano_sp": "edge_nano"}
    assert [swap.get(a, a) for a in sp_plain][:-1] == cmds["student_plain"][:-1]
    assert [swap.get(a, a) for a in sp_kd][:-1] == prior[:-1]
    maps = cmds["student_distilled_sp_maps"]  # the own-prior distilled arm plus the map term, nothing else
    assert maps[maps.index("--map-share") + 1] == str(ablation.MAP_SHARE)
    assert [a for a in maps if a not in {"--map-share", str(ablation.MAP_SHARE)}][:-1] == sp_kd[:-1]
    assert not any("--map-share" in c for arm, c in cmds.items() if "_maps" not in arm)
    # the arms with the input stages: their counterparts' commands plus the stages config (and their own teacher)
    config = str(tmp_path / "stages.yaml")
    for staged, base in (("teacher_text_st", "teacher_text"), ("student_plain_sp_st", "student_plain_sp"),
                         ("student_distilled_sp_maps_st", "student_distilled_sp_maps")):
        cmd = cmds[staged]
        assert cmd[cmd.index("--config") + 1] == config
        rest = [a for a in cmd if a not in {"--config", config}]
        rest = [a.replace("teacher_text_st_s2", "teacher_text_s2") for a in rest]
        assert rest[:-1] == cmds[base][:-1]
    assert "model_config: {ir_black_level: true, ir_denoise: true, ir_destripe: true, vis_denoise: true}" in \
        (tmp_path / "stages.yaml").read_text()
    assert not any("--config" in c for arm, c in cmds.items() if arm not in ablation.STAGED)
    for cmd in cmds.values():  # every arm: the same iterations, batch, crop, seed and degradations
        for flag, value in (("--iters", "800"), ("--batch", "8"), ("--crop", "96"), ("--seed", "2"),
                            ("--degrade", "all")):
            assert cmd[cmd.index(flag) + 1] == value


def test_interval_is_the_t_interval_of_the_seed_values(ablation):
    mean, std, half = ablation._interval([0.1, 0.2, 0.3])
    assert mean == pytest.approx(0.2) and std == pytest.approx(0.1)
    assert half == pytest.approx(4.303 * 0.1 / 3 ** 0.5)
    mean, std, half = ablation._interval([0.1, 0.2, 0.3, 0.4, 0.5])
    assert half == pytest.approx(2.776 * std / 5 ** 0.5)


def test_unknown_arm_is_one_line_error():
    r = subprocess.run([sys.executable, str(SCRIPT), "--arms", "student_plian", "--stage", "report"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "unknown arm student_plian" in r.stderr


def test_shipped_cards_get_the_readmes_paths_not_this_machines(tmp_path):
    spec = importlib.util.spec_from_file_location("ship_ablation_script", SCRIPT.with_name("ship_ablation.py"))
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    runs = tmp_path / "runs"
    data = (ship.ROOT.parent / "shared" / "data").resolve()
    training = {"command": f"edgefuse distill --teacher {runs.resolve()}/teacher_text_s1/model.safetensors "
                           f"--data={data}/msrs/train --out {runs.resolve()}/student_distilled_s1",
                "data": [f"{data}/msrs/train"], "iterations": 800}
    out = ship.portable(training, runs)
    assert out["command"] == ("edgefuse distill --teacher runs/ablation/teacher_text_s1/model.safetensors "
                              "--data=../shared/data/msrs/train --out runs/ablation/student_distilled_s1")
    assert out["data"] == ["../shared/data/msrs/train"] and out["iterations"] == 800
