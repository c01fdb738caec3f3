"""Array functions recorded by name in functional configs, as IR emitters, and the layer that calls
one: shared by Keras 3's `keras.ops` nodes (ops.py) and tf-keras's TFOpLambda/SlicingOpLambda
layers (tf_functions.py), which name the same operations differently.

A `Function` says which of its call parameters are the tensors making up a layer's inputs and how
to emit it; constants (Python numbers, lists) stand where TF and Keras allow them. Nothing named
in a file is ever looked up in Python: a name is either in a table here or refused.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import UnsupportedOpError
from graphc.nn.activations import ACTIVATIONS
from graphc.nn.base import KerasTensor, Layer, flatten
from graphc.ops.registry import norm_axis

_I64 = np.iinfo(np.int64)


class Function:
    """One translatable function: its call parameters in order (the first `n_inputs` are the
    layer's inputs), and `emit(em, *inputs, **params) -> value or list`."""

    def __init__(self, params, emit, n_inputs: int = 1):
        self.params, self.emit, self.n_inputs = tuple(params), emit, n_inputs


class FunctionCall(Layer):
    """A layer calling the `Function` that `lookup(key)` gives; `lookup` is a module-level function,
    so the layer pickles by reference to its table. `static` holds the arguments a config stores
    with the layer (Keras 3 op attributes), the call supplies the rest. `kind` and `function` name
    it in errors."""

    def __init__(self, kind: str, function: str, lookup, key: str, static=None, dropped=(), **kwargs):
        super().__init__(**kwargs)
        self.kind, self.function, self.static, self.dropped = kind, function, dict(static or {}), set(dropped)
        self.lookup, self.key = lookup, key
        self.fn = lookup(key)
        self.call_args, self.n_call_inputs = self.fn.params, self.fn.n_inputs
        self.n_required_inputs = self.fn.n_inputs

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "fn"}

    def __setstate__(self, state):
        super().__setstate__(state)
        self.fn = self.lookup(self.key)

    def bind_call(self, args, kwargs):
        inputs, kwargs = super().bind_call(args, kwargs)
        # a constant list operand (`ops.add(x, [1., 2.])`) is one array, not several inputs
        return [np.asarray(v) if isinstance(v, list) and not any(isinstance(t, KerasTensor) for t in flatten(v))
                else v for v in inputs], kwargs

    def call(self, em, x, mask=None, **kwargs):
        inputs = x if self.fn.n_inputs > 1 else [x]
        params = {**self.static, **{k: v for k, v in kwargs.items() if k not in self.dropped}}
        try:
            return self.fn.emit(em, *inputs, **params)
        except TypeError as e:
            raise UnsupportedOpError(f"layer {self.name!r}: {self.kind} {self.function!r} called with arguments "
                                     f"graphc does not translate ({e})") from None


def refuse(kind: str, function: str, layer: str, supported, where: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{where}: layer {layer!r}: {kind} {function!r} is not supported; graphc translates "
                              f"{', '.join(sorted(supported))}. Rebuild the model with layers, or register "
                              f"a translator with graphc.importers.keras.register_layer")


# ---- operands -------------------------------------------------------------------------------
def is_value(v) -> bool:
    return isinstance(v, tuple)


def operands(em, *args):
    """Graph values for a mix of values and constants, in one dtype (the widest value's)."""
    vals = [a for a in args if is_value(a)]
    if not vals:
        raise TypeError("no tensor operand")
    dtype = np.result_type(*[em.type(v).dtype for v in vals])
    out = []
    for a in args:
        if not is_value(a):
            out.append(em.const(np.asarray(a, dtype), dtype))
        elif em.type(a).dtype != dtype:
            out.append(cast(em, a, dtype))
        else:
            out.append(a)
    return out


def binary(op):
    return lambda em, a, b: em.op(op, *operands(em, a, b))


def unary(op, **attrs):
    return lambda em, x: em.op(op, operands(em, x)[0], **attrs)


def activation(name):
    return lambda em, x: ACTIVATIONS[name](em, x)


def not_equal(em, a, b):
    return em.op("Not", em.op("Equal", *operands(em, a, b)))


def square(em, x):
    return em.op("Mul", x, x)


def cast(em, x, dtype):
    from onnx import helper

    dtype = np.dtype(dtype)
    if em.type(x).dtype == dtype:
        return x
    return em.op("Cast", x, to=helper.np_dtype_to_tensor_dtype(dtype))


def where(em, condition, a, b):
    a, b = operands(em, a, b)
    return em.op("Where", cast(em, condition, np.bool_), a, b)


# ---- shapes -------------------------------------------------------------------------------------
def reshape(em, x, shape):
    shape = [int(d) for d in (shape if isinstance(shape, (list, tuple)) else [shape])]
    return em.op("Reshape", x, em.ints(shape, "shape"), allowzero=1)


def transpose(em, x, perm=None):
    r = em.rank(x)
    perm = list(range(r))[::-1] if perm is None else [norm_axis(int(p), r) for p in perm]
    return em.transpose(x, perm)


def concat(em, xs, axis=0):
    xs = operands(em, *xs)
    return em.concat(xs, norm_axis(int(axis), em.rank(xs[0])))


def stack(em, xs, axis=0):
    xs = operands(em, *xs)
    a = norm_axis(int(axis), em.rank(xs[0]) + 1)
    return em.concat([em.unsqueeze(x, [a]) for x in xs], a)


def expand_dims(em, x, axis):
    axes = [axis] if isinstance(axis, int) else list(axis)
    r = em.rank(x) + len(axes)
    return em.unsqueeze(x, sorted(norm_axis(int(a), r) for a in axes))


def squeeze(em, x, axis=None):
    shape = em.shape(x)
    if axis is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    else:
        axes = [norm_axis(int(a), len(shape)) for a in ([axis] if isinstance(axis, int) else axis)]
    return em.squeeze(x, axes) if axes else x


def reduce(op, bool_op=None):
    """numpy/TF reductions: axis None reduces every axis; booleans reduce as 0/1 floats."""

    def emit(em, x, axis=None, keepdims=False):
        axes = list(range(em.rank(x))) if axis is None else (
            [axis] if isinstance(axis, int) else list(axis))
        axes = sorted({norm_axis(int(a), em.rank(x)) for a in axes})
        is_bool = em.type(x).dtype == np.bool_
        y = em.reduce((bool_op or op) if is_bool else op, cast(em, x, np.float32) if is_bool else x, axes,
                      bool(keepdims))
        return cast(em, y, np.bool_) if is_bool else y

    return emit


def arg_reduce(op):
    def emit(em, x, axis=None, keepdims=False, output_type=np.int64):
        if axis is None:  # numpy flattens
            x, axis = reshape(em, x, [-1]), 0
        y = em.op(op, x, axis=norm_axis(int(axis), em.rank(x)), keepdims=int(bool(keepdims)))
        return cast(em, y, output_type)

    return emit


def softmax(em, x, axis=-1):
    return em.op("Softmax", x, axis=int(axis))


def log_softmax(em, x, axis=-1):
    return em.op("LogSoftmax", x, axis=int(axis))


def matmul(em, a, b, transpose_a=False, transpose_b=False):
    a, b = operands(em, a, b)

    def last_two(v):  # swap the last two axes
        r = em.rank(v)
        return em.transpose(v, list(range(r - 2)) + [r - 1, r - 2])

    return em.op("MatMul", last_two(a) if transpose_a else a, last_two(b) if transpose_b else b)


def clip(em, x, lo, hi):
    x, lo, hi = operands(em, x, lo, hi)
    return em.op("Min", em.op("Max", x, lo), hi)


def tile(em, x, repeats):
    reps = [int(r) for r in (repeats if isinstance(repeats, (list, tuple)) else [repeats])]
    r = em.rank(x)
    if len(reps) < r:
        reps = [1] * (r - len(reps)) + reps
    elif len(reps) > r:
        x = em.unsqueeze(x, list(range(len(reps) - r)))
    return em.op("Tile", x, em.ints(reps, "repeats"))


def flip(em, x, axis=None):
    r = em.rank(x)
    axes = list(range(r)) if axis is None else [norm_axis(int(a), r) for a in
                                                ([axis] if isinstance(axis, int) else axis)]
    return em.slice(x, [-1] * len(axes), [_I64.min] * len(axes), axes, [-1] * len(axes))


def take(em, x, indices, axis=None):
    """numpy's `take`: axis None indexes the flattened tensor; negative indices count from the end."""
    if axis is None:
        x, axis = reshape(em, x, [-1]), 0
    idx = indices if is_value(indices) else em.const(np.asarray(indices, np.int64), np.int64)
    return em.op("Gather", x, cast(em, idx, np.int64), axis=norm_axis(int(axis), em.rank(x)))


def einsum(em, tensors, subscripts):
    xs = tensors if isinstance(tensors, list) else [tensors]
    return em.op("Einsum", *operands(em, *xs), equation=str(subscripts).replace(" ", ""))


def getitem(em, x, items):
    """`x[items]` with numpy's basic indexing: items are slices, ints, None (a new axis) and one
    Ellipsis; slice bounds are Python ints (a tensor-valued bound is refused)."""
    items = list(items) if isinstance(items, (list, tuple)) else [items]
    r = em.rank(x)
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    if items.count(Ellipsis) > 1 or used > r:
        raise TypeError(f"index {items} does not fit a tensor of rank {r}")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items = items[:at] + [slice(None)] * (r - used) + items[at + 1:]
    items += [slice(None)] * (r - used if Ellipsis not in items else 0)
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis, out_axis = 0, 0
    for it in items:
        if it is None:
            new.append(out_axis)
            out_axis += 1
            continue
        if isinstance(it, slice):
            bounds = (it.start, it.stop, it.step)
            if any(b is not None and not isinstance(b, (int, np.integer)) for b in bounds):
                raise TypeError(f"slice {it} has a bound that is not an integer")
            step = 1 if it.step is None else int(it.step)
            if step == 0:
                raise TypeError("slice step cannot be zero")
            start = it.start if it.start is not None else (0 if step > 0 else _I64.max)
            stop = it.stop if it.stop is not None else (_I64.max if step > 0 else _I64.min)
            if (start, stop, step) != (0, _I64.max, 1):
                starts.append(int(start)), ends.append(int(stop)), axes.append(axis), steps.append(step)
            out_axis += 1
        elif isinstance(it, (int, np.integer)) and not isinstance(it, bool):
            i = int(it)
            starts.append(i), ends.append(i + 1 if i != -1 else _I64.max), axes.append(axis), steps.append(1)
            drop.append(axis)
        else:
            raise TypeError(f"index {it!r} is not a slice, an integer, None or Ellipsis")
        axis += 1
    y = em.slice(x, starts, ends, axes, steps) if axes else x
    if drop:
        y = em.squeeze(y, drop)
    if new:
        y = em.unsqueeze(y, new)
    return y
