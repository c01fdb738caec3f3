"""The layer machinery: `Weight`, symbolic `KerasTensor`s, the `Emitter` that writes IR, `Layer`.

A layer is configured with Keras's keys, declares its `Weight`s in Keras's order and layout, and
emits standard ONNX ops through an `Emitter`. Calling a layer on `KerasTensor`s emits the call into
a scratch graph fed by placeholders of the inputs' types (which gives the outputs their types, then
is dropped) and records a `Node`; a KerasTensor carries its own type and producing node, so no graph
outlives the call. A `Model` replays its nodes into a graph of its own, for inference or training
(`Emitter.training`). A Variable node holds the `Weight`'s array itself, so assigning a weight in
place updates every graph that reads it. See docs/design/layers.md.
"""
from __future__ import annotations

import re

import numpy as np

from graphc.errors import ModelFormatError, ShapeError
from graphc.ir import Graph
from graphc.nn.names import NAMES
from graphc.types import TensorType

BATCH = "batch"


def snake_case(name: str) -> str:
    """Keras's `to_snake_case`: the stem of default layer names and weight-file keys."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s


class Weight:
    """One array of a layer, in Keras's layout; `assign` checks the shape and writes in place.
    `initializer`, `regularizer` and `constraint` are the Keras objects configured for it."""

    def __init__(self, layer: "Layer", name: str, value: np.ndarray, trainable: bool = True,
                 initializer=None, regularizer=None, constraint=None):
        self.layer, self.name, self.trainable = layer, name, trainable
        self.value = np.array(value, dtype=np.float32, order="C")
        self.initializer, self.regularizer, self.constraint = initializer, regularizer, constraint
        self.version = 0  # every write bumps it: a GraphModel reading this weight recompiles (model.py)

    @property
    def shape(self):
        return self.value.shape

    def assign(self, arr, source: str = "") -> None:
        arr = np.asarray(arr)
        if tuple(arr.shape) != tuple(self.value.shape):
            raise ModelFormatError(f"{source + ': ' if source else ''}layer {self.layer.name!r} "
                                   f"({type(self.layer).__name__}): weight {self.name!r} has shape "
                                   f"{list(arr.shape)}, expected {list(self.value.shape)}")
        self.value[...] = arr.astype(np.float32)
        self.version += 1

    def __repr__(self):
        return f"<Weight {self.layer.name}/{self.name} {list(self.shape)}>"


class Emitter:
    """Writes IR ops into one graph; `scope` prefixes node names with the emitting layer's name.

    `training` selects the layers' training behaviour (a call's explicit `training=` overrides it
    for that call and the calls inside it). In training, layers record `updates` (a non-trainable
    Weight and the value it takes after the step: BatchNormalization's moving statistics) and
    `losses` (scalar values to add to the loss: activity regularization).
    """

    def __init__(self, graph: Graph, training: bool = False):
        self.graph = graph
        self.scope = ""
        self.training = bool(training)
        self.updates: list[tuple[Weight, tuple]] = []
        self.losses: list[tuple] = []
        self._weights: dict[int, tuple] = {}

    def op(self, op: str, *inputs, n_outputs: int = 1, outputs=None, name: str | None = None, captures: int = 0,
           **attrs):
        base = name or op
        key = self.graph.add_node(op, list(inputs), attrs, outputs, n_outputs=n_outputs,
                                  name=f"{self.scope}/{base}" if self.scope else base, captures=captures)
        if n_outputs == 1:
            return (key, 0)
        return [(key, i) for i in range(n_outputs)]

    def const(self, value, dtype=np.float32, name: str = "const"):
        arr = np.asarray(value, dtype=dtype)
        return self.graph.add_constant(arr, name=f"{self.scope}/{name}" if self.scope else name)

    def ints(self, values, name: str = "ints"):
        return self.const(np.asarray(values, np.int64), np.int64, name)

    def weight(self, w: Weight):
        """The Variable holding `w` in this graph (one per weight, however often the layer is called)."""
        if id(w) not in self._weights:
            v = self.graph.add_variable(w.value, name=f"{w.layer.name}/{w.name}")
            if not (w.trainable and w.layer.trainable):  # autodiff builds no gradient for it
                self.graph.attrs(v[0])["trainable"] = False
            self._weights[id(w)] = (w, v)
        return self._weights[id(w)][1]

    def type(self, v) -> TensorType:
        return self.graph.type_of(v)

    def shape(self, v) -> tuple:
        return tuple(self.graph.type_of(v).shape)

    def rank(self, v) -> int:
        return len(self.shape(v))

    # ---- small composites used by many layers -------------------------------------------
    def transpose(self, x, perm):
        perm = [int(p) for p in perm]
        if perm == sorted(perm):
            return x
        return self.op("Transpose", x, perm=perm)

    def reshape(self, x, shape):
        return self.op("Reshape", x, self.ints(shape, "shape"))

    def unsqueeze(self, x, axes):
        return self.op("Unsqueeze", x, self.ints(axes, "axes"))

    def squeeze(self, x, axes):
        return self.op("Squeeze", x, self.ints(axes, "axes"))

    def slice(self, x, starts, ends, axes, steps=None):
        args = [x, self.ints(starts, "starts"), self.ints(ends, "ends"), self.ints(axes, "axes")]
        if steps is not None:
            args.append(self.ints(steps, "steps"))
        return self.op("Slice", *args)

    def reduce(self, op, x, axes, keepdims=True):
        return self.op(op, x, self.ints(axes, "axes"), keepdims=int(keepdims))

    def concat(self, xs, axis):
        return xs[0] if len(xs) == 1 else self.op("Concat", *xs, axis=int(axis))

    def split(self, x, n, axis):
        return self.op("Split", x, axis=int(axis), num_outputs=n, n_outputs=n)

    def broadcast_to_axis(self, v, rank: int, axes):
        """Reshape a weight laid out over `axes` of a rank-`rank` tensor so that it broadcasts."""
        shape = self.shape(v)
        target = [1] * rank
        for a, d in zip(axes, shape):
            target[a] = d
        if list(shape) == target[rank - len(shape):]:
            return v
        return self.reshape(v, target)


class KerasTensor:
    """A symbolic tensor: its type, the type of its Keras mask (None without one), the node that
    made it, and its value when that is a constant (type inference may read it)."""

    def __init__(self, type: TensorType, mask=None, node: "Node | None" = None, index: int = 0, const=None):
        self.type, self.mask, self.node, self.index, self.const = type, mask, node, index, const

    def placeholder(self, em: Emitter, name: str):
        """A value standing for this tensor in a scratch graph."""
        if self.const is not None:
            return em.graph.add_constant(self.const, name=name)
        return em.graph.add_input(name, self.type)

    @property
    def shape(self) -> tuple:
        """Keras-style shape: None for the batch dimension and any unknown size."""
        return tuple(d if isinstance(d, int) else None for d in self.type.shape)

    @property
    def dtype(self):
        return self.type.dtype

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} dtype={self.dtype}>"


class Node:
    """One call of a layer: its inputs (a structure of KerasTensors), keyword arguments and outputs."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs
        self.keras_inputs: list[KerasTensor] = []  # as Keras's `Node.input_tensors` orders them


def flatten(x) -> list:
    """Leaves of nested lists/dicts (tuples are leaves: a graph value is a tuple)."""
    if isinstance(x, list):
        return [y for e in x for y in flatten(e)]
    if isinstance(x, dict):
        return [y for e in x.values() for y in flatten(e)]
    return [x]


def keras_flatten(x) -> list:
    """Leaves in the order of Keras's `tree.flatten`: sequences in order, dict values by sorted key."""
    if isinstance(x, (list, tuple)) and not isinstance(x, KerasTensor):
        return [y for e in x for y in keras_flatten(e)]
    if isinstance(x, dict):
        return [y for k in sorted(x) for y in keras_flatten(x[k])]
    return [x]


def map_structure(fn, x):
    if isinstance(x, list):
        return [map_structure(fn, e) for e in x]
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    return fn(x)


# config keys that change nothing graphc computes (`seed`, `dropout`: of layers that have no
# training form here, such as a bare RNN cell; the layers that have one take them by name)
_IGNORED = re.compile(r"^(dtype|trainable|input_shape|batch_input_shape|batch_size|input_dim|input_length|"
                      r"seed|autocast|quantization_config|lora_rank|lora_alpha|unroll|time_major|stateful|"
                      r"dropout|recurrent_dropout|implementation|supports_masking|module)$")
# initializers, regularizers and constraints, kept as Keras objects (docs/design/layers.md)
_KERAS_OBJECTS = re.compile(r"^(?:(.+)_(initializer|regularizer|constraint)|activity_regularizer)$")


class Layer:
    """Base layer. Subclasses set `supports_masking`, create weights in `build(input_shape)` and emit
    ops in `call(em, x, mask=None, **kwargs)` (values of `em`'s graph) returning a value or a list."""

    supports_masking = False
    # Keras's `call` parameters in order: the first `n_call_inputs` make up `x` (a list when more
    # than one; the first `n_required_inputs` must be given), the others reach `call` as keywords;
    # a Keras file may pass any of them by keyword
    call_args: tuple[str, ...] = ("inputs",)
    n_call_inputs = n_required_inputs = 1

    name_stem: str | None = None  # stem of default names; the snake_case class name when None

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._constructor_args = (args, dict(kwargs))  # the constructor arguments get_config reports
        return self

    def __init__(self, name: str | None = None, trainable: bool = True, **kwargs):
        objects = {k: kwargs.pop(k) for k in list(kwargs) if _KERAS_OBJECTS.match(k)}
        unknown = [k for k in kwargs if not _IGNORED.match(k)]
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s) {unknown}")
        if name is not None and not isinstance(name, str):  # names become ONNX value names
            raise TypeError(f"{type(self).__name__} name {name!r} is not a string")
        if name:
            self.name = name
            NAMES.hold(self, name)
        else:
            self.name = NAMES.claim(self, self.name_stem or snake_case(type(self).__name__))
        self.trainable = trainable
        self.built = False
        self._weights: list[Weight] = []
        self._nodes: list[Node] = []
        self.keras_objects: dict = {}  # "kernel_initializer" -> Initializer, ... as configured
        for key, value in objects.items():
            self.set_keras_object(key, value)

    def __setstate__(self, state):
        self.__dict__.update(state)
        NAMES.hold(self, self.name)  # an unpickled layer's name is taken in this process too

    def set_keras_object(self, key: str, value) -> None:
        """Keep the initializer, regularizer or constraint configured under `key` (Keras's name)."""
        from graphc.errors import UnsupportedOpError
        from graphc.nn import constraints, initializers, regularizers

        kind = _KERAS_OBJECTS.match(key).group(2) or "regularizer"
        module = {"initializer": initializers, "regularizer": regularizers, "constraint": constraints}[kind]
        try:
            self.keras_objects[key] = module.get(value)
        except (TypeError, ValueError) as e:
            raise UnsupportedOpError(f"layer {self.name!r} ({type(self).__name__}): {key}: {e}") from None

    # ---- weights ------------------------------------------------------------------------
    def add_weight(self, name: str, shape, init: str = "glorot_uniform", trainable: bool = True,
                   key: str | None = None) -> Weight:
        """A weight made by the initializer configured as `{key}_initializer` (`key` defaults to
        `name`: Keras names `recurrent_kernel`'s `recurrent_initializer`), else by `init`."""
        from graphc.limits import check_shape
        from graphc.nn import initializers
        from graphc.nn.keras_objects import Opaque

        # a config's sizes (units=2**31) are checked before numpy allocates them
        shape = check_shape(shape, 4, f"layer {self.name!r} ({type(self).__name__})", f"weight {name!r}")
        key = key or name
        initializer = self.keras_objects.get(f"{key}_initializer") or initializers.get(init)
        try:
            # an unknown (custom) initializer keeps its config; its weights start at zero until set
            value = np.zeros(shape, np.float32) if isinstance(initializer, Opaque) else initializer(shape)
        except ValueError as e:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}): weight {name!r}: {e}") from None
        w = Weight(self, name, value, trainable, initializer, self.keras_objects.get(f"{key}_regularizer"),
                   self.keras_objects.get(f"{key}_constraint"))
        self._weights.append(w)
        return w

    def sublayers(self) -> list[tuple[str, "Layer"]]:
        """Layers held inside this one, with the key Keras's weight file uses for each."""
        return []

    @property
    def weights(self) -> list[Weight]:
        """All weights in Keras's order: own, then those of the sublayers."""
        out = list(self._weights)
        for _, sub in self.sublayers():
            out += [w for w in sub.weights if w not in out]
        return out

    def get_weights(self) -> list[np.ndarray]:
        return [w.value.copy() for w in self.weights]

    def set_weights(self, arrays, source: str = "") -> None:
        ws = self.weights
        if len(arrays) != len(ws):
            raise ModelFormatError(f"{source + ': ' if source else ''}layer {self.name!r} "
                                   f"({type(self).__name__}) has {len(ws)} weights "
                                   f"{[w.name for w in ws]}, got {len(arrays)}")
        for w, a in zip(ws, arrays):
            w.assign(a, source)

    def count_params(self) -> int:
        return int(sum(w.value.size for w in self.weights))

    # ---- calling ------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of `input_shape` (a tuple, or a list of them)."""

    def call(self, em: Emitter, x, mask=None, **kwargs):
        raise NotImplementedError

    def compute_mask(self, em: Emitter, x, mask):
        return mask if self.supports_masking else None

    def emit(self, em: Emitter, args, kwargs, masks):
        """Emit one call: `args` holds values, `masks` the matching input masks; returns
        (outputs, output masks) as lists. An explicit `training` keyword overrides `em.training`
        for this call and every call inside it (Keras's call-context rule)."""
        kwargs = dict(kwargs)
        training = kwargs.pop("training", None)
        x = args[0] if len(args) == 1 else list(args)
        mask = masks[0] if len(masks) == 1 else (list(masks) if any(m is not None for m in masks) else None)
        if not self.built:
            self.build(map_structure(lambda v: _keras_shape(em.shape(v)) if isinstance(v, tuple) else None, x))
            self.built = True
        outer = em.scope, em.training
        em.scope = self.name
        if training is not None:
            em.training = bool(training)
        try:
            out = self.call(em, x, mask=mask, **kwargs)
            out_mask = self.compute_mask(em, x, mask)
            if em.training and self.keras_objects.get("activity_regularizer") is not None:
                for y in (out if isinstance(out, list) else [out]):
                    em.losses.append(self._activity_loss(em, y))
        finally:
            em.scope, em.training = outer
        outs = list(out) if isinstance(out, list) else [out]
        out_masks = list(out_mask) if isinstance(out_mask, list) else [out_mask] * len(outs)
        return outs, out_masks

    def _activity_loss(self, em, y):
        """Keras 3's activity loss: the regularizer's penalty of an output over its batch size."""
        loss = self.keras_objects["activity_regularizer"].penalty(em, y)
        if em.rank(y) == 0:
            return loss
        batch = em.op("Cast", em.reshape(em.slice(em.op("Shape", y), [0], [1], [0]), []), to=1)
        # Keras's divide_no_nan: an empty batch has a zero penalty, and 0 / 1 keeps it so
        return em.op("Div", loss, em.op("Max", batch, em.const(np.float32(1))))

    def bind_call(self, args, kwargs) -> tuple[list, dict]:
        """Keras's call arguments, positional or keyword, as (the inputs making up `x`, keywords)."""
        names, kwargs = self.call_args, dict(kwargs)
        if len(args) > len(names):  # graphc's own form: every positional argument is an input
            return list(args), kwargs
        bound = dict(zip(names, args))
        for n in names:
            if n in kwargs:
                if n in bound:
                    raise TypeError(f"layer {self.name!r}: got multiple values for argument {n!r}")
                bound[n] = kwargs.pop(n)
        inputs = [bound.pop(n, None) for n in names[:self.n_call_inputs]]
        while len(inputs) > self.n_required_inputs and inputs[-1] is None:  # MHA's key left out
            inputs.pop()
        if any(v is None for v in inputs):
            missing = next(n for n, v in zip(names, inputs) if v is None)
            raise TypeError(f"layer {self.name!r}: missing input argument {missing!r} "
                            f"(Keras call signature: {', '.join(names)})")
        kwargs.update(bound)
        return inputs, kwargs

    def __call__(self, *args, **kwargs):
        args = [list(a) if isinstance(a, tuple) else a for a in args]
        # the input tensors in the order Keras's Node lists them (it numbers layers by that walk)
        keras_inputs = [t for t in keras_flatten([args, kwargs]) if isinstance(t, KerasTensor)]
        args, kwargs = self.bind_call(args, kwargs)
        tensors = [t for t in flatten([args, list(kwargs.values())]) if isinstance(t, KerasTensor)]
        if not tensors:
            raise TypeError(f"layer {self.name!r}: call it on symbolic tensors from graphc.nn.Input")
        explicit_mask = kwargs.pop("mask", None)
        inputs = flatten(args[0]) if len(args) == 1 else flatten(args)
        # the call is emitted into a scratch graph (dropped on return) fed by placeholders: it
        # builds the layer and gives the outputs their types; a Model replays it for real
        em = Emitter(Graph(f"call_{self.name}"))
        held: dict[int, tuple] = {}

        def value(t):
            if not isinstance(t, KerasTensor):
                return t
            if id(t) not in held:
                held[id(t)] = t.placeholder(em, f"in{len(held)}")
            return held[id(t)]

        def mask_value(t):
            return em.graph.add_input("mask", t.mask) if isinstance(t, KerasTensor) \
                and t.mask is not None else None

        masks = [mask_value(t) for t in inputs]
        if explicit_mask is not None:
            masks = [value(m) for m in flatten(explicit_mask)]
        node_kwargs = dict(kwargs)
        vals = [value(t) for t in inputs]
        kw_vals = map_structure(value, kwargs)
        outs, out_masks = self.emit(em, vals, kw_vals, masks)
        node = Node(self, inputs, node_kwargs, [])
        node.keras_inputs = keras_inputs
        if explicit_mask is not None:
            node.kwargs["mask"] = explicit_mask
        node.outputs = [KerasTensor(em.type(v), None if m is None else em.type(m), node, i, em.graph.const_value(v))
                        for i, (v, m) in enumerate(zip(outs, out_masks))]
        self._nodes.append(node)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    @property
    def output_shape(self):
        if not self._nodes:
            return None
        shapes = [t.shape for t in self._nodes[0].outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_config(self) -> dict:
        """The constructor's arguments by Keras's config keys (defaults filled in), the name, and
        the initializers, regularizers and constraints serialized as Keras writes them."""
        import inspect

        args, kwargs = self._constructor_args
        sig = inspect.signature(type(self).__init__)
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        cfg = {}
        for k, v in list(bound.arguments.items())[1:]:
            kind = sig.parameters[k].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                cfg.update(v)
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                cfg[k] = v
        cfg.update(name=self.name, trainable=self.trainable)
        cfg.update({k: None if o is None else o.serialize() for k, o in self.keras_objects.items()})
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


def weight_objects(layer: Layer) -> dict:
    """A layer's configured initializers, regularizers and constraints of weights (not of its
    activity): what a wrapper hands to the inner layer that makes those weights (an RNN's cell)."""
    return {k: v for k, v in layer.keras_objects.items() if k != "activity_regularizer"}


def _keras_shape(shape) -> tuple:
    return tuple(d if isinstance(d, int) else None for d in shape)


def as_tuple(v, n: int) -> tuple:
    """Keras's `standardize_tuple`: an int or a sequence of n ints."""
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(e) for e in v)
    if len(v) != n:
        raise ValueError(f"expected {n} values, got {list(v)}")
    return v
