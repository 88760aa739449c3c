"""The built wheel, installed into a fresh virtual environment, works without the source tree.

The wheel is built from a copy of the package sources (so no ``build/`` folder is left in the
repository), installed with ``--no-deps`` into a venv under the test's temporary folder, and given
the running interpreter's already-installed dependencies through a ``.pth`` file of plain path
lines: such lines do not run that folder's own ``.pth`` files, so the repository's editable install
stays inactive. Every command runs from a working directory outside the repository, without
``PYTHONPATH``, through the installed ``edgefuse`` console script.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "edgefuse")


@dataclass
class Installed:
    """A fresh venv holding the wheel, and a working directory outside the repository."""

    python: Path
    edgefuse: Path
    site: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.edgefuse), *args], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout)


def _dependency_paths() -> list[str]:
    """The running interpreter's package folders (site-packages, dist-packages), never the source tree itself."""
    paths = []
    for entry in sys.path:
        p = Path(entry or ".").resolve()
        if p.name in ("site-packages", "dist-packages") and p.is_dir() and not (p / "edgefuse").exists():
            paths.append(str(p))
    return list(dict.fromkeys(paths))


def _build_wheel(work: Path) -> Path:
    for name in ("setuptools", "pip"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed, so the wheel cannot be built offline")
    import pip

    if tuple(int(x) for x in pip.__version__.split(".")[:2]) < (22, 3):
        pytest.skip(f"pip {pip.__version__} cannot install into another environment (--python needs pip >= 22.3)")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    dist = work / "dist"
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "--disable-pip-version-check", "-q", "-w", str(dist), str(src)],
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0 and "No module named" in res.stderr:  # e.g. setuptools without its wheel support
        pytest.skip(f"the wheel cannot be built here: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = dist.glob("edgefuse-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    assert REPO not in work.resolve().parents
    wheel = _build_wheel(work)
    root = work / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    bindir = root / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    # install before the dependencies are visible, so pip sees an empty environment
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                          "--disable-pip-version-check", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())
    (site / "_edgefuse_test_deps.pth").write_text("".join(p + "\n" for p in _dependency_paths()))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PYTHONNOUSERSITE="1", EDGEFUSE_CACHE_DIR=str(work / "cache"), OMP_NUM_THREADS="2")
    cwd = work / "cwd"
    cwd.mkdir()
    return Installed(python, bindir / "edgefuse", site, cwd, env)


def test_the_wheel_is_what_runs(installed):
    code = ("import json, sys, edgefuse; from importlib.resources import files; print(json.dumps(["
            "edgefuse.__file__, str(files('edgefuse')), sys.path, [f.__module__ for f in sys.meta_path]]))")
    res = subprocess.run([str(installed.python), "-c", code], cwd=installed.cwd, env=installed.env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    module, package, path, finders = json.loads(res.stdout)
    assert Path(module).resolve().is_relative_to(installed.site.resolve())
    assert Path(package).resolve() == (installed.site / "edgefuse").resolve()
    # neither the source tree on the path nor the repository's editable install (an import hook) active
    others = [Path(p or installed.cwd).resolve() for p in path if Path(p or installed.cwd).resolve() != installed.site]
    assert REPO not in others and not any((p / "edgefuse").exists() for p in others), path
    assert not any("editable" in f.lower() for f in finders), finders
    shipped = installed.site / "edgefuse"
    for rel in ("assets/recipes/jetson_orin_fp16.yaml", "assets/recipes/desktop_int8.yaml",
                "assets/recipes/README.md", "assets/samples/ivf/vi/00004N.png", "assets/samples/medical/mri/11.png",
                "assets/models/edge_nano_ivf.safetensors", "assets/models/edge_nano_ivf.json", "stream/viewer.html"):
        assert (shipped / rel).is_file(), rel


def test_fuse_and_eval_the_bundled_samples(installed):
    res = installed.run("fuse", "--sample", "ivf", "-o", "fused")
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(p.name for p in (installed.cwd / "fused").iterdir()) == ["00004N.png", "FLIR_00211.png"]
    res = installed.run("eval", "--sample", "ivf", "--fused", "student=fused", "-m", "max", "--json", "eval.json")
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads((installed.cwd / "eval.json").read_text())
    assert set(doc["mean"]) == {"student", "max"} and doc["mean"]["student"]["VIF"] > 0
    assert str(installed.site / "edgefuse" / "assets" / "samples" / "ivf") in res.stdout
    res = installed.run("list", "--no-flops")
    assert res.returncode == 0 and str(installed.site / "edgefuse" / "assets" / "samples" / "medical") in res.stdout


@pytest.mark.ort
def test_export_recipe_and_bench(installed):
    res = installed.run("export", "--recipe", "jetson_orin_fp16", "--height", "64", "--width", "64",
                        "--out", "exp", "--threads", "1")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    out = installed.cwd / "exp"
    for name in ("edge_nano_ivf.onnx", "edge_nano_ivf_fp16.onnx", "edge_nano_ivf_fp16.onnx.json",
                 "resolved_config.yaml"):
        assert (out / name).is_file(), name
    sidecar = json.loads((out / "edge_nano_ivf_fp16.onnx.json").read_text())
    assert sidecar["parity"]["passed"]  # on the bundled samples of the installed package
    assert list(sidecar["parity"]["by_data"]) == [str(installed.site / "edgefuse" / "assets" / "samples" / "ivf")]
    assert "timing_cache: engines/jetson_orin.timing.cache" in (out / "resolved_config.yaml").read_text()
    res = installed.run("bench", "--onnx", "exp/edge_nano_ivf_fp16.onnx", "--iters", "3", "--warmup", "2",
                        "--threads", "1", "--json", "bench.json")
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads((installed.cwd / "bench.json").read_text())
    assert doc["iters"] == 3 and doc["height"] == 64 and doc["latency_ms"]["p50"] > 0


def test_package_code_names_no_folder_outside_the_package():
    # model cards (assets/models/*.json) are records of the commands that trained them, and stay verbatim
    hits = [str(p.relative_to(REPO)) for ext in ("py", "yaml", "html") for p in (REPO / "edgefuse").rglob(f"*.{ext}")
            if "../shared" in p.read_text(encoding="utf-8")]
    assert not hits, f"these package files name ../shared (the repository's data folder): {hits}"
