"""RNN, GRU and LSTM against ONNX's inference and ONNX Runtime."""
import pytest

from graphc.errors import ShapeError
from tests.ops import Case, T, cases, check, graphc_types

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
OUTPUTS = {"RNN": 2, "GRU": 2, "LSTM": 3}


def rnn_case(op, direction="forward", layout=0, x=(5, 2, 3), hidden=4, hidden_attr=True, **kw):
    # ONNX Runtime implements only layout 0 and requires hidden_size
    kw.setdefault("run", "ort" if layout == 0 and hidden_attr else "reference")
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    attrs = {"direction": direction, **({"hidden_size": hidden} if hidden_attr else {})}
    if layout:
        attrs["layout"] = layout
    return Case(op, [T(x), T((dirs, g * hidden, x[2])), T((dirs, g * hidden, hidden)), T((dirs, 2 * g * hidden))],
                attrs, n_outputs=OUTPUTS[op], id=f"{op}-{direction}-layout{layout}-{x}-{hidden_attr}", **kw)


RECURRENT = cases(*[
    rnn_case(op, direction, layout)
    for op in GATES for direction in ("forward", "reverse", "bidirectional") for layout in (0, 1)
], *[rnn_case(op, x=("seq", "batch", 3)) for op in GATES],
   *[rnn_case(op, layout=1, x=("batch", "seq", 3)) for op in GATES],
   rnn_case("LSTM", hidden_attr=False, refines=True),
   rnn_case("GRU", "bidirectional", opset=7),
   rnn_case("LSTM", opset=7),
)


@pytest.mark.parametrize("case", RECURRENT)
def test_matches_onnx(case):
    check(case)


def test_one_output():
    case = rnn_case("LSTM")
    case.n_outputs = 1
    assert [t.shape for t in check(case)] == [(5, 1, 2, 4)]


@pytest.mark.parametrize("case", [
    Case("LSTM", [T((5, 2)), T((1, 16, 3)), T((1, 16, 4))], {"hidden_size": 4}),
    Case("LSTM", [T((5, 2, 3)), T((1, 16, 3)), T((1, 16, 4))], {"direction": "bidirectional", "hidden_size": 4}),
    Case("GRU", [T((5, 2, 3)), T((1, 12, 3)), T((1, 12, 4))], {"hidden_size": 5}),
    Case("RNN", [T((5, 2, 3)), T((1, 4, 3)), T((1, 4, 4))], {"hidden_size": 4, "direction": "sideways"}),
], ids=str)
def test_contradictions_fail(case):
    with pytest.raises(ShapeError):
        graphc_types(case)
