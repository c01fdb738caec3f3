"""`Input`, `InputLayer`, the functional `Model` and `Sequential`.

A `Model` is a layer (it can be called inside another model) and a `GraphModel` (it runs through
ONNX Runtime): it replays the recorded layer calls between its inputs and outputs into a graph of
its own, with the batch dimension symbolic.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import GraphError
from graphc.ir import Graph
from graphc.model import GraphModel
from graphc.nn.base import BATCH, Emitter, KerasTensor, Layer, Node, flatten, map_structure
from graphc.types import TensorType


class InputLayer(Layer):
    name_stem = "input_layer"

    def __init__(self, shape=None, batch_size=None, dtype="float32", batch_shape=None, name=None,
                 sparse=False, ragged=False, optional=False, input_tensor=None, batch_input_shape=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(dtype, dict):  # a DTypePolicy
            dtype = dtype.get("config", {}).get("name", "float32")
        batch_shape = batch_shape or batch_input_shape
        if batch_shape is None:
            batch_shape = (batch_size,) + tuple(shape or ())
        self.batch_shape = tuple(batch_shape)
        self.dtype = np.dtype(dtype or "float32")
        self.built = True
        dims = [BATCH if i == 0 and d is None else (d if d is not None else f"{self.name}_d{i}")
                for i, d in enumerate(self.batch_shape)]
        self.type = TensorType(self.dtype, dims)
        tensor = KerasTensor(self.type)
        node = Node(self, [], {}, [tensor])
        tensor.node = node
        self._nodes.append(node)
        self.output = tensor


def Input(shape=None, batch_size=None, dtype="float32", name=None, batch_shape=None, **kwargs) -> KerasTensor:
    """A symbolic model input (Keras's `keras.Input`); the batch dimension is added in front."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                      name=name, **kwargs).output


def map_graph(inputs: list[KerasTensor], outputs: list[KerasTensor]):
    """(calls, layers) of a functional model, as Keras's `map_graph` finds them.

    `calls`: the layer calls between `inputs` and `outputs` in an order that respects dependencies
    (the post-order of a depth-first walk back from the outputs). `layers`: Keras's order
    (`Functional.layers`, the order of the config's "layers" list and of the `layers/<class>_N`
    weight groups): the walk numbers each layer when first reached, a layer's depth is the longest
    path from any of its calls to an output, and layers sort deepest first, ties by that number.
    Iterative, so that deep models do not hit Python's recursion limit.
    """
    input_ids = {id(t) for t in inputs}
    index: dict[int, int] = {}
    layer_of: dict[int, Layer] = {}
    post, finished, in_progress = [], set(), set()

    def enter(t):
        """The node to descend into from tensor `t`, or None (Keras's `_build_map_helper` prologue)."""
        node = t.node
        if node is None and id(t) not in input_ids:
            raise GraphError(f"output depends on an input that is not among the model inputs: {t}")
        if node is None or id(node) in finished:
            return None
        if not isinstance(node.layer, InputLayer) and id(t) in input_ids:
            finished.add(id(node))
            return None
        if isinstance(node.layer, InputLayer) and id(t) not in input_ids:
            raise GraphError(f"output depends on an input that is not among the model inputs: {t}")
        if id(node) in in_progress:
            raise GraphError(f"layer {node.layer.name!r} is part of a cycle")
        index.setdefault(id(node.layer), len(index))
        layer_of[id(node.layer)] = node.layer
        in_progress.add(id(node))
        return node

    for out in outputs:
        root = enter(out)
        stack = [(root, iter(root.keras_inputs))] if root else []  # an InputLayer's call has none
        while stack:
            node, it = stack[-1]
            child = next((c for c in (enter(t) for t in it) if c is not None), None)
            if child is not None:
                stack.append((child, iter(child.keras_inputs)))
                continue
            stack.pop()
            finished.add(id(node))
            in_progress.discard(id(node))
            post.append(node)

    in_graph = {id(n) for n in post}
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(post):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        for t in node.keras_inputs:
            parent = t.node
            if parent is not None and id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:  # inputs no output depends on still belong to the model
        if t.node is not None and isinstance(t.node.layer, InputLayer) and id(t.node.layer) not in layer_depth:
            layer_depth[id(t.node.layer)], index[id(t.node.layer)] = 0, -1
            layer_of[id(t.node.layer)] = t.node.layer
    order = sorted(layer_depth, key=lambda k: (-layer_depth[k], index[k]))
    return [n for n in post if not isinstance(n.layer, InputLayer)], [layer_of[k] for k in order]


class Model(Layer, GraphModel):
    """A functional model: `Model(inputs, outputs)` over tensors from `Input` and layer calls."""

    supports_masking = True
    name_stem = "functional"

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        if inputs is not None:
            self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs):
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        self._call_nodes, self.layers = map_graph(self.inputs, self.outputs)
        self.built = True
        GraphModel.__init__(self, self.build_graph(), name=self.name, weights=self.weights)

    def sublayers(self):
        from graphc.nn.base import snake_case

        counts, out = {}, []
        for l in self.layers:
            # the class Keras saved (an imported layer's, a model's) names the weight group
            key = snake_case(getattr(l, "keras_class", None) or type(l).__name__)
            n = counts.get(key, -1) + 1
            counts[key] = n
            out.append((f"layers/{key}" + (f"_{n}" if n else ""), l))
        return out

    keras_class = "Functional"

    def build_graph(self, training: bool = False) -> Graph:
        """A new graph of the model: the inference graph (`self.graph`, what predict runs) or, with
        `training=True`, the training graph: dropout and noise active, BatchNormalization on batch
        statistics. After the model's outputs, a training graph has one output per state update,
        named in `graph.meta["updates"]` ({output name: (layer name, weight name)}: the value the
        weight takes after the step, e.g. a moving mean) and one per loss term, named in
        `graph.meta["losses"]` (activity regularization, to add to the loss)."""
        g = Graph(self.name)
        em = Emitter(g, training=training)
        env = {}
        for t in self.inputs:
            layer = t.node.layer
            env[id(t)] = (g.add_input(layer.name, t.type), None)
        self._replay(em, env)
        names = set()
        for i, t in enumerate(self.outputs):
            name = t.node.layer.name if t.node else f"output_{i}"
            if name in names:
                name = f"{name}_{i}"
            names.add(name)
            g.add_output(name, env[id(t)][0])
        if training:
            g.meta["updates"], g.meta["losses"] = {}, []
            for w, v in em.updates:
                name = f"{w.layer.name}/{w.name}:update"
                g.add_output(name, v)
                g.meta["updates"][name] = (w.layer.name, w.name)
            for i, v in enumerate(em.losses):
                g.add_output(f"loss_{i}", v)
                g.meta["losses"].append(f"loss_{i}")
        return g

    def _replay(self, em: Emitter, env: dict):
        """Emit every recorded call into `em`; `env` maps id(KerasTensor) -> (value, mask)."""
        for node in self._call_nodes:
            args = [env[id(t)][0] if isinstance(t, KerasTensor) else t for t in node.args]
            masks = [env[id(t)][1] if isinstance(t, KerasTensor) else None for t in node.args]
            kwargs = {k: map_structure(lambda t: env[id(t)][0] if isinstance(t, KerasTensor) else t, v)
                      for k, v in node.kwargs.items() if k != "mask"}
            if "mask" in node.kwargs:
                masks = [env[id(t)][0] if isinstance(t, KerasTensor) else None for t in flatten(node.kwargs["mask"])]
            outs, out_masks = node.layer.emit(em, args, kwargs, masks)
            for t, v, m in zip(node.outputs, outs, out_masks):
                env[id(t)] = (v, m)

    def call(self, em, x, mask=None, **kwargs):
        xs = flatten(x)
        masks = flatten(mask) if isinstance(mask, list) else [mask] * len(xs)
        env = {id(t): (v, m) for t, v, m in zip(self.inputs, xs, masks)}
        self._replay(em, env)
        self._last_masks = [env[id(t)][1] for t in self.outputs]
        outs = [env[id(t)][0] for t in self.outputs]
        return outs[0] if len(outs) == 1 else outs

    def compute_mask(self, em, x, mask):
        return self._last_masks

    # ---- inspection ---------------------------------------------------------------------
    @property
    def transpose_count(self) -> int:
        """Transposes on data (not on weights) left in the graph: the layout cost of channels-last."""
        g = self.graph
        return sum(1 for n in g.op_nodes() if g.op(n) == "Transpose"
                   and g.op(g.input_values(n)[0][0]) not in ("Variable", "Constant"))

    def summary(self, print_fn=print) -> str:
        from graphc.nn.summary import summary_table

        text = summary_table(self)
        if print_fn is not None:
            print_fn(text)
        return text

    def save(self, filepath) -> None:
        """Keras's `model.save`: a Keras 3 `.keras` file that real Keras loads (graphc/lower/keras.py)."""
        from graphc.lower.keras import save_keras

        save_keras(self, filepath)

    def get_weights(self) -> list:
        self.sync_weights()  # a trainer's resident parameters first
        return super().get_weights()

    def set_weights(self, arrays, source: str = "") -> None:
        self.sync_weights()  # the weights not given keep what training made of them
        super().set_weights(arrays, source)
        self._compiled.clear()

    def apply_updates(self, graph: Graph, results: dict) -> None:
        """Write the state updates of a training step into their weights: `graph` is a training
        graph of this model, `results` its outputs by name (those `graph.meta["updates"]` names)."""
        by_key = {(w.layer.name, w.name): w for w in self.weights}
        for output, key in graph.meta.get("updates", {}).items():
            by_key[tuple(key)].assign(results[output])


class Sequential(Model):
    """A stack of layers; built as soon as its input shape is known."""

    keras_class = "Sequential"
    name_stem = "sequential"

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self._stack: list[Layer] = []
        self._input_layer = None
        for l in layers or []:
            self._push(l)
        if self._input_layer is not None and self._stack:
            self._build_from(self._input_layer.output)

    def _push(self, layer):
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            self._input_layer = layer
        else:
            self._stack.append(layer)

    def add(self, layer: Layer):
        self._push(layer)
        if self._input_layer is not None and self._stack:
            self._build_from(self._input_layer.output)

    def build(self, input_shape):
        if not self.built:
            self._input_layer = InputLayer(batch_shape=input_shape)
            self._build_from(self._input_layer.output)

    def _build_from(self, x: KerasTensor):
        inp = x
        for l in self._stack:
            x = l(x)
        self._init_graph(inp, x)

    def sublayers(self):
        return [(k, l) for k, l in super().sublayers() if not isinstance(l, InputLayer)] \
            if self.built else []

    @property
    def layers_stack(self):
        return list(self._stack)
