"""The Triton backend's lowering table: how each op becomes kernel code (Inductor's `lowerings`).

Every op has one kind:

- `POINTWISE`: an expression over its inputs' values at the same (broadcast) element;
  `fn(e)` gets a `NodeExpr` (the node's inputs as kernel variables, its attributes) and returns
  a Triton expression.
- `INJECTIVE`: index arithmetic, no data of its own: `fn(graph, node, index)` maps an index into
  the node's output to the index into its input 0 it reads (Reshape, Transpose, Expand, Slice).
- `REDUCTIONS`: a reduction over some axes of input 0, the "anchor" of a reduction kernel that
  takes its pointwise producers as prologue and its consumers as epilogue.
- `TEMPLATES`: MatMul/Gemm, a tiled `tl.dot` kernel whose pointwise consumers are its epilogue.

Anything else runs as a torch operation between kernels (`graphc/lower/triton/fallback.py`).
An index is a tuple of coordinates, one per dim, each `(expression, axes it varies over)`.
"""
from __future__ import annotations

import numpy as np

from graphc.ops.fused import ACTIVATIONS

# the largest reduction one block holds: a longer one runs as a torch fallback
MAX_RBLOCK = 16384
ZERO = ("0", frozenset())


def tl_dtype(dtype) -> str:
    return {"float32": "tl.float32", "float16": "tl.float16", "bfloat16": "tl.bfloat16", "float64": "tl.float64",
            "int64": "tl.int64", "int32": "tl.int32", "int8": "tl.int8", "uint8": "tl.uint8",
            "bool": "tl.int1"}[np.dtype(dtype).name]


def literal(x, dtype) -> str:
    """A Python literal Triton reads as a scalar of `dtype`'s kind."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return "True" if bool(x) else "False"
    if dt.kind in "iu":
        return str(int(x))
    v = float(x)
    if np.isinf(v):
        return "float('inf')" if v > 0 else "float('-inf')"
    if np.isnan(v):
        return "float('nan')"
    return repr(v)


class NodeExpr:
    """What a pointwise lowering sees: `arg(i)`, the variable holding input i at the element
    being computed; `attr`; `const(i)`, a constant input's array; `dtype`, the output's tl dtype."""

    def __init__(self, graph, node, args, dtype):
        self.graph, self.node, self.args = graph, node, args
        self.attrs = graph.attrs(node)
        self.dtype = dtype
        self.values = graph.input_values(node)

    def arg(self, i):
        return self.args[i]

    def has(self, i):
        return i < len(self.values) and self.values[i] is not None

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    def const(self, i):
        return self.graph.const_value(self.values[i]) if self.has(i) else None


def _tanh(x):
    # tl has no tanh: 2·sigmoid(2x) − 1 is exact to float32 rounding and safe for large |x|
    return f"(2.0 * tl.sigmoid(2.0 * {x}) - 1.0)"


def activation(name: str, x: str, params=()) -> str:
    """The expression of a fused op's `activation` (graphc/ops/fused.py) applied to `x`."""
    p = list(params)
    if name == "Relu":
        return f"tl.maximum({x}, 0.0)"
    if name == "Tanh":
        return _tanh(x)
    if name == "Sigmoid":
        return f"tl.sigmoid({x})"
    if name == "LeakyRelu":
        return f"tl.where({x} >= 0, {x}, {x} * {float(p[0] if p else 0.01)!r})"
    if name == "HardSigmoid":
        a, b = (p + [0.2, 0.5])[:2] if len(p) < 2 else p[:2]
        return f"tl.minimum(tl.maximum({x} * {float(a)!r} + {float(b)!r}, 0.0), 1.0)"
    if name == "Clip":
        lo, hi = p[:2]
        return f"tl.minimum(tl.maximum({x}, {float(lo)!r}), {float(hi)!r})"
    raise KeyError(name)


def _binary(op):
    return lambda e: f"({e.arg(0)} {op} {e.arg(1)})"


def _unary(template):
    return lambda e: template.format(x=e.arg(0))


def _clip(e):
    x = e.arg(0)
    if e.has(1):
        x = f"tl.maximum({x}, {e.arg(1)})"
    elif "min" in e.attrs:
        x = f"tl.maximum({x}, {float(e.attr('min'))!r})"
    if e.has(2):
        x = f"tl.minimum({x}, {e.arg(2)})"
    elif "max" in e.attrs:
        x = f"tl.minimum({x}, {float(e.attr('max'))!r})"
    return x


def _nary(fn):
    def rule(e):
        out = e.arg(0)
        for a in e.args[1:]:
            out = f"{fn}({out}, {a})"
        return out
    return rule


def _cast(e):
    return f"{e.arg(0)}.to({e.dtype})"


def _gelu(e):
    x = e.arg(0)
    if e.attr("approximate", "none") == "tanh":
        return f"(0.5 * {x} * (1.0 + {_tanh(f'(0.7978845608028654 * ({x} + 0.044715 * {x} * {x} * {x}))')}))"
    return f"(0.5 * {x} * (1.0 + tl.erf({x} * 0.7071067811865476)))"


def _batchnorm(e):
    # inference form: per-channel (axis 1) parameters, read at the element's channel coordinate
    x, s, b, m, v = e.args[:5]
    eps = float(e.attr("epsilon", 1e-5))
    return f"(({x} - {m}) * tl.rsqrt({v} + {eps!r}) * {s} + {b})"


def _softplus(x):
    # log(1 + exp(x)) without overflow
    return f"(tl.maximum({x}, 0.0) + tl.log(1.0 + tl.exp(-tl.abs({x}))))"


POINTWISE = {
    "Add": _binary("+"), "Sub": _binary("-"), "Mul": _binary("*"), "Div": _binary("/"),
    "Pow": lambda e: (f"({e.arg(0)} * {e.arg(0)})" if _is_scalar(e.const(1), 2) else
                      f"tl.sqrt({e.arg(0)})" if _is_scalar(e.const(1), 0.5) else
                      f"tl.exp(tl.log({e.arg(0)}) * {e.arg(1)})"),
    "Max": _nary("tl.maximum"), "Min": _nary("tl.minimum"),
    "Sum": lambda e: "(" + " + ".join(e.args) + ")",
    "Mean": lambda e: "((" + " + ".join(e.args) + f") / {len(e.args)}.0)",
    "Celu": lambda e: (f"(tl.maximum({e.arg(0)}, 0.0) + tl.minimum(0.0, {float(e.attr('alpha', 1.0))!r} * "
                       f"(tl.exp({e.arg(0)} / {float(e.attr('alpha', 1.0))!r}) - 1.0)))"),
    "Shrink": lambda e: (f"tl.where({e.arg(0)} < -{float(e.attr('lambd', 0.5))!r}, {e.arg(0)} + {float(e.attr('bias', 0.0))!r}, "
                         f"tl.where({e.arg(0)} > {float(e.attr('lambd', 0.5))!r}, {e.arg(0)} - {float(e.attr('bias', 0.0))!r}, 0.0))"),
    "ThresholdedRelu": lambda e: f"tl.where({e.arg(0)} > {float(e.attr('alpha', 1.0))!r}, {e.arg(0)}, 0.0)",
    "Equal": _binary("=="), "Less": _binary("<"), "Greater": _binary(">"),
    "LessOrEqual": _binary("<="), "GreaterOrEqual": _binary(">="),
    "And": _binary("&"), "Or": _binary("|"), "Xor": _binary("^"), "Not": _unary("({x} == 0)"),
    "Where": lambda e: f"tl.where({e.arg(0)}, {e.arg(1)}, {e.arg(2)})",
    "Neg": _unary("(-{x})"), "Abs": _unary("tl.abs({x})"), "Exp": _unary("tl.exp({x})"),
    "Log": _unary("tl.log({x})"), "Sqrt": _unary("tl.sqrt({x})"), "Reciprocal": _unary("(1.0 / {x})"),
    "Floor": _unary("tl.floor({x})"), "Ceil": _unary("tl.ceil({x})"), "Sin": _unary("tl.sin({x})"),
    "Cos": _unary("tl.cos({x})"), "Erf": _unary("tl.erf({x})"),
    "Sign": _unary("tl.where({x} > 0, 1.0, tl.where({x} < 0, -1.0, 0.0))"),
    "Relu": _unary("tl.maximum({x}, 0.0)"), "Sigmoid": _unary("tl.sigmoid({x})"),
    "Tanh": lambda e: _tanh(e.arg(0)),
    "LeakyRelu": lambda e: activation("LeakyRelu", e.arg(0), [e.attr("alpha", 0.01)]),
    "HardSigmoid": lambda e: activation("HardSigmoid", e.arg(0), [e.attr("alpha", 0.2), e.attr("beta", 0.5)]),
    "HardSwish": _unary("({x} * tl.minimum(tl.maximum({x} / 6.0 + 0.5, 0.0), 1.0))"),
    "Elu": lambda e: f"tl.where({e.arg(0)} > 0, {e.arg(0)}, {float(e.attr('alpha', 1.0))!r} * (tl.exp({e.arg(0)}) - 1.0))",
    "Selu": lambda e: (f"({float(e.attr('gamma', 1.0507009873554805))!r} * tl.where({e.arg(0)} > 0, {e.arg(0)}, "
                       f"{float(e.attr('alpha', 1.6732632423543772))!r} * (tl.exp({e.arg(0)}) - 1.0)))"),
    "Softplus": lambda e: _softplus(e.arg(0)),
    "Softsign": _unary("({x} / (1.0 + tl.abs({x})))"),
    "Mish": lambda e: f"({e.arg(0)} * {_tanh(_softplus(e.arg(0)))})",
    "PRelu": lambda e: f"tl.where({e.arg(0)} >= 0, {e.arg(0)}, {e.arg(0)} * {e.arg(1)})",
    "Gelu": _gelu, "Clip": _clip, "Cast": _cast, "Identity": _unary("{x}"), "Dropout": _unary("{x}"),
    "BatchNormalization": _batchnorm,
    "FusedAdd": lambda e: activation(e.attr("activation"), f"({e.arg(0)} + {e.arg(1)})", e.attr("activation_params", ())),
}


def _is_scalar(c, value) -> bool:
    return c is not None and c.size == 1 and float(c.reshape(-1)[0]) == value


def pointwise_inputs(graph, node) -> list[int]:
    """The ports a pointwise op reads as data (Clip's bounds and Pow's exponent too; BN's params)."""
    return [i for i, v in enumerate(graph.input_values(node)) if v is not None]


def channel_index(graph, node, port, index):
    """The index input `port` of `node` is read at: BatchNormalization's parameters by channel,
    everything else by numpy broadcasting of its shape into the output's."""
    shape = graph.type_of(graph.input_values(node)[port]).shape
    if graph.op(node) == "BatchNormalization" and port > 0:
        return (index[1],)
    return broadcast_index(index, graph.type_of((node, 0)).shape, shape)


def broadcast_index(index, out_shape, in_shape):
    """The coordinates of an input of `in_shape` broadcast into `out_shape` at `index`."""
    lead = len(out_shape) - len(in_shape)
    return tuple(ZERO if d == 1 and out_shape[lead + i] != 1 else index[lead + i] for i, d in enumerate(in_shape))


# ---- injective ops: index maps --------------------------------------------------------------

def _strides(shape):
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= d
    return tuple(reversed(out))


def linear(index, shape) -> tuple:
    """(expression, axes) of the row-major offset of `index` into a tensor of `shape`."""
    terms, deps = [], frozenset()
    for (c, d), s, n in zip(index, _strides(shape), shape):
        if n == 1 or c == "0":
            continue
        terms.append(c if s == 1 else f"({c}) * {s}")
        deps |= d
    return (" + ".join(terms) or "0"), deps


def delinear(flat, shape) -> tuple:
    """The index of row-major offset `flat` (expression, axes) into a tensor of `shape`."""
    expr, deps = flat
    out = []
    strides = _strides(shape)
    for i, (n, s) in enumerate(zip(shape, strides)):
        if n == 1:
            out.append(ZERO)
            continue
        c = f"({expr})" if s == 1 else f"(({expr}) // {s})"
        if i > 0 and s * n < int(np.prod(shape)):
            c = f"({c} % {n})"
        out.append((c, deps))
    return tuple(out)


def _reshape(graph, node, index):
    out_shape = graph.type_of((node, 0)).shape
    in_shape = graph.type_of(graph.input_values(node)[0]).shape
    if tuple(out_shape) == tuple(in_shape):
        return index
    return delinear(linear(index, out_shape), in_shape)


def _transpose(graph, node, index):
    rank = len(index)
    perm = graph.attrs(node).get("perm") or list(reversed(range(rank)))
    out = [None] * rank
    for o, p in enumerate(perm):
        out[p] = index[o]
    return tuple(out)


def _expand(graph, node, index):
    return broadcast_index(index, graph.type_of((node, 0)).shape, graph.type_of(graph.input_values(node)[0]).shape)


def slice_params(graph, node):
    """{axis: (start, step)} of a Slice with constant starts/axes/steps, or None."""
    vals = graph.input_values(node)
    in_shape = graph.type_of(vals[0]).shape
    consts = [graph.const_value(v) if v is not None else None for v in vals[1:]] + [None] * 4
    starts, ends, axes, steps = consts[:4]
    if starts is None or ends is None or (vals[3:4] and vals[3] is not None and axes is None) or \
            (len(vals) > 4 and vals[4] is not None and steps is None):
        return None
    rank = len(in_shape)
    axes = list(range(len(starts))) if axes is None else [int(a) + rank if a < 0 else int(a) for a in axes]
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    out = {}
    for a, s, e, st in zip(axes, starts, ends, steps):
        n = in_shape[a]
        s = int(s)
        if st > 0:
            s = min(max(s + n if s < 0 else s, 0), n)
        else:
            s = min(max(s + n if s < 0 else s, -1), n - 1)
        out[a] = (s, st)
    return out


def _slice(graph, node, index):
    params = slice_params(graph, node)
    out = list(index)
    for a, (start, step) in params.items():
        c, d = index[a]
        expr = c if step == 1 else f"({c}) * {step}"
        out[a] = (f"({expr} + {start})" if start else expr, d) if (start or step != 1) else (c, d)
    return tuple(out)


def gather_progression(graph, node):
    """(axis, start, step, index rank) of a Gather whose constant indices are a scalar or an
    arithmetic progression (what q/k/v splits and strided picks are), else None."""
    vals = graph.input_values(node)
    idx = graph.const_value(vals[1])
    if idx is None or idx.ndim > 1 or idx.size == 0:
        return None
    shape = graph.type_of(vals[0]).shape
    axis = int(graph.attrs(node).get("axis", 0))
    axis = axis + len(shape) if axis < 0 else axis
    flat = np.where(idx < 0, idx + shape[axis], idx).reshape(-1).astype(np.int64)
    step = int(flat[1] - flat[0]) if flat.size > 1 else 1
    if not np.array_equal(flat, flat[0] + step * np.arange(flat.size)):
        return None
    return axis, int(flat[0]), step, idx.ndim


def _gather(graph, node, index):
    axis, start, step, rank = gather_progression(graph, node)
    if rank == 0:
        c = (str(start), frozenset())
        return tuple(index[:axis]) + (c,) + tuple(index[axis:])
    e, d = index[axis]
    expr = e if step == 1 else f"({e}) * {step}"
    return tuple(index[:axis]) + ((f"({expr} + {start})" if start else expr, d),) + tuple(index[axis + 1:])


def pad_params(graph, node):
    """(begins, ends, fill value) of a constant-mode Pad with constant pads and axes, else None."""
    vals = graph.input_values(node)
    mode = graph.attrs(node).get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = graph.const_value(vals[1]) if len(vals) > 1 else None
    if mode != "constant" or pads is None or (len(vals) > 3 and vals[3] is not None):
        return None
    if len(vals) > 2 and vals[2] is not None and graph.const_value(vals[2]) is None:
        return None
    fill = graph.const_value(vals[2]) if len(vals) > 2 and vals[2] is not None else None
    rank = len(pads) // 2
    return ([int(p) for p in pads[:rank]], [int(p) for p in pads[rank:]],
            float(fill.reshape(-1)[0]) if fill is not None and fill.size else 0.0)


RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")
INJECTIVE = {**{op: _reshape for op in RESHAPES}, "Transpose": _transpose, "Expand": _expand, "Slice": _slice,
             "Gather": _gather}


# ---- reductions ------------------------------------------------------------------------------

def reduce_axes(graph, node):
    """(reduced axes, keepdims, along) of a reduction-family node, or None when they are not
    constant; `along` marks ops whose output keeps the input's shape (Softmax, LayerNorm)."""
    op, a = graph.op(node), graph.attrs(node)
    vals = graph.input_values(node)
    rank = len(graph.type_of(vals[0]).shape)
    if op in ("Softmax", "LogSoftmax"):
        ax = a.get("axis", -1)
        return (ax + rank if ax < 0 else ax,), True, True
    if op == "LayerNormalization":
        ax = a.get("axis", -1)
        return tuple(range(ax + rank if ax < 0 else ax, rank)), True, True
    if op in ("GlobalAveragePool", "GlobalMaxPool"):
        return tuple(range(2, rank)), True, False
    if op in ("ArgMax", "ArgMin"):
        ax = a.get("axis", 0)
        return (ax + rank if ax < 0 else ax,), bool(a.get("keepdims", 1)), False
    axes = a.get("axes")
    if len(vals) > 1 and vals[1] is not None:
        axes = graph.const_value(vals[1])
        if axes is None:
            return None
    if axes is None or len(axes) == 0:
        if a.get("noop_with_empty_axes", 0):
            return None
        axes = range(rank)
    return tuple(sorted(int(x) + rank if x < 0 else int(x) for x in axes)), bool(a.get("keepdims", 1)), False


# op -> (identity element for masked lanes, body written over the masked tile `x` reducing axis 1)
REDUCTIONS = {
    "ReduceSum": ("0.0", "tl.sum({x}, 1)"),
    "ReduceMean": ("0.0", "(tl.sum({x}, 1) / {n})"),
    "ReduceMax": ("float('-inf')", "tl.max({x}, 1)"),
    "ReduceMin": ("float('inf')", "tl.min({x}, 1)"),
    "ReduceL1": ("0.0", "tl.sum(tl.abs({x}), 1)"),
    "ReduceL2": ("0.0", "tl.sqrt(tl.sum({x} * {x}, 1))"),
    "ReduceSumSquare": ("0.0", "tl.sum({x} * {x}, 1)"),
    "ReduceLogSum": ("0.0", "tl.log(tl.sum({x}, 1))"),
    "ReduceLogSumExp": None,
    "GlobalAveragePool": ("0.0", "(tl.sum({x}, 1) / {n})"),
    "GlobalMaxPool": ("float('-inf')", "tl.max({x}, 1)"),
    "ArgMax": ("float('-inf')", "tl.argmax({x}, 1).to(tl.int64)"),
    "ArgMin": ("float('inf')", "tl.argmin({x}, 1).to(tl.int64)"),
    "Softmax": None, "LogSoftmax": None, "LayerNormalization": None,
}


def reduction_body(graph, node, x, mask, n, out):
    """Lines computing reduction `node` of tile variable `x` (masked by `mask`, `n` elements per
    row) into variable `out` (shape [XBLOCK, 1], or the whole tile for Softmax/LayerNorm)."""
    op = graph.op(node)
    if op in ("Softmax", "LogSoftmax", "ReduceLogSumExp"):
        lines = [f"{out}_m = tl.max(tl.where({mask}, {x}, float('-inf')), 1)[:, None]",
                 f"{out}_e = tl.where({mask}, tl.exp({x} - {out}_m), 0.0)",
                 f"{out}_s = tl.sum({out}_e, 1)[:, None]"]
        if op == "Softmax":
            return lines + [f"{out} = {out}_e / {out}_s"]
        if op == "LogSoftmax":
            return lines + [f"{out} = {x} - {out}_m - tl.log({out}_s)"]
        return lines + [f"{out} = {out}_m + tl.log({out}_s)"]
    if op == "LayerNormalization":
        eps = float(graph.attrs(node).get("epsilon", 1e-5))
        return [f"{out}_mu = tl.sum(tl.where({mask}, {x}, 0.0), 1)[:, None] / {n}",
                f"{out}_d = tl.where({mask}, {x} - {out}_mu, 0.0)",
                f"{out}_var = tl.sum({out}_d * {out}_d, 1)[:, None] / {n}",
                f"{out} = {out}_d * tl.rsqrt({out}_var + {eps!r})"]
    if op in ("ArgMax", "ArgMin") and graph.attrs(node).get("select_last_index", 0):
        raise KeyError(op)
    ident, body = REDUCTIONS[op]
    return [f"{out} = {body.format(x=f'tl.where({mask}, {x}, {ident})', n=n)}[:, None]"]


def activation_of(graph, node) -> str | None:
    a = graph.attrs(node)
    name = a.get("activation")
    return name if name in ACTIVATIONS else None
