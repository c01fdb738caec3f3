"""How columns map onto a model's inputs and outputs onto a return type (runtime/spark/columns.py):
the plans and their errors, without a Spark session (pyspark's type classes only)."""
import numpy as np
import pytest

pytest.importorskip("pyspark")
from pyspark.sql import types as T  # noqa: E402

from graphc import GraphcError, InputError, TensorType  # noqa: E402
from graphc.runtime.spark.columns import (bind_columns, input_plans, output_plans, to_input,  # noqa: E402
                                          to_rows)
from graphc.runtime.spark.errors import ColumnError  # noqa: E402

F32 = np.dtype(np.float32)
IMAGE = {"image": TensorType(F32, ("batch", 28, 28, 1))}
TWO = {"vec": TensorType(F32, ("batch", 5)), "seq": TensorType(F32, ("batch", 3, 4))}
SEQ = {"frames": TensorType(F32, ("batch", "time", 3))}


def test_rows_come_from_the_model_inputs_without_the_batch_axis():
    [p] = input_plans(IMAGE)
    assert (p.name, p.dtype, p.row_shape, p.elements) == ("image", F32, (28, 28, 1), 784)
    assert [(p.name, p.elements) for p in input_plans(TWO)] == [("vec", 5), ("seq", 12)]


def test_a_stated_row_shape_must_hold_the_same_elements():
    assert input_plans(IMAGE, [[784]])[0].row_shape == (28, 28, 1)  # flat rows reshaped to the model's
    assert input_plans(IMAGE, {"image": [28, 28]})[0].row_shape == (28, 28, 1)
    with pytest.raises(ColumnError, match=r"'image'.*\[10\] \(10 elements\).*784 elements a row"):
        input_plans(IMAGE, [[10]], label="m.onnx")


def test_symbolic_rows_need_a_shape_that_fits():
    with pytest.raises(ColumnError, match=r"'frames'.*no fixed shape.*input_tensor_shapes=\{'frames'"):
        input_plans(SEQ)
    assert input_plans(SEQ, {"frames": [7, 3]})[0].row_shape == (7, 3)
    assert input_plans(SEQ, {0: [2, 3]})[0].elements == 6
    with pytest.raises(ColumnError, match="same rank, fixed axes equal"):
        input_plans(SEQ, {"frames": [7, 4]})
    with pytest.raises(ColumnError, match="same rank"):
        input_plans(SEQ, {"frames": [21]})


def test_shapes_for_inputs_the_model_lacks_or_of_the_wrong_count():
    with pytest.raises(ColumnError, match=r"names input 'img'.*\['image'\]"):
        input_plans(IMAGE, {"img": [784]})
    with pytest.raises(ColumnError, match=r"2 shapes for the model's 1 inputs"):
        input_plans(IMAGE, [[784], [1]])


def test_inputs_that_are_not_batched_tensors_are_refused():
    with pytest.raises(ColumnError, match="no batch axis"):
        input_plans({"s": TensorType(F32, ())})


def test_columns_bind_by_position_or_by_input_name():
    plans = input_plans(TWO)
    assert bind_columns(plans, ("a", "b"), {}, "m") == ["a", "b"]
    assert bind_columns(plans, (), {"seq": "b", "vec": "a"}, "m") == ["a", "b"]  # input order
    with pytest.raises(ColumnError, match=r"m has no input\(s\) \['img'\]; its inputs are 'vec' \(float32"):
        bind_columns(plans, (), {"vec": "a", "img": "b"}, "m")
    with pytest.raises(ColumnError, match=r"no column for input\(s\) \['seq'\]"):
        bind_columns(plans, (), {"vec": "a"}, "m")
    with pytest.raises(ColumnError, match=r"takes 2 input\(s\).*got 3 columns"):
        bind_columns(plans, ("a", "b", "c"), {}, "m")
    with pytest.raises(ColumnError, match="not both"):
        bind_columns(plans, ("a",), {"seq": "b"}, "m")


def test_one_input_takes_as_many_scalar_columns_as_its_row_holds():
    plans = input_plans({"x": TensorType(F32, ("batch", 4))})
    assert bind_columns(plans, ("a", "b", "c", "d"), {}, "iris") == ["a", "b", "c", "d"]
    with pytest.raises(ColumnError, match="or 4 scalar columns stacked"):
        bind_columns(plans, ("a", "b"), {}, "iris")


def test_the_default_return_type_follows_the_outputs():
    outs = {"cls": TensorType(F32, ("batch", 2)), "score": TensorType(np.dtype(np.float64), ("batch", 1))}
    rtype, plans, struct = output_plans(outs)
    assert struct and rtype == T.StructType([T.StructField("cls", T.ArrayType(T.FloatType())),
                                             T.StructField("score", T.DoubleType())])
    assert [(p.name, p.dtype, p.array) for p in plans] == [("cls", F32, True), ("score", np.float64, False)]
    rtype, plans, struct = output_plans(outs, outputs=["cls"])
    assert not struct and rtype == T.ArrayType(T.FloatType())
    rtype, _, _ = output_plans({"ids": TensorType(np.dtype(np.int64), ("batch",))})
    assert rtype == T.LongType()


def test_a_given_return_type_must_fit_the_outputs():
    outs = {"cls": TensorType(F32, ("batch", 2)), "per_step": TensorType(F32, ("batch", 3, 1))}
    rtype, plans, _ = output_plans(outs, return_type=T.StructType([T.StructField("per_step", T.ArrayType(T.DoubleType()))]))
    assert [(p.name, p.dtype) for p in plans] == [("per_step", np.float64)]
    with pytest.raises(ColumnError, match=r"field\(s\) \['logits'\].*outputs are \['cls', 'per_step'\]"):
        output_plans(outs, return_type=T.StructType([T.StructField("logits", T.FloatType())]))
    with pytest.raises(ColumnError, match=r"2 outputs.*pass outputs=\[name\]"):
        output_plans(outs, return_type=T.ArrayType(T.FloatType()))
    with pytest.raises(ColumnError, match=r"'cls' has more than one element a row.*ArrayType\(FloatType\(\)\)"):
        output_plans(outs, outputs=["cls"], return_type=T.FloatType())
    with pytest.raises(ColumnError, match="use a numeric type"):
        output_plans(outs, outputs=["cls"], return_type=T.ArrayType(T.StringType()))
    with pytest.raises(ColumnError, match=r"outputs=\['nope'\] must name some"):
        output_plans(outs, outputs=["nope"])


def test_batches_become_input_tensors_and_output_rows():
    [p] = input_plans(IMAGE)
    flat = np.arange(3 * 784, dtype=np.float64).reshape(3, 784)
    x = to_input(flat, p, 3, "#1", "m")
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.float32 and x[1, 0, 1, 0] == 785
    with pytest.raises(ColumnError, match=r"column #1 gives 10 elements a row for input 'image'.*hold 784"):
        to_input(np.zeros((3, 10)), p, 3, "#1", "m")
    [ids] = input_plans({"tokens": TensorType(np.dtype(np.int32), ("batch", 7))})
    assert to_input(np.ones((2, 7), np.int64), ids, 2, "#1", "m").dtype == np.int32
    with pytest.raises(ColumnError, match="holds float64, which does not convert to input 'tokens'"):
        to_input(np.ones((2, 7)), ids, 2, "#1", "m")
    _, [o], _ = output_plans({"y": TensorType(F32, ("batch", 3, 1))})
    assert to_rows(np.ones((4, 3, 1), np.float32), o, 4, "m").shape == (4, 3)
    with pytest.raises(ColumnError, match="first axis is the batch"):
        to_rows(np.ones((3, 4), np.float32), o, 4, "m")


def test_every_error_here_is_a_graphc_input_error():
    assert issubclass(ColumnError, InputError) and issubclass(ColumnError, GraphcError)
