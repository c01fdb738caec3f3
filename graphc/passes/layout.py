"""Layout algebra: axis permutations (as Transpose's `perm`) and Reshape targets."""
from __future__ import annotations

from graphc.ir import Graph
from graphc.passes.predicates import rank


def invert(perm) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def compose(first, then) -> list[int]:
    """The perm of Transpose(Transpose(x, first), then)."""
    return [first[t] for t in then]


def is_identity(perm) -> bool:
    return all(i == p for i, p in enumerate(perm))


def permute(shape, perm) -> tuple:
    return tuple(shape[p] for p in perm)


def transpose_perm(g: Graph, node: str) -> list[int] | None:
    """The perm of Transpose `node` (ONNX's default reverses the axes), None when the rank is unknown."""
    perm = g.attrs(node).get("perm")
    if perm is not None:
        return [int(p) for p in perm]
    r = rank(g, g.input_values(node)[0])
    return None if r is None else list(range(r))[::-1]


def reshape_target(in_shape, out_shape) -> list[int] | None:
    """A constant Reshape shape (allowzero=0) taking a tensor of `in_shape` to `out_shape`, or None.

    Known dims are written out; a symbolic dim sitting at the same position in both shapes is
    copied with 0; one remaining unknown dim becomes -1 (only when no known dim is 0, which
    would make -1 ambiguous)."""
    if in_shape is None or out_shape is None:
        return None
    target, unknown = [], 0
    for i, d in enumerate(out_shape):
        if isinstance(d, int):
            if d == 0:
                return None  # with allowzero=0 a literal 0 means "copy", not "empty"
            target.append(d)
        elif isinstance(d, str) and i < len(in_shape) and in_shape[i] == d:
            target.append(0)
        else:
            target.append(-1)
            unknown += 1
    if unknown > 1 or (unknown and any(d == 0 for d in in_shape if isinstance(d, int))):
        return None
    return target
