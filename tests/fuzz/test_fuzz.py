"""Fuzz test of the four model formats (see `fuzz_files.py`): every mutated file either loads or
raises a GraphcError naming the file; nothing outside the model's folder reaches the weights;
memory (RLIMIT_AS) and time per case (a watchdog) are bounded in the child process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("GRAPHC_FUZZ_EXAMPLES", "600"))


def test_fuzzed_model_files(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz.fuzz_files", str(tmp_path), str(EXAMPLES)],
                          cwd=ROOT, capture_output=True, text=True)
    # a hang ends the child through faulthandler, memory exhaustion through RLIMIT_AS: either way
    # no JSON line comes back, and stderr says which case it was in
    assert proc.returncode == 0, f"fuzzer child died (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"fuzz: {report['cases']} cases, formats {report['formats']}, outcomes {report['outcomes']}")
    assert report["cases"] == EXAMPLES
    assert set(report["formats"]) == {"keras", "h5", "json", "onnx"}
    assert report["failures"] == [], json.dumps(report["failures"], indent=1)
    # the mutations must reach both sides: files that still load and files that are refused
    assert report["outcomes"].get("loaded+compiled", 0) > 0
    assert sum(v for k, v in report["outcomes"].items() if k.startswith("refused:")) > EXAMPLES // 2
