"""DL4J's `GraphBuilder` (`NeuralNetConfiguration.Builder()...graph_builder()`) and the
`ComputationGraphConfiguration` it builds.

    conf = (NeuralNetConfiguration.Builder().seed(1).updater(Updater.ADAM).graph_builder()
            .add_inputs("in1", "in2")
            .add_layer("L1", DenseLayer(n_in=3, n_out=4), "in1")
            .add_layer("L2", DenseLayer(n_in=3, n_out=4), "in2")
            .add_vertex("merge", MergeVertex(), "L1", "L2")
            .add_layer("out", OutputLayer(LossFunction.MCXENT, n_in=8, n_out=3), "merge")
            .set_outputs("out")
            .build())

`build()` checks the whole graph before anything is trained and raises one ConfigError naming
the vertex and the fix: a name given twice, an input that names no vertex or network input, a
vertex with a number of inputs it cannot take, a cycle, an output that is not an output layer,
TBPTT without a recurrent layer, and (from the types) an n_in that does not fit. Each layer is
cascaded from the global configuration; the network inputs' types come from
`set_input_types(...)`, or else from the n_in of the one layer an input feeds; the types then
flow in topological order, inferring every unset n_in and adding the preprocessor DL4J puts in
front of a layer whose kind of input differs (a convolution feeding a dense layer).
"""
from __future__ import annotations

import json

from graphc.dl4j.builder import Buildable, ConfigError, Field, enum_coercer, from_json_value
from graphc.dl4j.enums import BackpropType
from graphc.dl4j.graph.vertices import GraphVertex, LayerVertex, merged_type
from graphc.dl4j.input_type import CNN, CNN_FLAT, RNN, InputPreProcessor, InputType
from graphc.dl4j.layers.base import LayerConf


class ComputationGraphConfiguration(Buildable):
    """A checked graph: network inputs and outputs, vertices in the order they were added (layers
    as LayerVertex, cascaded, n_in set), each vertex's inputs, and the types of the inputs."""

    FIELDS = {"global_conf": None, "network_inputs": (), "network_outputs": (), "vertices": {},
              "vertex_inputs": {}, "input_types": None,
              "backprop_type": Field(BackpropType.STANDARD, enum_coercer(BackpropType)),
              "tbptt_fwd_length": 20, "tbptt_back_length": 20, "pretrain": False, "backprop": True}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @staticmethod
    def from_json(text: str) -> "ComputationGraphConfiguration":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"ComputationGraphConfiguration.from_json: not JSON ({e})") from None
        conf = from_json_value(d)
        if not isinstance(conf, ComputationGraphConfiguration):
            raise ConfigError(f"ComputationGraphConfiguration.from_json: the JSON holds a {type(conf).__name__}")
        for i, name in enumerate(conf.layer_names()):
            conf.vertices[name].layer.index = i  # not a field: error messages name the layer by it
        return conf

    def layer_names(self) -> list[str]:
        return [n for n, v in self.vertices.items() if isinstance(v, LayerVertex)]

    def topological_order(self) -> list[str]:
        return topological_order(self.network_inputs, self.vertices, self.vertex_inputs)

    def types(self) -> dict:
        """name -> InputType of every network input and vertex output."""
        types = dict(zip(self.network_inputs, self.input_types))
        for name in self.topological_order():
            types[name] = self.vertices[name].output_type(name, self.vertex_input_types(name, types))
        return types

    def vertex_input_types(self, name: str, types: dict) -> list:
        """The types a vertex sees: its inputs', then those of the network inputs it reads."""
        v = self.vertices[name]
        return [types[i] for i in self.vertex_inputs[name]] + \
            [types[i] if what == "features" else None for i, what in v.network_reads()]


def topological_order(inputs, vertices: dict, vertex_inputs: dict) -> list[str]:
    """The vertices in an order where each comes after its inputs (ties: the order they were added);
    a cycle raises ConfigError naming the vertices on it."""
    done, order = set(inputs), []
    pending = list(vertices)
    while pending:
        ready = [n for n in pending if all(i in done for i in _reads(n, vertices, vertex_inputs))]
        if not ready:
            cycle = _find_cycle(pending, vertices, vertex_inputs)
            raise ConfigError(f"the graph has a cycle: {' -> '.join(cycle)}; a vertex cannot take its own output "
                              f"as input, directly or through others: remove one of these connections")
        for n in ready:
            done.add(n)
            order.append(n)
        pending = [n for n in pending if n not in done]
    return order


def _reads(name, vertices, vertex_inputs):
    return list(vertex_inputs[name]) + [i for i, _ in vertices[name].network_reads()]


def _find_cycle(pending, vertices, vertex_inputs) -> list[str]:
    stuck = set(pending)
    path, seen = [pending[0]], {pending[0]: 0}
    while True:
        nxt = next(i for i in vertex_inputs[path[-1]] if i in stuck)
        if nxt in seen:
            return path[seen[nxt]:] + [nxt]
        seen[nxt] = len(path)
        path.append(nxt)


class GraphBuilder:
    """DL4J's `ComputationGraphConfiguration.GraphBuilder` in Python spelling (see the module doc)."""

    def __init__(self, global_conf=None):
        self._global = global_conf
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        self._vertices: dict = {}
        self._vertex_inputs: dict = {}
        self._input_types = None
        self._settings = {}

    # ---- the graph --------------------------------------------------------------------------
    def add_inputs(self, *names) -> "GraphBuilder":
        for n in _names(names):
            self._claim(n, "add_inputs")
            self._inputs.append(n)
        return self

    def add_layer(self, name: str, layer, *inputs) -> "GraphBuilder":
        """`add_layer(name, layer, *inputs)`, or DL4J's `add_layer(name, layer, preprocessor, *inputs)`."""
        preprocessor = None
        if inputs and isinstance(inputs[0], InputPreProcessor):
            preprocessor, inputs = inputs[0], inputs[1:]
        if not isinstance(layer, LayerConf):
            raise ConfigError(f"add_layer({name!r}, ...): {layer!r} is not a layer configuration; give e.g. "
                              f"DenseLayer(n_out=...) (add_vertex takes vertices)")
        return self._add(name, LayerVertex(layer=layer, preprocessor=preprocessor), inputs, "add_layer")

    def add_vertex(self, name: str, vertex, *inputs) -> "GraphBuilder":
        if isinstance(vertex, LayerConf):
            return self.add_layer(name, vertex, *inputs)
        if not isinstance(vertex, GraphVertex):
            raise ConfigError(f"add_vertex({name!r}, ...): {vertex!r} is not a graph vertex; give e.g. MergeVertex()")
        return self._add(name, vertex, inputs, "add_vertex")

    def set_outputs(self, *names) -> "GraphBuilder":
        self._outputs = _names(names)
        return self

    def set_input_types(self, *types) -> "GraphBuilder":
        types = [t for t in (types[0] if len(types) == 1 and isinstance(types[0], (list, tuple)) else types)]
        bad = [t for t in types if not isinstance(t, InputType)]
        if bad:
            raise ConfigError(f"set_input_types takes InputTypes (InputType.feed_forward(n), ...), got {bad!r}")
        self._input_types = types
        return self

    # ---- settings passed through to the configuration ----------------------------------------
    def backprop_type(self, t) -> "GraphBuilder":
        self._settings["backprop_type"] = t
        return self

    def tbptt_forward_length(self, n: int) -> "GraphBuilder":
        self._settings["tbptt_fwd_length"] = int(n)
        return self

    def tbptt_backward_length(self, n: int) -> "GraphBuilder":
        self._settings["tbptt_back_length"] = int(n)
        return self

    tbptt_fwd_length, tbptt_back_length = tbptt_forward_length, tbptt_backward_length

    def pretrain(self, flag: bool) -> "GraphBuilder":
        self._settings["pretrain"] = bool(flag)
        return self

    def backprop(self, flag: bool) -> "GraphBuilder":
        self._settings["backprop"] = bool(flag)
        return self

    # ---- checks and building ----------------------------------------------------------------
    def _claim(self, name, where):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: a vertex name must be a non-empty string, got {name!r}")
        if name in self._inputs or name in self._vertices:
            raise ConfigError(f"{where}({name!r}, ...): the name {name!r} is already taken by "
                              f"{'a network input' if name in self._inputs else 'a vertex'}; give each its own name")

    def _add(self, name, vertex, inputs, where):
        self._claim(name, where)
        inputs = _names(inputs)
        if not inputs:
            raise ConfigError(f"{where}({name!r}, ...) names no input; give the names of the vertices or network "
                              f"inputs that feed it")
        self._vertices[name] = vertex
        self._vertex_inputs[name] = inputs
        return self

    def _global_conf(self):
        g = self._global
        return g.build() if hasattr(g, "build") and not hasattr(g, "fields") else g

    def build(self) -> ComputationGraphConfiguration:
        if not self._inputs:
            raise ConfigError("the graph has no inputs: call add_inputs('name', ...) first")
        if not self._outputs:
            raise ConfigError("the graph has no outputs: call set_outputs('name', ...) with its output layers")
        known = set(self._inputs) | set(self._vertices)
        for name, vertex in self._vertices.items():
            for i in self._vertex_inputs[name] + [i for i, _ in vertex.network_reads()]:
                if i not in known:
                    raise ConfigError(f"vertex {name!r} takes input {i!r}, which is neither a network input "
                                      f"{self._inputs} nor a vertex; add it or fix the name")
            for i, _ in vertex.network_reads():
                if i not in self._inputs:
                    raise ConfigError(f"vertex {name!r} ({type(vertex).__name__}) reads {i!r}, which is not a network "
                                      f"input {self._inputs}")
            vertex.check_inputs(name, len(self._vertex_inputs[name]))
        for o in self._outputs:
            v = self._vertices.get(o)
            if v is None:
                raise ConfigError(f"set_outputs: {o!r} is not a vertex of the graph "
                                  f"{list(self._vertices)}" + (" (it is a network input)" if o in self._inputs else ""))
            if not isinstance(v, LayerVertex) or not v.layer.is_output:
                what = type(v.layer if isinstance(v, LayerVertex) else v).__name__
                raise ConfigError(f"set_outputs: {o!r} ({what}) is not an output layer; a graph's outputs are "
                                  f"layers with a loss (OutputLayer, RnnOutputLayer, ...): add one after {o!r}")
        order = topological_order(self._inputs, self._vertices, self._vertex_inputs)
        global_conf = self._global_conf()
        vertices = {}
        layer_index = 0
        for name, v in self._vertices.items():
            if isinstance(v, LayerVertex):
                layer = v.layer.copy(name=v.layer.name or name)
                if global_conf is not None:
                    layer = layer.cascade(global_conf, layer_index)
                else:
                    layer.index = layer_index
                layer_index += 1
                v = v.copy(layer=layer)
            vertices[name] = v
        conf = ComputationGraphConfiguration(
            global_conf=global_conf, network_inputs=tuple(self._inputs), network_outputs=tuple(self._outputs),
            vertices=vertices, vertex_inputs={k: tuple(v) for k, v in self._vertex_inputs.items()},
            **self._settings)
        conf.input_types = tuple(self._input_types) if self._input_types is not None else \
            tuple(_guess_input_type(conf, n) for n in self._inputs)
        if len(conf.input_types) != len(self._inputs):
            raise ConfigError(f"set_input_types gave {len(conf.input_types)} types for the {len(self._inputs)} "
                              f"inputs {self._inputs}; give one per input, in add_inputs order")
        _infer_sizes(conf, order)
        recurrent = [n for n, v in vertices.items() if isinstance(v, LayerVertex) and v.layer.is_recurrent]
        if conf.backprop_type is BackpropType.TRUNCATED_BPTT and not recurrent:
            raise ConfigError("backprop_type(TRUNCATED_BPTT) needs a recurrent layer (GravesLSTM, LSTM, ...); this "
                              "graph has none: use BackpropType.STANDARD")
        return conf


def _names(names) -> list[str]:
    if len(names) == 1 and isinstance(names[0], (list, tuple)):
        names = names[0]
    return list(names)


def _guess_input_type(conf, name) -> InputType:
    """A network input's type from the n_in of a layer it alone feeds (DL4J without set_input_types)."""
    for v_name, inputs in conf.vertex_inputs.items():
        v = conf.vertices[v_name]
        if inputs == (name,) and isinstance(v, LayerVertex) and v.preprocessor is None and v.layer.n_in is not None:
            kind = RNN if getattr(v.layer, "is_recurrent", False) or v.layer.INPUT_KIND == RNN else v.layer.INPUT_KIND
            if kind in (CNN, CNN_FLAT):
                break
            return InputType.recurrent(v.layer.n_in) if kind == RNN else InputType.feed_forward(v.layer.n_in)
    raise ConfigError(f"the type of network input {name!r} cannot be inferred: call set_input_types(...) with one "
                      f"InputType per input (InputType.feed_forward(n), .recurrent(n), .convolutional(h, w, c))")


def _infer_sizes(conf: ComputationGraphConfiguration, order: list[str]) -> None:
    """Flow the types through the graph in `order`: each layer gets its preprocessor and n_in."""
    types = dict(zip(conf.network_inputs, conf.input_types))
    for name in order:
        v = conf.vertices[name]
        seen = conf.vertex_input_types(name, types)
        if isinstance(v, LayerVertex):
            t = merged_type(v, name, seen[:len(conf.vertex_inputs[name])])
            if v.preprocessor is None:
                v.preprocessor = v.layer.preprocessor(t)
            t = t if v.preprocessor is None else v.preprocessor.output_type(t)
            v.layer.set_n_in(t)
            v.layer.validate()
        types[name] = v.output_type(name, seen)
