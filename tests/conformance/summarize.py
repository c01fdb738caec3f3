"""Pass counts per ONNX backend suite from pytest JUnit XML files, as a Markdown table, then the
excluded cases by reason (tests/conformance/exclusions.py), as docs/CONFORMANCE.md shows them.

    python -m tests.conformance.summarize raw=raw.xml graphc_O0=o0.xml graphc_O2=o2.xml
"""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter

from tests.conformance.exclusions import EXCLUDED

SUITES = {"OnnxBackendNodeModelTest": "node", "OnnxBackendSimpleModelTest": "simple",
          "OnnxBackendPyTorchConvertedModelTest": "pytorch-converted",
          "OnnxBackendPyTorchOperatorModelTest": "pytorch-operator", "OnnxBackendRealModelTest": "real"}


def counts(path: str) -> tuple[Counter, Counter, set]:
    passed, total, passing = Counter(), Counter(), set()
    for case in ET.parse(path).getroot().iter("testcase"):
        suite = SUITES.get(case.get("classname", "").rsplit(".", 1)[-1])
        if suite is None or case.get("name", "").endswith("_cuda"):
            continue
        if case.find("skipped") is not None and "excluded" not in (case.find("skipped").get("message") or ""):
            continue  # CUDA copies and the like
        total[suite] += 1
        if case.find("failure") is None and case.find("error") is None and case.find("skipped") is None:
            passed[suite] += 1
            passing.add(case.get("name"))
    return passed, total, passing


def main(argv) -> int:
    runs = dict(a.split("=", 1) for a in argv)
    results = {name: counts(path) for name, path in runs.items()}
    names = list(results)
    print("| suite | cases | " + " | ".join(f"{n} passed" for n in names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for suite in SUITES.values():
        total = max(r[1][suite] for r in results.values())
        print(f"| {suite} | {total} | " + " | ".join(str(results[n][0][suite]) for n in names) + " |")
    total = max(sum(r[1].values()) for r in results.values())
    print(f"| **all** | {total} | " + " | ".join(f"**{sum(results[n][0].values())}**" for n in names) + " |")
    if "raw" in results:
        for n in names:
            if n != "raw":
                lost = sorted(results["raw"][2] - results[n][2])
                print(f"\nPassed by raw ONNX Runtime but not by {n}: {len(lost)}" + (f" ({', '.join(lost)})" if lost else ""))
    print("\n| reason | cases |\n|---|---:|")
    for reason, n in Counter(EXCLUDED.values()).most_common():
        print(f"| {reason} | {n} |")
    print(f"| **all** | **{len(EXCLUDED)}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
