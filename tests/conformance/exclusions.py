"""Every ONNX backend test graphc does not run, with its reason. Nothing else is skipped."""

EXCLUDED: dict[str, str] = {}


def apply_exclusions(backend_test) -> None:
    for name in EXCLUDED:
        backend_test.exclude(rf"^{name}(_cpu)?$")
