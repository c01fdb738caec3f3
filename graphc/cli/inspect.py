"""`graphc inspect`: a model's facts, each counted once here and labelled with what it counts.

The text and the JSON are two renderings of the same `facts()` dict, and the Keras layer table
printed above the text counts Keras layer weights only, which the text labels as such, so no two
numbers on the screen can disagree. Graph facts are given twice: as imported (before
optimization) and after the O2 pipeline that `graphc compile` and `graphc run` use.
"""
from __future__ import annotations

import json

from graphc import api
from graphc.errors import GraphcError
from graphc.ir import SOURCE_OPS, TARGET_OPSET, Graph


def _type_json(t) -> dict:
    return {"dtype": None if getattr(t, "dtype", None) is None else t.dtype.name,
            "shape": None if getattr(t, "shape", None) is None else list(t.shape)}


def graph_facts(g: Graph) -> dict:
    """Node counts (operators vs sources), operator counts, Transposes on data vs on weights."""
    counts = g.op_counts()
    ops = {k: v for k, v in counts.items() if k not in SOURCE_OPS}
    transposes = [n for n in g.nx.nodes if g.op(n) == "Transpose"]
    on_weights = sum(1 for n in transposes if g.op(g.input_values(n)[0][0]) in ("Variable", "Constant"))
    return {"nodes": len(g), "operators": sum(ops.values()),
            **{k.lower() + "s": counts.get(k, 0) for k in SOURCE_OPS},
            "ops": ops,
            "transposes": {"total": len(transposes), "on_data": len(transposes) - on_weights,
                           "on_weights": on_weights}}


def _values(g: Graph, op: str) -> dict:
    arrays = [g.attrs(n)["value"] for n in g.nx.nodes if g.op(n) == op and g.data(n)["domain"] == ""]
    return {"values": int(sum(a.size for a in arrays)), "bytes": int(sum(a.nbytes for a in arrays))}


def file_opsets(path) -> dict | None:
    """The opsets an ONNX file declares (None for other formats, which have none)."""
    import onnx

    if api.detect_format(path) != "onnx":
        return None
    model = onnx.load(str(path), load_external_data=False)
    return {(o.domain if o.domain != "ai.onnx" else ""): o.version for o in model.opset_import}


def _optimized_facts(g: Graph) -> dict:
    try:
        return {"level": "O2", **graph_facts(api.optimize(g, "O2"))}
    except GraphcError as e:  # inspect still shows the rest; compile and run will raise this
        return {"level": "O2", "error": str(e)}


def facts(model, path) -> dict:
    g = model.graph
    info = {
        "model": str(path),
        "inputs": {n: _type_json(t) for n, t in model.input_types().items()},
        "outputs": {n: _type_json(t) for n, t in model.output_types().items()},
        # the IR holds weights as Variables (trainable, from Keras layers or ONNX initializers
        # loaded as variables) and everything else frozen as Constants (shapes, epsilons, ...)
        "parameters": {"variables": _values(g, "Variable"), "constants": _values(g, "Constant")},
        "imported": graph_facts(g),
        "optimized": _optimized_facts(g),
        "opset": {"file": file_opsets(path), "export": {"": TARGET_OPSET}},
    }
    if hasattr(model, "layers"):
        from graphc.nn.summary import param_counts

        total, trainable = param_counts(model)
        info["parameters"]["keras_layers"] = {"total": total, "trainable": trainable,
                                              "non_trainable": total - trainable}
    if g.meta.get("opset_note"):
        info["opset"]["note"] = g.meta["opset_note"]
    return info


def _graph_line(label: str, f: dict) -> list[str]:
    t = f["transposes"]
    return [f"{label}: {f['nodes']:,} nodes = {f['operators']:,} operators + {f['inputs']} inputs + "
            f"{f['constants']:,} constants + {f['variables']:,} variables",
            "  operators: " + (", ".join(f"{k}×{v}" for k, v in f["ops"].items()) or "none"),
            f"  Transpose: {t['total']} ({t['on_data']} on data, {t['on_weights']} on weights)"]


def text(info: dict) -> str:
    lines = [f"model {info['model']}"]
    lines += [f"  input  {n}: {_shape_text(t)}" for n, t in info["inputs"].items()]
    lines += [f"  output {n}: {_shape_text(t)}" for n, t in info["outputs"].items()]
    p = info["parameters"]
    if "keras_layers" in p:
        k = p["keras_layers"]
        lines.append(f"Keras layer weights (the table's Total params): {k['total']:,} = {k['trainable']:,} "
                     f"trainable + {k['non_trainable']:,} non-trainable")
    lines.append(f"graph values before optimization: {p['variables']['values']:,} in Variables "
                 f"({p['variables']['bytes']:,} bytes) + {p['constants']['values']:,} in Constants "
                 f"({p['constants']['bytes']:,} bytes)")
    lines += _graph_line("graph as imported (before optimization)", info["imported"])
    o2 = info["optimized"]
    label = f"graph after {o2['level']} (what compile and run execute)"
    lines += [f"{label}: optimization failed: {o2['error']}"] if "error" in o2 else _graph_line(label, o2)
    o = info["opset"]
    src = ("the file declares " + ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in o["file"].items())
           if o["file"] else "the file is not ONNX and declares none")
    lines.append(f"opset: {src}; graphc exports ai.onnx {o['export']['']}" + (f" ({o['note']})" if "note" in o else ""))
    return "\n".join(lines)


def _shape_text(t: dict) -> str:
    dims = "..." if t["shape"] is None else ",".join("?" if d is None else str(d) for d in t["shape"])
    return f"{t['dtype'] or '?'}[{dims}]"


def cmd_inspect(args) -> int:
    model = api.load(args.model)
    info = facts(model, args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    if hasattr(model, "layers"):  # a Keras model: its own layer table first
        print(model.summary(print_fn=None))
    print(text(info))
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("inspect", help="inputs, outputs, ops, parameters of a model")
    s.add_argument("model")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_inspect)
