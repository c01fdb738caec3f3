"""TensorFlow functions in tf-keras functional models (TFOpLambda / SlicingOpLambda layers) against
tf-keras's own predict (fixtures from make_fixtures_tfops.py), and refusal of the ones graphc
does not translate, by name, without running anything from the file."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from graphc.errors import GraphcError
from graphc.importers.keras import load
from graphc.importers.keras.tf_functions import FUNCTIONS

from tests.keras.test_call_kwargs import check_against

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def run(name, opt):
    npz = np.load(DIR / f"{name}.npz")
    model = load(DIR / f"{name}.h5")
    inputs = [npz[f"input_{i}"] for i in range(len([k for k in npz.files if k.startswith("input_")]))]
    check_against(npz, model.predict(inputs, opt_level=opt))
    return model


@pytest.mark.parametrize("opt", ["O0", "O2"])
@pytest.mark.parametrize("name", ["tfop_arith_shapes_k2", "tfop_gather_where_k2", "tfop_in_cnn_k2"])
def test_matches_tf_keras(name, opt):
    run(name, opt)


def _functions_in(path):
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
    return {l["config"]["function"] for l in cfg["config"]["layers"] if l["class_name"].endswith("OpLambda")}


def test_fixtures_exercise_many_functions():
    used = set().union(*(_functions_in(DIR / f"{n}.h5")
                         for n in ("tfop_arith_shapes_k2", "tfop_gather_where_k2", "tfop_in_cnn_k2")))
    assert used <= set(FUNCTIONS)
    assert len(used) >= 40
    assert {"__operators__.getitem", "concat", "stack", "reshape", "linalg.matmul", "cast"} <= used


def _with_function(tmp_path, old, new):
    p = tmp_path / "m.h5"
    shutil.copy(DIR / "tfop_in_cnn_k2.h5", p)
    with h5py.File(p, "r+") as f:
        text = f.attrs["model_config"]
        text = text.decode() if isinstance(text, bytes) else text
        assert f'"function": "{old}"' in text
        f.attrs["model_config"] = text.replace(f'"function": "{old}"', f'"function": "{new}"', 1)
    return p


def test_unknown_function_is_refused_by_name(tmp_path):
    p = _with_function(tmp_path, "nn.relu6", "signal.fft2d")
    with pytest.raises(GraphcError, match=r"m\.h5.*tf\.signal\.fft2d.*not supported"):
        load(p)


def test_a_name_that_looks_like_python_is_only_a_name(tmp_path):
    p = _with_function(tmp_path, "nn.relu6", "__import__('os').system")
    with pytest.raises(GraphcError, match="not supported"):
        load(p)


def test_untranslatable_arguments_are_named(tmp_path):
    p = tmp_path / "m.h5"
    shutil.copy(DIR / "tfop_in_cnn_k2.h5", p)
    with h5py.File(p, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        layer = next(l for l in cfg["config"]["layers"] if l["config"].get("function") == "nn.leaky_relu")
        entry = layer["inbound_nodes"][0]  # a TF function called on one tensor: the bare entry
        entry[3]["no_such_argument"] = 1
        f.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises(GraphcError, match=r"tf\.nn\.leaky_relu"):
        load(p)


def _spec(index):
    """An index as tf-keras serializes a SlicingOpLambda's slice_spec."""
    def one(k):
        if isinstance(k, slice):
            return {"start": k.start, "stop": k.stop, "step": k.step}
        return {"class_name": "__ellipsis__"} if k is Ellipsis else k
    return [one(k) for k in (index if isinstance(index, tuple) else (index,))]


INDICES = [(slice(None), slice(1, 3)), (Ellipsis, None, 2), (slice(None), -1), (slice(None), slice(None, None, -1)),
           (slice(None), slice(3, 0, -2), slice(-2, None)), (slice(None), slice(-1, -5, -1), None, Ellipsis),
           (Ellipsis, slice(10, -10, -1)), (slice(None), 0, slice(None), None), (slice(None), slice(-100, 100, 3)),
           (None, slice(None), slice(4, 1, -1), -3), (slice(None), slice(2, 2)), (Ellipsis,)]


@pytest.mark.parametrize("index", INDICES, ids=[str(i) for i in range(len(INDICES))])
def test_getitem_follows_numpy(index):
    from graphc.nn import Input, Model
    from graphc.importers.keras.tf_functions import tf_function_layer

    x = Input((5, 6))
    layer = tf_function_layer({"function": "__operators__.getitem", "name": "getitem"}, "test")
    model = Model(x, layer(x, slice_spec=_spec(index)))
    data = np.random.default_rng(0).standard_normal((2, 5, 6)).astype(np.float32)
    expected = data[index]
    got = model.predict(data, opt_level="O0")
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_models_with_tf_functions_pickle():
    import pickle

    npz = np.load(DIR / "tfop_in_cnn_k2.npz")
    model = pickle.loads(pickle.dumps(load(DIR / "tfop_in_cnn_k2.h5")))
    check_against(npz, model.predict([npz["input_0"]], opt_level="O0"))
