"""The rooms of docs/DESIGN.md, checked on the import graph of every module.

Every module under graphc/, runtime/ and importers/ is parsed with `ast` (imports inside
functions included, relative imports resolved) into an import graph, which must satisfy:

- `importers -> graphc <- runtime`: the compiler core imports neither the importers, nor the
  runtime, nor the facade; the importers never import the runtime, nor the runtime the importers;
- only the facade (the package's own `graphc/__init__.py` and `graphc.api`) reaches the
  importers and the runtime; the `graphc.cli` package works through `graphc.api` alone; nothing
  else imports the facade;
- no cycles among modules.

The checker runs on a synthetic tree too, so that the test is seen to fail when a rule breaks.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
# folder -> the package it installs as (pyproject.toml's package-dir)
FOLDERS = {"graphc": "graphc", "runtime": "graphc.runtime", "importers": "graphc.importers"}
FACADE = ("graphc", "graphc.api")


def module_files(root: Path, folders=None) -> dict[str, Path]:
    """{module name: file} for every .py file under the folders (a package by its __init__.py)."""
    out = {}
    for folder, package in (folders or FOLDERS).items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if package == "graphc" and parts and parts[0] in ("runtime", "importers"):
                continue  # those names belong to the other folders
            out[".".join([package, *parts])] = path
    return out


def room(module: str) -> str:
    if module in FACADE:
        return "facade"
    for name in ("runtime", "importers", "cli"):
        if module == f"graphc.{name}" or module.startswith(f"graphc.{name}."):
            return name
    return "core"


def _imported(node: ast.AST, module: str, is_package: bool, known) -> list[str]:
    """The known modules one import statement names (a name that is no module: its package)."""
    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    if isinstance(node, ast.Import):
        return [m for m in (resolve(a.name) for a in node.names) if m]
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module
    out = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        out.append(full if full in known else resolve(base))
    return [m for m in out if m]


def import_graph(files: dict[str, Path], root: Path) -> nx.DiGraph:
    """module -> module it imports (anywhere in the file), each edge labelled file:line."""
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(node, module, path.name == "__init__.py", files):
                    if target != module:
                        g.add_edge(module, target, line=f"{path.relative_to(root)}:{node.lineno}")
    return g


def violations(g: nx.DiGraph) -> list[str]:
    """Every import that breaks the rooms, and every cycle, one line each."""
    allowed = {"core": {"core"}, "importers": {"core", "importers"}, "runtime": {"core", "runtime"},
               "cli": {"core", "facade", "cli"}, "facade": {"core", "importers", "runtime", "facade", "cli"}}
    out = []
    for a, b, data in sorted(g.edges(data=True)):
        ra, rb = room(a), room(b)
        if rb not in allowed[ra]:
            out.append(f"{data['line']}: {ra} module {a} imports {rb} module {b}")
    for scc in nx.strongly_connected_components(g):
        if len(scc) > 1:
            cycle = nx.find_cycle(g.subgraph(scc))
            out.append("import cycle: " + " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
                       + " (" + ", ".join(g.edges[u, v]["line"] for u, v in cycle) + ")")
    return out


def test_the_repository_keeps_its_rooms_and_has_no_import_cycles():
    files = module_files(ROOT)
    assert {"graphc.api", "graphc.ir", "graphc.runtime.ort", "graphc.importers.onnx"} <= set(files)
    g = import_graph(files, ROOT)
    assert g.number_of_edges() > 100  # the scan sees the imports (inside functions too)
    assert g.has_edge("graphc.api", "graphc.importers.onnx")
    assert violations(g) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_reports_a_broken_room_and_a_cycle(tmp_path):
    _write(tmp_path, {
        "graphc/__init__.py": "def __getattr__(name):\n    from graphc import api\n    return api\n",
        "graphc/api.py": "def load():\n    from graphc.importers import reader\n",
        "graphc/ir.py": "from . import passes\n",
        "graphc/passes/__init__.py": "def run():\n    from ..ir import Graph\n",  # cycle ir <-> passes
        "graphc/model.py": "def compile():\n    import graphc.runtime.ort\n",  # core reaches runtime
        "runtime/__init__.py": "",
        "runtime/ort.py": "from graphc.ir import Graph\n",
        "runtime/serve.py": "from graphc import load\n",  # runtime -> facade
        "importers/__init__.py": "",
        "importers/reader.py": "from graphc.runtime import ort\n",  # importers -> runtime
        "graphc/cli/__init__.py": "from graphc import api\nfrom . import run\n",
        "graphc/cli/run.py": "def main():\n    from graphc.runtime.ort import Session\n",  # cli past the facade
    })
    files = module_files(tmp_path)
    assert "graphc.passes" in files and "graphc.runtime.ort" in files
    found = violations(import_graph(files, tmp_path))
    assert any("core module graphc.model imports runtime module graphc.runtime.ort" in v for v in found), found
    assert any("runtime module graphc.runtime.serve imports facade module graphc" in v for v in found), found
    assert any("importers module graphc.importers.reader imports runtime module graphc.runtime.ort" in v
               for v in found), found
    cycles = [v for v in found if v.startswith("import cycle")]
    assert len(cycles) == 1 and "graphc.ir" in cycles[0] and "graphc.passes" in cycles[0], found
    assert any("cli module graphc.cli.run imports runtime module graphc.runtime.ort" in v for v in found), found
    assert any(v.startswith("graphc/model.py:2: ") for v in found), found  # file and line named
    assert len(found) == 5, found
