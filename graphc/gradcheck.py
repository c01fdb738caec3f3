"""Gradient checking: the analytic gradient graph against float64 central differences.

Modelled on DL4J's `GradientCheckUtil`: for each parameter element, the numeric gradient is
`(loss(p + eps) - loss(p - eps)) / (2 eps)`; an element fails when its relative error
`|a - n| / (|a| + |n|)` exceeds `max_rel_error` and its absolute error exceeds `min_abs_error`
(the floor keeps gradients of ~0 from failing on rounding). The result reports, per parameter,
the largest relative error among the elements over the floor and the worst element.

    result = check_gradients(graph, loss, feeds={"x": x})
    assert result.passed, result.report()

The graph is checked in float64 (`as_float64` casts Inputs, Constants, Variables and the dtype
attributes of Cast-like nodes, in If/Loop/Scan bodies too, then re-infers the types). It runs on ONNX Runtime, or on
`onnx.reference` where ONNX Runtime has no float64 kernel (Conv, ConvTranspose, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from graphc.autodiff import gradient_graph, is_float, loss_value
from graphc.errors import InputError
from graphc.ir import CAPTURE, Graph
from graphc.ops import infer_node
from graphc.ops.registry import schema_of
from graphc.types import TensorType

_FLOAT_ELEMS = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}


def as_float64(graph: Graph) -> Graph:
    """A copy of `graph` computing in float64: float sources cast, dtype attributes switched, types re-inferred."""
    return with_float_type(graph, np.float64)


def with_float_type(graph: Graph, dtype) -> Graph:
    """A copy of `graph` whose floating-point sources and dtype attributes are `dtype`."""
    dtype = np.dtype(dtype)
    elem = int(onnx.helper.np_dtype_to_tensor_dtype(dtype))
    floats = _FLOAT_ELEMS | {onnx.TensorProto.DOUBLE}
    g = graph.copy()
    for n in g.topo_order():
        d = g.data(n)
        if g.is_source(n):
            t = d["outputs"][0]
            if is_float(t) and not _fixed_float_port(g, n):
                d["outputs"] = [t.with_dtype(dtype)]
                if "value" in d["attrs"]:
                    d["attrs"] = {**d["attrs"], "value": np.asarray(d["attrs"]["value"], dtype)}
            continue
        if d["op"] == CAPTURE:  # a body's stand-in for an outer value: typed like it
            d["outputs"] = [t.with_dtype(dtype) if is_float(t) else t for t in d["outputs"]]
            continue
        # the bodies (Scan) compute in `dtype` too
        attrs = {k: with_float_type(v, dtype) if isinstance(v, Graph) else v for k, v in d["attrs"].items()}
        for key in ("to", "dtype", "stash_type"):  # Cast, RandomUniformLike, LayerNormalization
            if attrs.get(key) in floats:
                attrs[key] = elem
        if isinstance(attrs.get("value"), np.ndarray) and np.issubdtype(attrs["value"].dtype, np.floating):
            attrs["value"] = attrs["value"].astype(dtype)  # ConstantOfShape
        d["attrs"] = attrs
        types = infer_node(g, n, len(d["outputs"]))
        if types is not None:
            d["outputs"] = [t if isinstance(t, TensorType) and t.dtype is not None else old
                            for t, old in zip(types, d["outputs"])]
    return g


def _reference_conv_transpose():
    """ConvTranspose for onnx.reference, in float64 numpy: onnx 1.23's own fails on group > 1
    ("cannot reshape array"). Each kernel tap adds x * w[:, :, tap] to a strided window of the
    full output, which is then cut by the pads."""
    from onnx.reference.op_run import OpRun

    class ConvTranspose(OpRun):
        op_domain = ""

        def _run(self, x, w, b=None, auto_pad=None, dilations=None, group=None, kernel_shape=None,
                 output_padding=None, output_shape=None, pads=None, strides=None):
            if output_shape is not None or auto_pad not in (None, "NOTSET"):
                raise NotImplementedError("gradcheck's ConvTranspose takes explicit pads only")
            n, sp, k = x.ndim - 2, x.shape[2:], w.shape[2:]
            strides, dilations = strides or [1] * n, dilations or [1] * n
            pads, extra, group = pads or [0] * (2 * n), output_padding or [0] * n, group or 1
            cg, mg = x.shape[1] // group, w.shape[1]
            full = [(d - 1) * s + (kk - 1) * dl + 1 + e for d, s, kk, dl, e in zip(sp, strides, k, dilations, extra)]
            out = np.zeros((x.shape[0], group * mg, *full), np.result_type(x, w))
            for j in range(group):
                xs, ws = x[:, j * cg:(j + 1) * cg], w[j * cg:(j + 1) * cg]
                for tap in np.ndindex(*k):
                    win = tuple(slice(t * dl, t * dl + (d - 1) * s + 1, s)
                                for t, dl, d, s in zip(tap, dilations, sp, strides))
                    out[(slice(None), slice(j * mg, (j + 1) * mg)) + win] += \
                        np.einsum("nc...,cm->nm...", xs, ws[(slice(None), slice(None)) + tap])
            out = out[(slice(None), slice(None)) + tuple(slice(p, f - e) for p, f, e in zip(pads, full, pads[n:]))]
            if b is not None:
                out = out + b.reshape((1, -1) + (1,) * n)
            return (out.astype(x.dtype),)

    return ConvTranspose


def _fixed_float_port(g: Graph, node: str) -> bool:
    """Whether `node` feeds an input whose schema fixes its type to float (Resize's scales)."""
    for reader, port in g.consumers((node, 0)):
        d = g.data(reader)
        schema = schema_of(d["op"], d["domain"], g.opset_imports.get(d["domain"] or "", 1))
        if schema is not None and port < len(schema.inputs) and schema.inputs[port].type_str.startswith("tensor("):
            return True
    return False


class _Runner:
    """One compiled graph: ONNX Runtime when it has the kernels, else onnx.reference."""

    def __init__(self, graph: Graph):
        from graphc.lower.onnx import to_onnx

        model = to_onnx(graph)
        try:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 3  # unused initializers (a parameter the loss does not read) warn
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # exact float64 maths
            sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
            self.engine = "onnxruntime"
            self._run = lambda feeds: sess.run(None, feeds)
        except Exception:  # no float64 kernel for some op
            from onnx.reference import ReferenceEvaluator

            ref = ReferenceEvaluator(model, new_ops=[_reference_conv_transpose()])
            self.engine = "onnx.reference"
            self._run = lambda feeds: ref.run(None, feeds)

    def __call__(self, feeds: dict) -> list:
        return self._run(feeds)


def _as_inputs(g: Graph, names) -> None:
    """Turn the source nodes `names` into graph Inputs, so they can be fed perturbed."""
    for n in names:
        d = g.data(n)
        if d["op"] != "Input":
            d["op"] = "Input"
            d["attrs"] = {k: v for k, v in d["attrs"].items() if k != "value"}
            g.inputs.append(n)


@dataclass
class ParamCheck:
    name: str
    max_rel_error: float
    max_abs_error: float
    worst_index: tuple
    analytic: float
    numeric: float
    checked: int
    failed: int

    def __str__(self) -> str:
        return (f"{self.name}: {self.failed}/{self.checked} failed, max rel {self.max_rel_error:.3g}, max abs "
                f"{self.max_abs_error:.3g}, worst {self.worst_index}: analytic {self.analytic:.8g} "
                f"numeric {self.numeric:.8g}")


@dataclass
class GradCheckResult:
    params: list[ParamCheck] = field(default_factory=list)
    engine: str = ""

    @property
    def passed(self) -> bool:
        return all(p.failed == 0 for p in self.params)

    def report(self) -> str:
        return f"gradcheck ({self.engine}): " + ("passed" if self.passed else "FAILED") + "\n" + \
            "\n".join(f"  {p}" for p in self.params)


def check_gradients(graph: Graph, loss, feeds: dict | None = None, wrt=None, *, eps: float = 1e-6,
                    max_rel_error: float = 1e-5, min_abs_error: float = 1e-8, max_per_param: int | None = 64,
                    seed: int = 0) -> GradCheckResult:
    """Check the analytic gradients of `loss` w.r.t. `wrt` (source node names; None: trainable
    Variables) by central differences in float64. `feeds` holds the graph's inputs (cast to
    float64 where float); at most `max_per_param` random elements of each parameter are perturbed."""
    g = as_float64(graph)
    gg = gradient_graph(g, loss, wrt)
    names = [o[len("grad/"):] for o, _ in gg.outputs[1:]]
    for n in names:
        if n not in g or not g.is_source(n):
            raise InputError(f"gradcheck: {n!r} is not an Input or Variable; only source values can be perturbed")
    # the forward graph with only the loss as output; perturbed sources fed as Inputs
    fwd = g.copy()
    fwd.outputs = [("loss", loss_value(g, loss))]
    base = {}
    for k, v in (feeds or {}).items():
        t = g.type_of((k, 0))
        base[k] = np.asarray(v, np.float64 if is_float(t) else t.dtype)
    for n in names:
        if n not in base:
            base[n] = np.array(g.attrs(n)["value"], np.float64)
    for gr in (fwd, gg):
        _as_inputs(gr, names)
    run_f, run_g = _Runner(fwd), _Runner(gg)

    def feed_for(runner_graph, values):
        return {n: values[n] for n in runner_graph.inputs}

    analytic = dict(zip(names, run_g(feed_for(gg, base))[1:]))
    rng = np.random.default_rng(seed)
    result = GradCheckResult(engine=run_g.engine if run_g.engine == run_f.engine else f"{run_g.engine}+{run_f.engine}")
    for n in names:
        p = base[n]
        idxs = list(np.ndindex(p.shape))
        if max_per_param is not None and len(idxs) > max_per_param:
            idxs = [idxs[i] for i in rng.choice(len(idxs), max_per_param, replace=False)]
        worst = (-1.0, -1.0, (), 0.0, 0.0)
        failed = 0
        for idx in idxs:
            vals = dict(base)
            hi, lo = p.copy(), p.copy()
            hi[idx] += eps
            lo[idx] -= eps
            vals[n] = hi
            f_hi = float(np.sum(run_f(feed_for(fwd, vals))[0]))
            vals[n] = lo
            f_lo = float(np.sum(run_f(feed_for(fwd, vals))[0]))
            num = (f_hi - f_lo) / (2 * eps)
            a = float(analytic[n][idx])
            abs_err = abs(a - num)
            rel = 0.0 if abs_err < min_abs_error else abs_err / max(abs(a) + abs(num), 1e-300)
            failed += rel > max_rel_error
            if (rel, abs_err) > worst[:2]:
                worst = (rel, abs_err, idx, a, num)
        result.params.append(ParamCheck(n, worst[0], worst[1], worst[2], worst[3], worst[4], len(idxs), failed))
    return result


__all__ = ["GradCheckResult", "ParamCheck", "as_float64", "check_gradients", "with_float_type"]
