"""Torch fallbacks: ops with no Triton lowering run as one torch call between kernels.

`TORCH[op](graph, node, args)` is the Python expression (torch as `torch`, `F` for
torch.nn.functional) of the node's output 0 from its input variables `args` (None for an absent
input). An op in neither this table nor the lowering table is refused by `refuse` with an
`UnsupportedOpError` naming the node.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import UnsupportedOpError
from graphc.lower.triton.torch_pointwise import POINTWISE_TORCH, reduce_rule
from graphc.ops.fused import ACTIVATIONS

_TORCH_DTYPES = {"float32": "torch.float32", "float16": "torch.float16", "bfloat16": "torch.bfloat16",
                 "float64": "torch.float64", "int64": "torch.int64", "int32": "torch.int32",
                 "int8": "torch.int8", "uint8": "torch.uint8", "bool": "torch.bool"}


def torch_dtype(dtype) -> str:
    return _TORCH_DTYPES[np.dtype(dtype).name]


def _ints(x):
    return tuple(int(v) for v in x)


def _pads_for(graph, node, spatial):
    """ONNX `pads` (begin..., end...) of a conv/pool node; auto_pad SAME_* worked out here."""
    a = graph.attrs(node)
    auto = a.get("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    pads = list(a.get("pads", [0] * (2 * spatial)))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        x = graph.type_of(graph.input_values(node)[0]).shape[2:]
        k = a.get("kernel_shape") or graph.type_of(graph.input_values(node)[1]).shape[2:]
        s = a.get("strides", [1] * spatial)
        dil = a.get("dilations", [1] * spatial)
        pads = [0] * (2 * spatial)
        for i in range(spatial):
            out = -(-x[i] // s[i])
            total = max((out - 1) * s[i] + (k[i] - 1) * dil[i] + 1 - x[i], 0)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads[i], pads[i + spatial] = lo, total - lo
    return pads


def _padded(x, pads, spatial, value="0.0"):
    """`x` padded by ONNX `pads` where they are not symmetric (torch takes symmetric ones itself)."""
    lo, hi = pads[:spatial], pads[spatial:]
    if lo == hi:
        return x, tuple(lo)
    torch_pads = []
    for i in reversed(range(spatial)):
        torch_pads += [lo[i], hi[i]]
    return f"F.pad({x}, {tuple(torch_pads)}, value={value})", (0,) * spatial


def _conv(graph, node, args):
    a = graph.attrs(node)
    spatial = len(graph.type_of(graph.input_values(node)[1]).shape) - 2
    x, pad = _padded(args[0], _pads_for(graph, node, spatial), spatial)
    expr = (f"F.conv{spatial}d({x}, {args[1]}, {args[2] if len(args) > 2 and args[2] else 'None'}, "
            f"stride={_ints(a.get('strides', [1] * spatial))}, padding={pad}, "
            f"dilation={_ints(a.get('dilations', [1] * spatial))}, groups={int(a.get('group', 1))})")
    act = a.get("activation")
    return _torch_activation(act, expr, a.get("activation_params", ())) if act else expr


def _torch_activation(name, x, params):
    p = list(params)
    return {"Relu": f"torch.relu({x})", "Tanh": f"torch.tanh({x})", "Sigmoid": f"torch.sigmoid({x})",
            "LeakyRelu": f"F.leaky_relu({x}, {float(p[0]) if p else 0.01!r})",
            "HardSigmoid": f"torch.clamp({x} * {float(p[0]) if p else 0.2!r} + {float(p[1]) if p else 0.5!r}, 0.0, 1.0)",
            "Clip": f"torch.clamp({x}, {float(p[0]) if p else None!r}, {float(p[1]) if len(p) > 1 else None!r})",
            }[name]


def _conv_transpose(graph, node, args):
    """torch's conv_transpose without padding, then ONNX's pads cropped (they may differ per side)."""
    a = graph.attrs(node)
    spatial = len(graph.type_of(graph.input_values(node)[1]).shape) - 2
    pads = list(a.get("pads", [0] * (2 * spatial)))
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET") or "output_shape" in a:
        raise KeyError("ConvTranspose auto_pad/output_shape")
    expr = (f"F.conv_transpose{spatial}d({args[0]}, {args[1]}, {args[2] if len(args) > 2 and args[2] else 'None'}, "
            f"stride={_ints(a.get('strides', [1] * spatial))}, "
            f"output_padding={_ints(a.get('output_padding', [0] * spatial))}, groups={int(a.get('group', 1))}, "
            f"dilation={_ints(a.get('dilations', [1] * spatial))})")
    if not any(pads):
        return expr
    out = graph.type_of((node, 0)).shape[2:]
    crop = ", ".join(f"{pads[i]}:{pads[i] + out[i]}" for i in range(spatial))
    return f"{expr}[:, :, {crop}]"


def _constant_of_shape(graph, node, args):
    t = graph.type_of((node, 0))
    value = graph.attrs(node).get("value")
    fill = float(np.asarray(value).reshape(-1)[0]) if value is not None else 0.0
    return f"torch.full({tuple(t.shape)}, {fill!r}, dtype={torch_dtype(t.dtype)}, device=device)"


def _einsum(graph, node, args):
    eq = graph.attrs(node)["equation"]
    eq = eq.decode() if isinstance(eq, bytes) else eq
    return f"torch.einsum({eq!r}, {', '.join(args)})"


def _split(graph, node, args):
    """A tuple expression: Split's outputs, in order."""
    axis = int(graph.attrs(node).get("axis", 0))
    sizes = [int(t.shape[axis]) for t in graph.data(node)["outputs"]]
    return f"torch.split({args[0]}, {sizes}, dim={axis})"


def _resize(graph, node, args):
    """The Resize forms torch's interpolate computes the same way (else refused)."""
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in graph.attrs(node).items()}
    mode, ctm = a.get("mode", "nearest"), a.get("coordinate_transformation_mode", "half_pixel")
    ins, outs = tuple(graph.type_of(graph.input_values(node)[0]).shape), tuple(graph.type_of((node, 0)).shape)
    axes = [d for d in range(len(ins)) if ins[d] != outs[d]] or [len(ins) - 1]
    keep = [d for d in range(len(ins)) if d not in axes]
    size = tuple(outs[d] for d in axes)
    if a.get("antialias", 0) or a.get("axes") is not None or a.get("exclude_outside", 0) or len(axes) > 3:
        raise KeyError("Resize")
    kind = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(axes)]
    if mode == "nearest" and ctm == "asymmetric" and a.get("nearest_mode", "round_prefer_floor") == "floor":
        how = "mode='nearest'"
    elif mode == "linear" and ctm in ("half_pixel", "pytorch_half_pixel"):
        how = f"mode='{kind}', align_corners=False"
    elif mode == "linear" and ctm == "align_corners":
        how = f"mode='{kind}', align_corners=True"
    else:
        raise KeyError("Resize")
    # interpolate resizes the trailing dims of (N, C, ...): the resized axes go last, the rest
    # fold into C, and the result goes back to the model's layout
    perm = tuple(keep + axes)
    inv = tuple(perm.index(d) for d in range(len(ins)))
    x = f"{args[0]}.permute({perm}).reshape(1, -1, *{tuple(ins[d] for d in axes)})"
    y = f"F.interpolate({x}, size={size}, {how})"
    return f"{y}.reshape({tuple(outs[d] for d in perm)}).permute({inv})"


def _pool(kind):
    def rule(graph, node, args):
        a = graph.attrs(node)
        k = _ints(a["kernel_shape"])
        spatial = len(k)
        fill = "float('-inf')" if kind == "max" else "0.0"
        pads = _pads_for(graph, node, spatial)
        x, pad = _padded(args[0], pads, spatial, fill)
        stride = _ints(a.get("strides", [1] * spatial))
        ceil = bool(a.get("ceil_mode", 0))
        if kind == "max":
            return (f"F.max_pool{spatial}d({x}, {k}, stride={stride}, padding={pad}, "
                    f"dilation={_ints(a.get('dilations', [1] * spatial))}, ceil_mode={ceil})")
        include = bool(a.get("count_include_pad", 0))
        if not include and any(pads) and x != args[0]:
            raise KeyError("asymmetric pads without count_include_pad")
        return (f"F.avg_pool{spatial}d({x}, {k}, stride={stride}, padding={pad}, ceil_mode={ceil}, "
                f"count_include_pad={include})")
    return rule


def _concat(graph, node, args):
    return f"torch.cat([{', '.join(a for a in args if a)}], dim={int(graph.attrs(node).get('axis', 0))})"


def _pad(graph, node, args):
    vals = graph.input_values(node)
    mode = graph.attrs(node).get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = graph.const_value(vals[1])
    if pads is None or mode != "constant" or (len(vals) > 3 and vals[3] is not None):
        raise KeyError("Pad")
    rank = len(pads) // 2
    value = graph.const_value(vals[2]) if len(vals) > 2 and vals[2] is not None else None
    torch_pads = []
    for i in reversed(range(rank)):
        torch_pads += [int(pads[i]), int(pads[i + rank])]
    fill = float(value.reshape(-1)[0]) if value is not None else 0.0
    return f"F.pad({args[0]}, {tuple(torch_pads)}, value={fill!r})"


def _gather(graph, node, args):
    axis = int(graph.attrs(node).get("axis", 0))
    rank = len(graph.type_of(graph.input_values(node)[0]).shape)
    axis = axis + rank if axis < 0 else axis
    n = graph.type_of(graph.input_values(node)[0]).shape[axis]
    idx = f"torch.remainder({args[1]}.long(), {n})"  # ONNX allows negative indices
    ishape = graph.type_of(graph.input_values(node)[1]).shape
    out_shape = tuple(graph.type_of((node, 0)).shape)
    return f"torch.index_select({args[0]}, {axis}, {idx}.reshape(-1)).reshape({out_shape})" if ishape is not None \
        else None


def _matmul(graph, node, args):
    return f"torch.matmul({args[0]}, {args[1]})"


def _gemm(graph, node, args):
    a = graph.attrs(node)
    A = f"{args[0]}.t()" if a.get("transA", 0) else args[0]
    B = f"{args[1]}.t()" if a.get("transB", 0) else args[1]
    expr = f"({float(a.get('alpha', 1.0))!r} * torch.matmul({A}, {B}))"
    if len(args) > 2 and args[2]:
        expr = f"({expr} + {float(a.get('beta', 1.0))!r} * {args[2]})"
    act = a.get("activation")
    return _torch_activation(act, expr, a.get("activation_params", ())) if act else expr


def _reduce(fn):
    return reduce_rule(lambda x, axes, keep: f"{fn}({x}, dim={axes}, keepdim={keep})")


def _shape_like(graph, node, args):
    return f"{args[0]}.reshape({tuple(graph.type_of((node, 0)).shape)})"


def _softmax(log):
    def rule(graph, node, args):
        return f"torch.{'log_softmax' if log else 'softmax'}({args[0]}, dim={int(graph.attrs(node).get('axis', -1))})"
    return rule


def _layernorm(graph, node, args):
    a = graph.attrs(node)
    shape = graph.type_of(graph.input_values(node)[0]).shape
    ax = a.get("axis", -1)
    ax = ax + len(shape) if ax < 0 else ax
    return (f"F.layer_norm({args[0]}, {tuple(shape[ax:])}, {args[1]}, {args[2] or 'None'}, "
            f"eps={float(a.get('epsilon', 1e-5))!r})")


def _cast(graph, node, args):
    return f"{args[0]}.to({torch_dtype(graph.type_of((node, 0)).dtype)})"


def _where(graph, node, args):
    return f"torch.where({args[0]}, {args[1]}, {args[2]})"


def _tile(graph, node, args):
    reps = graph.const_value(graph.input_values(node)[1])
    if reps is None:
        raise KeyError("Tile")
    return f"{args[0]}.repeat({_ints(reps)})"


TORCH = {
    **POINTWISE_TORCH,
    "Conv": _conv, "FusedConv": _conv, "MaxPool": _pool("max"), "AveragePool": _pool("avg"),
    "ConvTranspose": _conv_transpose, "ConstantOfShape": _constant_of_shape, "Resize": _resize, "Split": _split, "Einsum": _einsum, "Concat": _concat, "Pad": _pad, "Gather": _gather, "MatMul": _matmul, "Gemm": _gemm, "FusedGemm": _gemm,
    "ReduceSum": _reduce("torch.sum"), "ReduceMean": _reduce("torch.mean"),
    "ReduceMax": _reduce("torch.amax"), "ReduceMin": _reduce("torch.amin"),
    "Softmax": _softmax(False), "LogSoftmax": _softmax(True), "LayerNormalization": _layernorm,
    "Reshape": _shape_like, "Flatten": _shape_like, "Squeeze": _shape_like, "Unsqueeze": _shape_like,
    "Identity": lambda g, n, a: a[0], "Dropout": lambda g, n, a: a[0], "Cast": _cast, "Where": _where,
    "Tile": _tile, "Transpose": lambda g, n, a: f"{a[0]}.permute({_ints(g.attrs(n).get('perm') or reversed(range(len(g.type_of(g.input_values(n)[0]).shape))))})",
    "FusedAdd": lambda g, n, a: _torch_activation(g.attrs(n).get("activation"), f"({a[0]} + {a[1]})",
                                                  g.attrs(n).get("activation_params", ())),
}


MULTI_OUTPUT = ("Split",)  # their expression is a tuple of every output


def expression(graph, node, args) -> str | None:
    """The torch expression of `node`'s output 0, or None when the table cannot write it."""
    rule = TORCH.get(graph.op(node))
    if rule is None:
        return None
    if graph.op(node) in ("FusedConv", "FusedGemm", "FusedAdd") and graph.attrs(node).get("activation") not in (None, *ACTIVATIONS):
        return None
    try:
        return rule(graph, node, args)
    except (KeyError, TypeError):
        return None


def supported(graph, node) -> bool:
    args = [None if v is None else f"v{i}" for i, v in enumerate(graph.input_values(node))]
    return expression(graph, node, args) is not None


def refuse(graph, node, why: str):
    op = graph.op(node)
    raise UnsupportedOpError(
        f"node {node!r} ({op}) has neither a Triton lowering ({why}) nor a torch fallback: compile this "
        f"model with the ONNX Runtime backend (target='cpu' or 'cuda'), or rewrite the {op} node")
