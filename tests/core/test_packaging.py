"""The three top-level folders install as one `graphc` namespace (see DESIGN.md)."""
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    missing = found - listed
    assert not missing, f"package folders missing from pyproject.toml's packages: {sorted(missing)}"


def test_compiler_core_does_not_import_importers_or_runtime_eagerly():
    """What the import graph allows (tests/core/test_architecture.py), seen at run time: even the
    facade and the CLI load the importers and the runtime only when a command needs them."""
    import subprocess
    import sys

    code = ("import sys, graphc, graphc.ir, graphc.ops, graphc.lower.onnx, graphc.nn, graphc.passes, "
            "graphc.model, graphc.backends, graphc.api, graphc.cli; "
            "bad = [m for m in sys.modules if m.startswith(('graphc.runtime', 'graphc.importers'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_console_script_and_python_m_reach_the_cli_package():
    import subprocess
    import sys

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"graphc": "graphc.cli:main"}
    r = subprocess.run([sys.executable, "-m", "graphc.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for command in ("inspect", "run", "convert", "compile", "info", "bench"):
        assert command in r.stdout
