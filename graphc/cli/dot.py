"""Graphviz DOT text for a `Graph`, so a user can look at it before and after optimization."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from graphc.ir import Graph

_COLORS = {"Input": "#cfe8ff", "Constant": "#eeeeee", "Variable": "#fff2c2", "Transpose": "#ffd6d6"}


def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph, *, show_constants: bool = False) -> str:
    lines = [f"digraph {_q(graph.name)} {{", "  rankdir=TB;", '  node [shape=box, style="rounded,filled", '
             'fillcolor="#ffffff", fontname="Helvetica", fontsize=10];']
    hidden = set()
    for n in graph.topo_order():
        d = graph.data(n)
        if d["op"] in ("Constant", "Variable") and not show_constants:
            hidden.add(n)
            continue
        op = d["op"] if d["domain"] == "" else f"{d['domain']}.{d['op']}"
        label = f"{op}\\n{n}" if op != n else op
        types = ", ".join(str(t) for t in d["outputs"])
        lines.append(f"  {_q(n)} [label={_q(label + chr(92) + 'n' + types)}, "
                     f"fillcolor={_q(_COLORS.get(d['op'], '#ffffff'))}];")
    for u, v, e in graph.nx.edges(data=True):
        if u not in hidden:
            lines.append(f"  {_q(u)} -> {_q(v)};")
    for name, (node, _) in graph.outputs:
        lines.append(f"  {_q('out:' + name)} [label={_q(name)}, shape=ellipse, fillcolor=\"#d6f5d6\"];")
        lines.append(f"  {_q(node)} -> {_q('out:' + name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(graph: Graph, path) -> str:
    """Write DOT to `path`, and `path` with the suffix .svg when Graphviz's `dot` program is on
    PATH; returns one line saying which files were written (and why there is no SVG)."""
    path = Path(path)
    path.write_text(to_dot(graph))
    dot = shutil.which("dot")
    if not dot:
        return f"{path} (no SVG: Graphviz's `dot` is not on PATH; install graphviz for one)"
    svg = path.with_suffix(".svg")
    try:
        r = subprocess.run([dot, "-Tsvg", str(path), "-o", str(svg)], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return f"{path} (no SVG: `dot` took over 120 s)"
    if r.returncode != 0 or not svg.exists():
        return f"{path} (no SVG: `dot` failed: {(r.stderr.strip().splitlines() or ['no message'])[-1][:120]})"
    return f"{path}, {svg}"
