"""The package's layering holds: the import-linter contracts of pyproject.toml, and no package-level cycle."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "edgefuse"


def _package_graph() -> dict[str, set[str]]:
    """edgefuse sub-package -> the sub-packages it imports (module level and inside functions)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(REPO).with_suffix("").parts
        own = parts[1] if len(parts) > 1 else ""
        for node in ast.walk(ast.parse(f.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name.startswith("edgefuse."):
                    target = name.split(".")[1]
                    if target != own:
                        graph[own].add(target)
    return graph


def test_no_package_level_import_cycle():
    graph = _package_graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path[path.index(nxt):] + [nxt])}")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).is_file():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    res = subprocess.run([exe], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout
