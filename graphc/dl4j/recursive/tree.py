"""Trees, their vocabulary, and the level-by-level batch plan that recursive networks run on.

A `Tree` is a parse tree: a leaf holds a word, an inner node two children (`reader.binarize` makes
n-ary trees binary); every node may hold a label (an int class, or None).

Batching. A recursive network applies one composition p = f(c1, c2) at every inner node. One graph
per tree would compile a graph per tree shape; instead a batch of trees becomes one `LevelPlan`:

- every node of every tree gets a row of one state buffer H [n_nodes, d]: the leaves of all trees
  first (rows 0..n_leaves-1; their word ids are `words`), then the inner nodes level by level;
- a node's level is its height counted from the leaves (0 for a leaf, 1 + the higher child's), so
  the children of every level-l node lie in levels below l and are ready once level l-1 is done;
- level l is one int64 array [m_l, 3] of (row, left child's row, right child's row) over all the
  trees of the batch.

`emit_levels` writes the graph: per level, two Gathers fetch the children of all m_l merges at
once, the composition runs once on them, and one ScatterND writes the m_l parents into their rows
of H. n_leaves and each m_l are symbolic dims, so the graph of a D-level network serves every batch
of trees at most D high (a batch with fewer levels feeds zero-row arrays for the rest): a network
compiles one graph for its maximum depth and reuses it for every batch. Rows are written with
ScatterND rather than appended with Concat because Concat's gradient rule needs static sizes;
Gather's and ScatterND's rules (ops/shape.py) take symbolic ones.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from graphc.errors import GraphcError, InputError


class TreeError(GraphcError):
    """A tree that a recursive network cannot take (a leaf without a word, a node with three children, ...)."""


class Tree:
    """A parse tree node: `label` (int or None), `word` (leaves) or `children` (inner nodes)."""

    __slots__ = ("label", "word", "children")

    def __init__(self, label=None, word: str | None = None, children=()):
        children = tuple(children)
        if (word is None) == (not children):
            raise TreeError(f"a tree node holds either a word (a leaf) or children, not "
                            f"{'both' if children else 'neither'} (label {label!r}, word {word!r})")
        if word is not None and not isinstance(word, str):
            raise TreeError(f"a leaf's word must be a string, got {word!r}")
        if not all(isinstance(c, Tree) for c in children):
            raise TreeError("the children of a tree node must be Trees")
        try:
            self.label = None if label is None else int(label)
        except (TypeError, ValueError):
            raise TreeError(f"a tree label must be an integer class, got {label!r}") from None
        self.word, self.children = word, children

    @classmethod
    def leaf(cls, word: str, label=None) -> "Tree":
        return cls(label, word=word)

    @classmethod
    def node(cls, label, *children) -> "Tree":
        return cls(label, children=children)

    @property
    def is_leaf(self) -> bool:
        return self.word is not None

    def nodes(self) -> list["Tree"]:
        """Every node, children before parents (post-order), left to right; iterative, so deep
        trees do not reach Python's recursion limit."""
        out, stack = [], [(self, False)]
        while stack:
            t, done = stack.pop()
            if done or t.is_leaf:
                out.append(t)
                continue
            stack.append((t, True))
            stack.extend((c, False) for c in reversed(t.children))
        return out

    def heights(self) -> dict[int, int]:
        """{id(node): height}: 0 for a leaf, 1 + the highest child's for an inner node."""
        h: dict[int, int] = {}
        for t in self.nodes():
            h[id(t)] = 0 if t.is_leaf else 1 + max(h[id(c)] for c in t.children)
        return h

    @property
    def depth(self) -> int:
        """The height of the root: how many merge levels the tree needs."""
        return self.heights()[id(self)]

    def levels(self) -> list[list["Tree"]]:
        """The nodes grouped by height: [leaves, level-1 nodes, ...]."""
        h = self.heights()
        out: list[list[Tree]] = [[] for _ in range(h[id(self)] + 1)]
        for t in self.nodes():
            out[h[id(t)]].append(t)
        return out

    def leaves(self) -> list["Tree"]:
        return [t for t in self.nodes() if t.is_leaf]

    def words(self) -> list[str]:
        return [t.word for t in self.leaves()]

    def __len__(self) -> int:
        return len(self.nodes())

    def __eq__(self, other) -> bool:
        return isinstance(other, Tree) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))

    def __str__(self) -> str:
        return to_string(self)

    def __repr__(self) -> str:
        return f"Tree({str(self)!r})"


def to_string(tree: "Tree") -> str:
    """The bracketed form of `tree` (labels written where they are set)."""
    out: dict[int, str] = {}
    for t in tree.nodes():
        head = "" if t.label is None else f"{t.label} "
        body = t.word if t.is_leaf else " ".join(out[id(c)] for c in t.children)
        out[id(t)] = f"({head}{body})"
    return out[id(tree)]


class Vocabulary:
    """Words to row numbers of an embedding matrix; row 0 is `UNK`, for words never seen."""

    UNK = "<unk>"

    def __init__(self, words=()):
        self.words = [self.UNK]
        self._index = {self.UNK: 0}
        for w in words:
            if w not in self._index:
                self._index[w] = len(self.words)
                self.words.append(w)

    @classmethod
    def from_trees(cls, trees, min_count: int = 1) -> "Vocabulary":
        """The words of `trees` seen at least `min_count` times, in order of first appearance."""
        counts = Counter(w for t in trees for w in t.words())
        return cls(w for w in dict.fromkeys(w for t in trees for w in t.words()) if counts[w] >= min_count)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self._index

    def id(self, word: str) -> int:
        return self._index.get(word, 0)

    def ids(self, words) -> np.ndarray:
        return np.asarray([self._index.get(w, 0) for w in words], np.int64)


@dataclass
class LevelPlan:
    """A batch of trees laid out for level-by-level evaluation (see the module docstring)."""

    words: np.ndarray        # int64 [n_leaves]: word id of each leaf row
    levels: list             # per level 1..depth: int64 [m_l, 3] rows (node, left child, right child)
    labels: np.ndarray       # int64 [n_nodes]: each row's label, -1 where the node has none
    roots: np.ndarray        # int64 [n_trees]: the row of each tree's root
    tree_index: np.ndarray   # int64 [n_nodes]: which tree of the batch each row belongs to
    nodes: list              # the Tree behind each row

    @property
    def depth(self) -> int:
        return len(self.levels)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_leaves(self) -> int:
        return len(self.words)

    def feeds(self) -> list[np.ndarray]:
        """The graph's inputs in order: words, then one array per level."""
        return [self.words] + list(self.levels)


def plan(trees, vocab: Vocabulary, depth: int | None = None) -> LevelPlan:
    """The `LevelPlan` of `trees` (a list) for a graph of `depth` levels (None: the highest tree's).

    A tree higher than `depth`, or an inner node without exactly two children, raises `TreeError`
    naming the tree's place in the list."""
    trees = list(trees)
    if not trees:
        raise InputError("plan: no trees given; give at least one")
    heights = []
    for i, t in enumerate(trees):
        if not isinstance(t, Tree):
            raise TreeError(f"tree {i}: expected a Tree, got {type(t).__name__}")
        h = t.heights()
        bad = next((n for n in t.nodes() if not n.is_leaf and len(n.children) != 2), None)
        if bad is not None:
            raise TreeError(f"tree {i}: a node has {len(bad.children)} children ({str(bad)[:60]}); recursive "
                            f"networks merge two at a time: binarize it (graphc.dl4j.recursive.reader.binarize)")
        heights.append(h)
    top = max(h[id(t)] for h, t in zip(heights, trees))
    depth = top if depth is None else int(depth)
    if top > depth:
        i = next(i for i, (h, t) in enumerate(zip(heights, trees)) if h[id(t)] > depth)
        raise TreeError(f"tree {i} is {heights[i][id(trees[i])]} levels high but the network's graph has "
                        f"{depth}; build the network with max_depth >= {top}")
    # rows: all leaves first (tree by tree, left to right), then the inner nodes level by level
    by_level: list[list] = [[] for _ in range(depth + 1)]
    for ti, (t, h) in enumerate(zip(trees, heights)):
        for n in t.nodes():
            by_level[h[id(n)]].append((ti, n))
    row, order = {}, []  # keyed by (tree, node): a subtree object may sit in two trees of the batch
    for group in by_level:
        for ti, n in group:
            row[ti, id(n)] = len(order)
            order.append((ti, n))
    levels = [np.asarray([(row[ti, id(n)], row[ti, id(n.children[0])], row[ti, id(n.children[1])])
                          for ti, n in group], np.int64).reshape(len(group), 3) for group in by_level[1:]]
    return LevelPlan(
        words=vocab.ids(n.word for _, n in by_level[0]),
        levels=levels,
        labels=np.asarray([-1 if n.label is None else n.label for _, n in order], np.int64),
        roots=np.asarray([row[ti, id(t)] for ti, t in enumerate(trees)], np.int64),
        tree_index=np.asarray([ti for ti, _ in order], np.int64),
        nodes=[n for _, n in order])


# ---- the graph side ------------------------------------------------------------------------------
def _count(em, v):
    """[1] int64: the length of `v`'s first axis."""
    return em.slice(em.op("Shape", v), [0], [1], [0])


def emit_levels(em, leaves, levels, compose):
    """Run `compose` level by level over a plan's graph inputs.

    `leaves`: [n_leaves, d] leaf vectors; `levels`: the plan's level inputs ([m_l, 3] int64);
    `compose(em, left, right)` -> (parents [m, d], extras: a list of [m, k_i] values). Returns
    (H [n_nodes, d], one [n_nodes, k_i] buffer per extra, zero in the rows of leaves)."""
    d = em.shape(leaves)[-1]
    counts = [_count(em, leaves)] + [_count(em, lv) for lv in levels]
    n_nodes = counts[0]
    for c in counts[1:]:  # Add, not Sum: ONNX's Sum takes floats only
        n_nodes = em.op("Add", n_nodes, c)

    def zeros(width):  # a [1, width] row expanded to [n_nodes, 1]: type inference keeps the width
        return em.op("Expand", em.const(np.zeros((1, width), np.float32)), em.concat([n_nodes, em.ints([1])], 0))

    leaf_rows = em.op("Range", em.ints(0), em.squeeze(counts[0], [0]), em.ints(1))
    h = em.op("ScatterND", zeros(d), em.unsqueeze(leaf_rows, [-1]), leaves)
    extras = None
    for lv in levels:
        rows = em.op("Gather", lv, em.ints([0]), axis=1)  # [m, 1]: ScatterND's indices as they are
        left = em.op("Gather", h, em.op("Gather", lv, em.ints(1), axis=1), axis=0)
        right = em.op("Gather", h, em.op("Gather", lv, em.ints(2), axis=1), axis=0)
        parent, more = compose(em, left, right)
        h = em.op("ScatterND", h, rows, parent)
        if extras is None:
            extras = [zeros(em.shape(v)[-1]) for v in more]
        extras = [em.op("ScatterND", b, rows, v) for b, v in zip(extras, more)]
    return h, extras or []


__all__ = ["LevelPlan", "Tree", "TreeError", "Vocabulary", "emit_levels", "plan", "to_string"]
