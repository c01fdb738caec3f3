"""DL4J's graph vertices: configuration objects (Buildables, JSON round trip) that compile to
graphc.nn layers.

Values keep DL4J's layouts between vertices: feed-forward `[batch, size]`, recurrent
`[batch, size, time]`, convolutional NCHW, so "the feature axis" is axis 1 for all three.

- `MergeVertex`: concatenation on axis 1 (nn.Concatenate);
- `ElementWiseVertex(op)`: Add, Subtract (two inputs), Product, Average, Max (nn's merge layers);
- `SubsetVertex(from, to)`: features `from..to` of axis 1, both ends inclusive;
- `StackVertex`: inputs of one type joined on the batch axis; `UnstackVertex(from, stack_size)`:
  the `from`-th of `stack_size` equal batch parts;
- `L2Vertex(eps)`: the Euclidean distance of two inputs per example, `[batch, 1]`; the norm is
  held at `eps` or more, as DL4J's backward pass holds it, so the gradient at a distance of 0 is finite;
- `L2NormalizeVertex(dimension, eps)`: `x / max(||x||, eps)` over `dimension` (default: every axis
  but the batch);
- `ScaleVertex(scale_factor)`, `ShiftVertex(shift_factor)`: `x * s`, `x + s`;
- `PreprocessorVertex(preprocessor)`: an input preprocessor of graphc.dl4j.input_type;
- `LastTimeStepVertex(mask_array_input_name)`: `[b, n, t] -> [b, n]` at each example's last
  step whose mask (the named network input's features mask) is not 0; the last step without a mask;
- `DuplicateToTimeSeriesVertex(input_name)`: `[b, n] -> [b, n, t]`, `t` the time length of the
  named network input.

DL4J's StackVertex reports the sum of its inputs' sizes as its output size (copied from
MergeVertex) while it stacks on the batch axis; here its output type is its inputs' type.
"""
from __future__ import annotations

import enum

import numpy as np

from graphc.dl4j.builder import Buildable, ConfigError, Field, enum_coercer
from graphc.dl4j.input_type import CNN, CNN_FLAT, FF, RNN, InputPreProcessor, InputType
from graphc.nn import merging
from graphc.nn.core import Identity
from graphc.nn.base import Layer
from graphc.nn.preprocessing import Rescaling

# ---- the graphc.nn layers the vertices need beyond nn's own ------------------------------------


def _static_rest(em, x) -> list | None:
    rest = list(em.shape(x)[1:])
    return rest if all(isinstance(d, int) for d in rest) else None


def _batch_dim(em, x):
    """The batch size of `x` as a 1-element int64 tensor."""
    return em.slice(em.op("Shape", x), [0], [1], [0])


class FeatureSubset(Layer):
    """Axis-1 elements `start..stop` (stop inclusive, DL4J's SubsetVertex)."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, em, x, mask=None):
        return em.slice(x, [self.start], [self.stop + 1], [1])


class BatchStack(Layer):
    """Inputs of one shape joined on the batch axis, in order (DL4J's StackVertex). Each input
    becomes a `[1, b, ...]` block so that the join is on an axis of static size (Concat's gradient
    splits by static sizes), then the blocks are flattened back to `[k * b, ...]`."""

    def call(self, em, x, mask=None):
        xs = list(x) if isinstance(x, list) else [x]
        if len(xs) == 1:
            return xs[0]
        joined = em.concat([em.unsqueeze(v, [0]) for v in xs], 0)
        rest = _static_rest(em, xs[0])
        if rest is not None:
            return em.reshape(joined, [-1] + rest)
        shape = em.op("Concat", em.ints([-1]), em.slice(em.op("Shape", xs[0]), [1], [2 ** 62], [0]), axis=0)
        return em.op("Reshape", joined, shape)


class BatchUnstack(Layer):
    """Part `index` of `parts` equal parts of the batch axis (DL4J's UnstackVertex)."""

    def __init__(self, index: int, parts: int, **kwargs):
        super().__init__(**kwargs)
        self.index, self.parts = int(index), int(parts)

    def call(self, em, x, mask=None):
        step = em.op("Div", _batch_dim(em, x), em.ints([self.parts]))
        start = em.op("Mul", step, em.ints([self.index]))
        return em.op("Slice", x, start, em.op("Add", start, step), em.ints([0]))


def _norm_at_least(em, ss, eps: float):
    """sqrt(max(ss, eps^2)) = max(sqrt(ss), eps): a norm from its sum of squares, floored at eps."""
    return em.op("Sqrt", em.op("Max", ss, em.const(np.float32(eps * eps))))


class PairDistance(Layer):
    """The Euclidean distance of two inputs over every axis but the batch, `[batch, 1]`
    (DL4J's L2Vertex)."""

    def __init__(self, eps: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.eps = float(eps)

    def call(self, em, x, mask=None):
        a, b = x
        d = em.op("Sub", a, b)
        ss = em.reduce("ReduceSum", em.op("Mul", d, d), list(range(1, em.rank(a))), keepdims=False)
        return em.unsqueeze(_norm_at_least(em, ss, self.eps), [1])


class L2Normalize(Layer):
    """`x / max(||x||, eps)`, the norm over `axes` (None: every axis but the batch)."""

    def __init__(self, axes=None, eps: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.axes = None if axes is None else [int(a) for a in axes]
        self.eps = float(eps)

    def call(self, em, x, mask=None):
        axes = self.axes if self.axes else list(range(1, em.rank(x)))
        ss = em.reduce("ReduceSum", em.op("Mul", x, x), axes)
        return em.op("Div", x, _norm_at_least(em, ss, self.eps))


class LastTimeStep(Layer):
    """`[b, n, t] -> [b, n]`: the last step, or with a second input (a `[b, t]` mask) each
    example's last step whose mask is not 0 (DL4J: argmax of mask * [0, 1, ..., t-1])."""

    def call(self, em, x, mask=None):
        if not isinstance(x, list):
            t = em.shape(x)[2]
            if isinstance(t, int):
                return em.squeeze(em.slice(x, [t - 1], [t], [2]), [2])
            return em.squeeze(em.slice(x, [-1], [2 ** 62], [2]), [2])
        x, m = x
        steps = em.op("Range", em.ints(0), em.reshape(em.slice(em.op("Shape", x), [2], [3], [0]), []), em.ints(1))
        nonzero = em.op("Cast", em.op("Not", em.op("Equal", m, em.const(np.float32(0)))), to=1)
        last = em.op("ArgMax", em.op("Mul", nonzero, em.op("Cast", steps, to=1)), axis=1, keepdims=1)
        pick = em.op("Cast", em.op("Equal", em.unsqueeze(steps, [0]), last), to=1)  # one-hot [b, t]
        return em.reduce("ReduceSum", em.op("Mul", x, em.unsqueeze(pick, [1])), [2], keepdims=False)


class DuplicateToTime(Layer):
    """`[b, n]` repeated over the time axis of a second input `[b, m, t]`: `[b, n, t]`."""

    def call(self, em, x, mask=None):
        v, ref = x
        t = em.shape(ref)[2]
        col = em.unsqueeze(v, [2])
        if isinstance(t, int):
            return em.op("Tile", col, em.ints([1, 1, t]))
        # a run-time length: times a [1, 1, t] row of ones, so that the size axis stays static
        ones = em.op("ConstantOfShape", em.slice(em.op("Shape", ref), [2], [3], [0]),
                     value=np.ones(1, np.float32))
        return em.op("Mul", col, em.reshape(ones, [1, 1, -1]))


# ---- the vertex configurations ----------------------------------------------------------------
def feature_size(t: InputType):
    """The size of axis 1: features, or channels of an image."""
    return t.channels if t.kind == CNN else t.size if t.kind in (FF, RNN) else t.flat_size()


def with_feature_size(t: InputType, n: int) -> InputType:
    if t.kind == CNN:
        return InputType.convolutional(t.height, t.width, n)
    if t.kind == RNN:
        return InputType.recurrent(n, t.time_series_length)
    return InputType.feed_forward(n)


def merged_type(vertex, name: str, input_types: list) -> InputType:
    """DL4J's MergeVertex type: the sizes of axis 1 added; the other axes must agree."""
    first = input_types[0]
    if len(input_types) == 1:
        return first
    kinds = {t.kind for t in input_types}
    if len(kinds) > 1 or first.kind == CNN_FLAT:
        raise ConfigError(f"vertex {name!r} ({type(vertex).__name__}) cannot join inputs of types "
                          f"{[str(t) for t in input_types]}: they must be all feed-forward, all recurrent or all "
                          f"convolutional (NCHW); put a preprocessor in front of the odd ones")
    rest = {(t.time_series_length, t.height, t.width) for t in input_types}
    if len(rest) > 1 and first.kind == CNN:
        raise ConfigError(f"vertex {name!r} ({type(vertex).__name__}): images of different heights/widths "
                          f"{[str(t) for t in input_types]} cannot be joined on the channel axis")
    steps = {t.time_series_length for t in input_types} - {None}
    if len(steps) > 1:
        raise ConfigError(f"vertex {name!r} ({type(vertex).__name__}): sequences of different lengths "
                          f"{sorted(steps)} cannot be joined")
    out = with_feature_size(first, sum(feature_size(t) for t in input_types))
    if first.kind == RNN and steps:
        out = InputType.recurrent(out.size, steps.pop())
    return out


def _call_chain(layers: list, tensors: list):
    """Apply `layers` in order, the first to the vertex's inputs (one tensor, or their list)."""
    x = tensors[0] if len(tensors) == 1 else list(tensors)
    for layer in layers:
        x = layer(x)
    return x



class GraphVertex(Buildable):
    """A vertex of a ComputationGraph configuration: how many inputs it takes, the InputType it
    makes of its inputs' types, and the graphc.nn layer it compiles to.

    `network_reads()` names what the vertex reads of the network's inputs besides its own inputs:
    `(input name, "features" or "mask")` pairs. `output_type` and `to_nn` see the types of its inputs
    followed by those (a mask's type is None); `to_nn(name, input_types)` gives the graphc.nn layers
    that `apply` calls in order, the first on its input tensors (one, or their list) followed by the
    tensors of those reads."""

    MIN_INPUTS, MAX_INPUTS = 1, 1

    def check_inputs(self, name: str, n: int) -> None:
        lo, hi = self.MIN_INPUTS, self.MAX_INPUTS
        if n < lo or (hi is not None and n > hi):
            want = f"exactly {lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            raise ConfigError(f"vertex {name!r} ({type(self).__name__}) has {n} input(s); it takes {want}: "
                              f"fix the inputs given to add_vertex({name!r}, ...)")

    def network_reads(self) -> list[tuple[str, str]]:
        return []

    def output_type(self, name: str, input_types: list) -> InputType:
        return input_types[0]

    def to_nn(self, name: str, input_types: list) -> list[Layer]:
        raise NotImplementedError

    def apply(self, name: str, tensors: list, input_types: list):
        layers = self.to_nn(name, input_types)
        return _call_chain(layers if isinstance(layers, list) else [layers], tensors)


def _same_types(vertex, name, input_types):
    first = input_types[0]
    for i, t in enumerate(input_types[1:], 1):
        if t != first:
            raise ConfigError(f"vertex {name!r} ({type(vertex).__name__}): input {i} is {t}, input 0 is {first}; "
                              f"its inputs must have one type")
    return first


class MergeVertex(GraphVertex):
    MAX_INPUTS = None

    def output_type(self, name, input_types):
        return merged_type(self, name, input_types)

    def to_nn(self, name, input_types):
        if len(input_types) == 1:
            return Identity(name=name)  # one input passes through
        return merging.Concatenate(axis=1, name=name)


class ElementWiseVertex(GraphVertex):
    class Op(enum.Enum):
        Add = "Add"
        Subtract = "Subtract"
        Product = "Product"
        Average = "Average"
        Max = "Max"

    FIELDS = {"op": Field(None, lambda v: enum_coercer(ElementWiseVertex.Op)(v))}
    POSITIONAL = ("op",)
    MAX_INPUTS = None
    _LAYERS = {"Add": merging.Add, "Subtract": merging.Subtract, "Product": merging.Multiply,
               "Average": merging.Average, "Max": merging.Maximum}

    def check_inputs(self, name, n):
        if self.op is None:
            raise ConfigError(f"vertex {name!r} (ElementWiseVertex) has no op: give one of "
                              f"{[m.name for m in ElementWiseVertex.Op]}")
        if self.op is ElementWiseVertex.Op.Subtract and n != 2:
            raise ConfigError(f"vertex {name!r} (ElementWiseVertex Subtract) has {n} input(s); it takes exactly 2")
        super().check_inputs(name, n)

    def output_type(self, name, input_types):
        return _same_types(self, name, input_types)

    def to_nn(self, name, input_types):
        return Identity(name=name) if len(input_types) == 1 else self._LAYERS[self.op.name](name=name)


class SubsetVertex(GraphVertex):
    """Features `from_idx..to_idx` (inclusive) of axis 1; DL4J's `SubsetVertex(from, to)`."""

    FIELDS = {"from_idx": 0, "to_idx": 0}
    POSITIONAL = ("from_idx", "to_idx")

    def output_type(self, name, input_types):
        t = input_types[0]
        size = feature_size(t)
        if not 0 <= self.from_idx <= self.to_idx or (size is not None and self.to_idx >= size):
            raise ConfigError(f"vertex {name!r} (SubsetVertex): range {self.from_idx}..{self.to_idx} (inclusive) "
                              f"does not fit an input of size {size}; give 0 <= from <= to < {size}")
        return with_feature_size(t, self.to_idx - self.from_idx + 1)

    def to_nn(self, name, input_types):
        return FeatureSubset(self.from_idx, self.to_idx, name=name)


class StackVertex(GraphVertex):
    MAX_INPUTS = None

    def output_type(self, name, input_types):
        return _same_types(self, name, input_types)

    def to_nn(self, name, input_types):
        return BatchStack(name=name)


class UnstackVertex(GraphVertex):
    FIELDS = {"from_idx": 0, "stack_size": 1}
    POSITIONAL = ("from_idx", "stack_size")

    def output_type(self, name, input_types):
        if not 0 <= self.from_idx < self.stack_size:
            raise ConfigError(f"vertex {name!r} (UnstackVertex): part {self.from_idx} of {self.stack_size}; give "
                              f"0 <= from < stack_size")
        return input_types[0]

    def to_nn(self, name, input_types):
        return BatchUnstack(self.from_idx, self.stack_size, name=name)


class L2Vertex(GraphVertex):
    FIELDS = {"eps": 1e-8}
    POSITIONAL = ("eps",)
    MIN_INPUTS = MAX_INPUTS = 2

    def output_type(self, name, input_types):
        _same_types(self, name, input_types)
        return InputType.feed_forward(1)

    def to_nn(self, name, input_types):
        return PairDistance(self.eps, name=name)


class L2NormalizeVertex(GraphVertex):
    FIELDS = {"dimension": None, "eps": 1e-8}
    POSITIONAL = ("dimension", "eps")

    def to_nn(self, name, input_types):
        dims = None if self.dimension in (None, (), -1, (-1,)) else \
            ([self.dimension] if isinstance(self.dimension, int) else list(self.dimension))
        return L2Normalize(dims, self.eps, name=name)


class ScaleVertex(GraphVertex):
    FIELDS = {"scale_factor": 1.0}
    POSITIONAL = ("scale_factor",)

    def to_nn(self, name, input_types):
        return Rescaling(scale=float(self.scale_factor), offset=0.0, name=name)


class ShiftVertex(GraphVertex):
    FIELDS = {"shift_factor": 0.0}
    POSITIONAL = ("shift_factor",)

    def to_nn(self, name, input_types):
        return Rescaling(scale=1.0, offset=float(self.shift_factor), name=name)


class LastTimeStepVertex(GraphVertex):
    FIELDS = {"mask_array_input_name": None}
    POSITIONAL = ("mask_array_input_name",)

    def network_reads(self):
        return [] if self.mask_array_input_name is None else [(self.mask_array_input_name, "mask")]

    def output_type(self, name, input_types):
        t = input_types[0]
        if t.kind != RNN:
            raise ConfigError(f"vertex {name!r} (LastTimeStepVertex) needs a recurrent input [batch, size, time], "
                              f"got {t}")
        return InputType.feed_forward(feature_size(t))

    def to_nn(self, name, input_types):
        return LastTimeStep(name=name)


class DuplicateToTimeSeriesVertex(GraphVertex):
    FIELDS = {"input_name": None}
    POSITIONAL = ("input_name",)

    def network_reads(self):
        return [(self.input_name, "features")]

    def check_inputs(self, name, n):
        if not self.input_name:
            raise ConfigError(f"vertex {name!r} (DuplicateToTimeSeriesVertex) names no network input to take the "
                              f"time length from: give DuplicateToTimeSeriesVertex('<input name>')")
        super().check_inputs(name, n)

    def output_type(self, name, input_types):
        t, ref = input_types
        if t.kind != FF or ref.kind != RNN:
            raise ConfigError(f"vertex {name!r} (DuplicateToTimeSeriesVertex) needs a feed-forward input "
                              f"[batch, size] and a recurrent network input {self.input_name!r}, got {t} and {ref}")
        return InputType.recurrent(t.size, ref.time_series_length)

    def to_nn(self, name, input_types):
        return DuplicateToTime(name=name)


class PreprocessorVertex(GraphVertex):
    """An input preprocessor (graphc.dl4j.input_type) as a vertex of its own."""

    FIELDS = {"preprocessor": None}
    POSITIONAL = ("preprocessor",)

    def check_inputs(self, name, n):
        if not isinstance(self.preprocessor, InputPreProcessor):
            raise ConfigError(f"vertex {name!r} (PreprocessorVertex) needs an InputPreProcessor, got "
                              f"{self.preprocessor!r}")
        super().check_inputs(name, n)

    def output_type(self, name, input_types):
        return self.preprocessor.output_type(input_types[0])

    def to_nn(self, name, input_types):
        return self.preprocessor.to_nn()


class LayerVertex(GraphVertex):
    """A layer configuration placed in the graph (`add_layer`), with the preprocessor in front of it
    (given, or the one DL4J puts there for the incoming type). Several inputs are joined first, as
    DL4J joins them: a MergeVertex on axis 1."""

    FIELDS = {"layer": None, "preprocessor": None}
    MAX_INPUTS = None

    def layer_input_type(self, name: str, input_types: list) -> InputType:
        t = merged_type(self, name, input_types)
        return t if self.preprocessor is None else self.preprocessor.output_type(t)

    def output_type(self, name, input_types):
        return self.layer.output_type(self.layer_input_type(name, input_types))

    def to_nn(self, name, input_types):
        join = [] if len(input_types) == 1 else [merging.Concatenate(axis=1, name=f"{name}_merge")]
        pre = [] if self.preprocessor is None else self.preprocessor.to_nn()
        return join + pre + list(self.layer.to_nn(self.layer_input_type(name, input_types)))
