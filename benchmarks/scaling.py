"""Scaling of the O2 pass pipeline: optimize generated graphs of about 1k, 10k and 100k nodes and
print the times as a table (nothing is written). Run: python benchmarks/scaling.py [sizes...]

The generated graph repeats what the Keras importer emits for a channels-last CNN (Transpose
sandwiches around each Conv, BatchNormalization as per-channel Mul/Add, ReLU6 as Clip, residual
Adds, explicit Pad before strided convs) and an MLP head (MatMul + Add + Relu), plus the
debris the cleanup passes exist for (duplicate subexpressions, Identity/Dropout, constant
arithmetic, dead branches), with tiny tensors so the time measured is the passes' own.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from graphc.ir import Graph
from graphc.passes import PassStats, optimize
from graphc.types import TensorType

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class _Builder:
    def __init__(self, g: Graph):
        self.g = g
        self.rng = np.random.default_rng(0)

    def const(self, *shape):
        return self.g.add_constant((self.rng.standard_normal(shape) * 0.1).astype(np.float32))

    def node(self, op, inputs, attrs=None, like=None, shape=None):
        t = self.g.type_of(like) if like is not None else None
        if shape is not None:
            t = TensorType(np.float32, shape)
        return (self.g.add_node(op, inputs, attrs, outputs=None if t is None else [t]), 0)

    def conv(self, x, c, k=1, stride=1):
        n, h, w, _ = self.g.type_of(x).shape
        t = self.node("Transpose", [x], {"perm": TO_NCHW}, shape=(n, c, h, w))
        ho, wo = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
        y = self.node("Conv", [t, self.const(c, c, k, k), self.const(c)],
                      {"kernel_shape": [k, k], "strides": [stride] * 2, "pads": [k // 2] * 4}, shape=(n, c, ho, wo))
        return self.node("Transpose", [y], {"perm": TO_NHWC}, shape=(n, ho, wo, c))

    def block(self, x, c):
        """About 30 nodes: conv-bn-relu6, depthwise-ish conv, projection, residual, debris."""
        h = self.conv(x, c)
        h = self.node("Mul", [h, self.const(c)], like=h)
        h = self.node("Add", [h, self.const(c)], like=h)
        h = self.node("Clip", [h, self.g.add_constant(np.float32(0)), self.g.add_constant(np.float32(6))], like=h)
        h = self.node("Identity", [h], like=h)
        h = self.conv(h, c, k=3)
        h = self.node("Mul", [h, self.node("Neg", [self.const(c)], shape=(c,))], like=h)  # constant arithmetic
        twin = self.node("Relu", [h], like=h)  # duplicate subexpression
        h = self.node("Relu", [h], like=h)
        h = self.node("Add", [h, twin], like=h)
        self.node("Exp", [h], like=h)  # dead branch
        h = self.conv(h, c)
        h = self.node("Mul", [h, self.const(c)], like=h)
        h = self.node("Add", [h, self.const(c)], like=h)
        return self.node("Add", [x, h], like=h)

    def head(self, x, c):
        """About 12 nodes: global pooling and a two-layer MLP."""
        n = self.g.type_of(x).shape[0]
        p = self.node("ReduceMean", [x, self.g.add_constant(np.array([1, 2], np.int64))], {"keepdims": 0},
                      shape=(n, c))
        h = self.node("MatMul", [p, self.const(c, c)], like=p)
        h = self.node("Add", [h, self.const(c)], like=p)
        h = self.node("Relu", [h], like=p)
        h = self.node("Dropout", [h], like=p)
        h = self.node("MatMul", [h, self.const(c, c)], like=p)
        return self.node("Add", [h, self.const(c)], like=p)


def generate(target_nodes: int, channels: int = 4, size: int = 4) -> Graph:
    """A graph of about `target_nodes` nodes: a deep chain of residual blocks with a head every
    ten blocks, the heads summed into the one output."""
    g = Graph(f"scaling_{target_nodes}")
    b = _Builder(g)
    h = g.add_input("image", TensorType(np.float32, ("batch", size, size, channels)))
    heads = []
    while len(g) < target_nodes:
        for _ in range(10):
            h = b.block(h, channels)
        heads.append(b.head(h, channels))
    g.add_output("logits", b.node("Sum", heads, like=heads[0]))
    return g


def main(sizes=(1_000, 10_000, 100_000)) -> None:
    print(f"{'nodes':>8}{'build (s)':>11}{'O2 (s)':>9}{'µs/node':>9}{'rounds':>8}{'nodes after':>13}{'transposes':>12}")
    for n in sizes:
        t0 = time.perf_counter()
        g = generate(n)
        built = time.perf_counter() - t0
        stats = PassStats()
        t0 = time.perf_counter()
        out = optimize(g, "O2", stats=stats)
        took = time.perf_counter() - t0
        transposes = sum(1 for _, d in out.nx.nodes(data=True) if d["op"] == "Transpose")
        print(f"{len(g):>8}{built:>11.2f}{took:>9.2f}{took / len(g) * 1e6:>9.1f}{stats.rounds:>8}{len(out):>13}"
              f"{transposes:>12}")
    if "-v" in sys.argv:
        print(stats)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:] if a.lstrip("-").isdigit()]
    main(tuple(args) or (1_000, 10_000, 100_000))
