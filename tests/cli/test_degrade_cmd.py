"""`edgefuse degrade` and `edgefuse eval --reference` from the command line, bad input included."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edgefuse.cli.main import cli
from tests.helpers import write_pair_dataset


def test_degrade_then_eval_against_the_clean_sources(tmp_path):
    clean = write_pair_dataset(tmp_path / "clean", ["a", "b"], h=48, w=64)
    suite = tmp_path / "suite"
    r = CliRunner().invoke(cli, ["degrade", "--data", str(clean), "--out", str(suite),
                                 "--type", "ir_noise,low_light", "--severity", "2", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "wrote 4 degraded pairs" in r.output
    out = tmp_path / "e.json"
    r = CliRunner().invoke(cli, ["eval", "--data", str(suite), "--reference", str(clean), "-m", "max", "-m", "average",
                                 "--metrics", "VIF,Qabf", "--json", str(out), "--csv", str(tmp_path / "e.csv")])
    assert r.exit_code == 0, r.output
    assert "per degradation type" in r.output and "ir_noise" in r.output and "mean over types" in r.output
    doc = json.loads(out.read_text())
    assert set(doc["per_type"]) == {"ir_noise", "low_light"} and set(doc["per_type"]["ir_noise"]) == {"max", "average"}
    header = (tmp_path / "e.csv").read_text().splitlines()[0]
    assert header == "method,image,type,severity,VIF,Qabf"
    # scoring against the clean sources differs from scoring against the degraded inputs
    plain = CliRunner().invoke(cli, ["eval", "--data", str(suite), "-m", "max", "--metrics", "VIF",
                                     "--json", str(tmp_path / "p.json")])
    assert plain.exit_code == 0 and "per degradation type" not in plain.output
    assert json.loads((tmp_path / "p.json").read_text())["mean"]["max"]["VIF"] != doc["mean"]["max"]["VIF"]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    clean = write_pair_dataset(tmp_path / "clean", ["a", "b"], h=48, w=64)
    for args, message in ((["--type", "fog"], "unknown degradation type 'fog'"),
                          (["--severity", "9"], "severity 9 is not one of 1, 2, 3")):
        r = CliRunner().invoke(cli, ["degrade", "--data", str(clean), "--out", str(tmp_path / "x"), *args])
        assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1
        assert not (tmp_path / "x").exists()
    suite = tmp_path / "suite"
    assert CliRunner().invoke(cli, ["degrade", "--data", str(clean), "--out", str(suite), "--type", "ir_noise",
                                    "--severity", "1"]).exit_code == 0
    other = write_pair_dataset(tmp_path / "other", ["a", "z"], h=48, w=64)
    smaller = write_pair_dataset(tmp_path / "smaller", ["a", "b"], h=40, w=64)
    for ref, message in ((other, "does not hold the clean pairs"), (smaller, "does not match degraded pair")):
        out = tmp_path / f"{ref.name}.json"
        r = CliRunner().invoke(cli, ["eval", "--data", str(suite), "--reference", str(ref), "-m", "max",
                                     "--json", str(out)])
        assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1
        assert not out.exists()
