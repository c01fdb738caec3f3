"""`Model.summary()`: Keras's table (layer, output shape, parameters) plus the Transposes on data."""
from __future__ import annotations


def _shape(s) -> str:
    if s is None:
        return "?"
    if isinstance(s, list):
        return ", ".join(_shape(e) for e in s)
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + ")"


def param_counts(model) -> tuple[int, int]:
    """(all, trainable) weight values of a layer model, as Keras's summary counts them."""
    total = sum(w.value.size for w in model.weights)
    return total, sum(w.value.size for w in model.weights if w.trainable and w.layer.trainable)


def summary_table(model) -> str:
    rows = [(f"{l.name} ({type(l).__name__})", _shape(l.output_shape), f"{l.count_params():,}")
            for l in model.layers]
    head = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(r[i]) for r in rows + [head]) + 2 for i in range(3)]
    line = lambda r: "".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    total, trainable = param_counts(model)
    width = sum(widths)
    out = [f'Model: "{model.name}"', "━" * width, line(head), "━" * width]
    out += [line(r) for r in rows]
    out += ["━" * width,
            f" Total params: {total:,}",
            f" Trainable params: {trainable:,}",
            f" Non-trainable params: {total - trainable:,}",
            f" Transposes on data, before optimization: {model.transpose_count}"]
    return "\n".join(out)
