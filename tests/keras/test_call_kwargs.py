"""Layers called by keyword in Keras 3 functional configs (`mha(query=q, value=v, key=k)`,
`Concatenate()(inputs=[a, b])`, `LSTM(sequences=x, initial_state=[h, c])`) and `keras.ops` calls
recorded as nodes, against Keras's own predict (fixtures from make_fixtures_calls.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphc.errors import GraphcError
from graphc.importers.keras import load
from graphc.nn import Dense, Input, LSTM, MultiHeadAttention

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
CASES = ["kw_mha_query_value_key", "kw_mha_causal_value_only", "kw_mha_explicit_masks",
         "kw_mha_key_mask_from_embedding", "kw_attention_inputs", "kw_merge_inputs", "kw_lstm_initial_state",
         "kops_arithmetic_shapes", "kops_constants_and_where", "kops_einsum_take", "kops_in_cnn"]


def check_against(npz, outs, tol=1e-4):
    outs = outs if isinstance(outs, list) else [outs]
    refs = [npz[k] for k in sorted((k for k in npz.files if k.startswith("output_")), key=lambda k: int(k[7:]))]
    assert len(outs) == len(refs)
    for i, (got, ref) in enumerate(zip(outs, refs)):
        assert got.shape == ref.shape, f"output {i}: shape {got.shape}, Keras {ref.shape}"
        err = np.abs(got.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-12)
        assert err <= tol, f"output {i}: relative error {err:.2e}"


@pytest.mark.parametrize("opt", ["O0", "O2"])
@pytest.mark.parametrize("name", CASES)
def test_matches_keras(name, opt):
    npz = np.load(DIR / f"{name}.npz")
    model = load(DIR / f"{name}.keras")
    inputs = [npz[f"input_{i}"] for i in range(len([k for k in npz.files if k.startswith("input_")]))]
    check_against(npz, model.predict(inputs, opt_level=opt))


def test_keyword_and_positional_calls_build_the_same_graph():
    q, v = Input((3, 4)), Input((5, 4))
    mha = MultiHeadAttention(num_heads=2, key_dim=2)
    a = mha(query=q, value=v)
    b = mha(q, v)
    c = mha(q, value=v, key=v)
    assert a.shape == b.shape == c.shape == (None, 3, 4)
    x, h, s = Input((6, 3)), Input((2,)), Input((2,))
    lstm = LSTM(2)
    assert lstm(sequences=x, initial_state=[h, s]).shape == lstm(x, [h, s]).shape == (None, 2)


def test_bad_keyword_calls_are_named():
    q, v = Input((3, 4)), Input((5, 4))
    with pytest.raises(TypeError, match="missing input argument 'value'"):
        MultiHeadAttention(num_heads=1, key_dim=2)(query=q)
    with pytest.raises(TypeError, match="multiple values for argument 'inputs'"):
        Dense(2)(q, inputs=q)


def test_unsupported_keras_op_is_named(tmp_path):
    import json
    import zipfile

    src = DIR / "kops_in_cnn.keras"
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    cfg = json.loads(members["config.json"])
    op = next(l for l in cfg["config"]["layers"] if l["class_name"] == "Silu")
    op["class_name"] = "Fft2"
    members["config.json"] = json.dumps(cfg).encode()
    p = tmp_path / "m.keras"
    with zipfile.ZipFile(p, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(GraphcError, match=r"silu.*'Fft2'"):
        load(p)


def test_models_with_op_nodes_pickle():
    import pickle

    npz = np.load(DIR / "kops_arithmetic_shapes.npz")
    model = pickle.loads(pickle.dumps(load(DIR / "kops_arithmetic_shapes.keras")))
    check_against(npz, model.predict([npz["input_0"], npz["input_1"]], opt_level="O0"))
