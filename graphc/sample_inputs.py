"""Random inputs a model accepts, for `graphc run` and `graphc bench`.

Floats are standard normal and booleans fair coins. Integers are drawn from [0, 10) unless the
graph says what they index: an integer input that reaches the index port of Gather,
GatherElements or GatherND (directly or through shape-only ops such as Cast or Reshape) is drawn
from [0, size of the indexed axis), so an embedding lookup gets valid token ids. When that size is
not known (a symbolic dimension) the range is [0, 1), which every non-empty axis accepts. A range
given by the user wins over both.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import InputError
from graphc.ir import Graph
from graphc.types import TensorType

DEFAULT_INT_RANGE = (0, 10)
# ops that hand their input's values on unchanged (only the shape or the dtype changes)
_PASS_THROUGH = {"Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Expand"}
_INDEX_OPS = {"Gather", "GatherElements", "GatherND"}  # their port 1 holds indices into port 0


def random_array(dtype, shape, rng: np.random.Generator, int_range: tuple[int, int] = (0, 10)):
    """Random data for a model input: standard-normal floats, integers in [low, high) of
    `int_range`, booleans; None for a dtype with no sensible random values (strings)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(int_range[0], int_range[1], shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    return None



def _indexed_size(graph: Graph, node: str) -> int:
    """How many positions the index port of `node` may address (1 when unknown)."""
    data = graph.input_values(node)[0]
    t = graph.type_of(data) if data is not None else None
    if not isinstance(t, TensorType) or t.shape is None:
        return 1
    if graph.op(node) == "GatherND":  # its indices address the dims after batch_dims: the smallest bounds all
        dims = t.shape[graph.attrs(node).get("batch_dims", 0):]
        return min(dims) if dims and all(isinstance(d, int) for d in dims) else 1
    axis = graph.attrs(node).get("axis", 0)
    axis = axis + len(t.shape) if axis < 0 else axis
    d = t.shape[axis] if 0 <= axis < len(t.shape) else None
    return d if isinstance(d, int) else 1


def index_bound(graph: Graph, input_name: str) -> int | None:
    """The exclusive upper bound the graph puts on integer input `input_name` by indexing with it,
    or None when nothing indexes with it."""
    bound, seen, todo = None, set(), [(input_name, 0)]
    while todo:
        value = todo.pop()
        for node, port in graph.consumers(value):
            if (node, port) in seen:
                continue
            seen.add((node, port))
            op = graph.op(node)
            if op in _INDEX_OPS and port == 1:
                size = _indexed_size(graph, node)
                bound = size if bound is None else min(bound, size)
            elif op in _PASS_THROUGH and port == 0:
                todo.append((node, 0))
    return bound


def parse_int_range(text: str) -> tuple[str | None, tuple[int, int]]:
    """`LO,HI` (every integer input) or `NAME=LO,HI` (one input) -> (name or None, (lo, hi))."""
    name, _, rng = text.rpartition("=")
    try:
        lo, hi = (int(v) for v in rng.split(","))
    except ValueError:
        raise ValueError(f"{text!r}: expected LO,HI or NAME=LO,HI with integers, e.g. 0,100") from None
    if hi <= lo:
        raise ValueError(f"{text!r}: HI must be above LO (the range is [LO, HI))")
    return name or None, (lo, hi)


def int_ranges(graph: Graph, given: dict | None = None) -> dict[str, tuple[int, int]]:
    """The [low, high) of every integer input: `given` (by name, or None for all) first, then the
    bound from what the graph indexes, then the default."""
    given = dict(given or {})
    ints = [n for n in graph.inputs if isinstance(graph.type_of((n, 0)), TensorType)
            and graph.type_of((n, 0)).dtype is not None and graph.type_of((n, 0)).dtype.kind in "iu"]
    unknown = sorted(k for k in given if k is not None and k not in ints)
    if unknown:
        raise InputError(f"--int-range names {unknown}, which are not integer inputs of the model "
                         f"(its integer inputs: {ints or 'none'})")
    out = {}
    for n in ints:
        if n in given or None in given:
            out[n] = given.get(n, given.get(None))
        else:
            bound = index_bound(graph, n)
            out[n] = DEFAULT_INT_RANGE if bound is None else (0, max(bound, 1))
    return out


def random_feed(graph: Graph, batch: int | None = None, seed: int = 0, ranges: dict | None = None,
                skip=()) -> dict:
    """{input name: random array} for every input of `graph` not named in `skip`.

    Symbolic dims become `batch` on axis 0 (1 when `batch` is None) and 1 elsewhere. Raises
    InputError for an input it cannot make up (unknown type, strings, a fixed batch size that
    differs from `batch`), naming the input.
    """
    rng = np.random.default_rng(seed)
    bounds = int_ranges(graph, ranges)
    feed = {}
    for name in graph.inputs:
        if name in skip:
            continue
        t = graph.type_of((name, 0))
        if not isinstance(t, TensorType) or t.dtype is None or t.shape is None:
            raise InputError(f"input {name!r} has no known type ({t}); give it with --input {name}=FILE.npy")
        shape = []
        for axis, d in enumerate(t.shape):
            if isinstance(d, int):
                if axis == 0 and batch is not None and d != batch:
                    raise InputError(f"input {name!r} has a fixed batch size of {d}, not {batch}")
                shape.append(d)
            else:
                shape.append(batch if axis == 0 and batch is not None else 1)
        arr = random_array(t.dtype, tuple(shape), rng, bounds.get(name, DEFAULT_INT_RANGE))
        if arr is None:
            raise InputError(f"cannot make random data of dtype {t.dtype} for input {name!r}; give it with --input")
        feed[name] = arr
    return feed
