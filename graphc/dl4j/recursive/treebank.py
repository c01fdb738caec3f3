"""A seeded synthetic sentiment treebank whose labels need composition.

Sentences are small clauses over a fixed lexicon, as binary trees labelled at every node with
0 (negative), 1 (neutral) or 2 (positive):

    clause    (NP (is ADJP))            NP = (det noun), neutral; the clause takes the ADJP's label
    ADJP      adj | (very ADJP) | (not ADJP)    intensifiers keep the label, "not" swaps 0 and 2
    contrast  (C1 (but C2))             "but" takes the second clause's label

Words: polar adjectives carry their polarity, every other word is neutral.

Four kinds of sentence (`KINDS`): `plain` (one clause, no negation), `negated` (one clause with
"not"), and two kinds made in twin pairs of sentences with the SAME multiset of words and DIFFERENT
root labels:

- `contrast`: (C1 but C2) and (C2 but C1), the clauses of different labels;
- `negated_contrast`: (NP1 is not A1 but NP2 is A2) and (NP1 is A1 but NP2 is not A2): where the
  "not" sits decides the label.

A twin pair shares its bag of words, so any function of the bag (any bag-of-words model, however
trained) gets at most one of the two right: `bag_of_words_ceiling` computes the best accuracy such a
function can reach on a set of trees (the majority root label of each word multiset), and on the
twin kinds it is at most 0.5 by construction. A model that reads the tree can reach 1.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from graphc.dl4j.recursive.tree import Tree, TreeError

NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2
KINDS = ("plain", "negated", "contrast", "negated_contrast")
MIX = {"plain": 0.3, "negated": 0.2, "contrast": 0.25, "negated_contrast": 0.25}

LEXICON = {
    "positive": ("good", "great", "superb", "lovely", "fine", "brilliant", "moving", "charming", "clever", "fun"),
    "negative": ("bad", "awful", "dull", "boring", "poor", "weak", "clumsy", "tedious", "bland", "silly"),
    "neutral": ("long", "french", "new", "short", "quiet", "old"),
    "noun": ("film", "movie", "plot", "story", "acting", "script", "cast", "ending", "music", "director"),
    "det": ("the", "this", "a"),
    "intensifier": ("very", "really", "truly"),
}


def flip(label: int) -> int:
    """What "not" does to a label: positive and negative swap, neutral stays."""
    return {NEGATIVE: POSITIVE, POSITIVE: NEGATIVE}.get(label, label)


def _leaf(word: str) -> Tree:
    polarity = POSITIVE if word in LEXICON["positive"] else NEGATIVE if word in LEXICON["negative"] else NEUTRAL
    return Tree.leaf(word, polarity)


def _join(label: int, left: Tree, right: Tree) -> Tree:
    return Tree.node(label, left, right)


@dataclass
class _Clause:
    """A clause before it becomes a tree: its words decide it, so a twin can be rebuilt negated."""
    det: str
    noun: str
    adj: str
    intensify: str | None
    negated: bool

    def tree(self) -> Tree:
        adjp = _leaf(self.adj)
        if self.intensify:
            adjp = _join(adjp.label, _leaf(self.intensify), adjp)
        if self.negated:
            adjp = _join(flip(adjp.label), _leaf("not"), adjp)
        np_ = _join(NEUTRAL, _leaf(self.det), _leaf(self.noun))
        vp = _join(adjp.label, _leaf("is"), adjp)
        return _join(vp.label, np_, vp)


def _contrast(c1: Tree, c2: Tree) -> Tree:
    but = _join(c2.label, _leaf("but"), c2)
    return _join(but.label, c1, but)


@dataclass
class Treebank:
    """Trees and the kind of each (one of `KINDS`); twin pairs sit next to each other."""

    trees: list = field(default_factory=list)
    kinds: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trees)

    def subset(self, *kinds: str) -> list[Tree]:
        """The trees of the given kinds (all when none given)."""
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise TreeError(f"unknown sentence kind(s) {unknown}; the kinds are {list(KINDS)}")
        return [t for t, k in zip(self.trees, self.kinds) if not kinds or k in kinds]

    def negated(self) -> list[Tree]:
        """Sentences with a "not"."""
        return [t for t in self.trees if "not" in t.words()]

    def contrast(self) -> list[Tree]:
        """Sentences with a "but"."""
        return [t for t in self.trees if "but" in t.words()]


def generate(n: int, seed: int = 0, mix: dict | None = None, intensify: float = 0.3) -> Treebank:
    """About `n` sentences (twins come in pairs, so a twin kind rounds up to even), drawn with
    numpy's generator seeded by `seed`; `mix` gives each kind's share (default `MIX`)."""
    mix = dict(MIX if mix is None else mix)
    unknown = [k for k in mix if k not in KINDS]
    if unknown or any(v < 0 for v in mix.values()) or not sum(mix.values()):
        raise TreeError(f"mix {mix!r}: give non-negative shares of the kinds {list(KINDS)}, not all zero")
    rng = np.random.default_rng(seed)
    total = sum(mix.values())
    kinds = [k for k in KINDS if mix.get(k)]
    counts = {k: int(round(n * mix[k] / total)) for k in kinds}

    def pick(kind):
        words = LEXICON[kind]
        return words[int(rng.integers(len(words)))]

    def clause(polar=True, negated=False):
        adj = pick("positive" if rng.random() < 0.5 else "negative") if polar or rng.random() < 0.75 else \
            pick("neutral")
        return _Clause(pick("det"), pick("noun"), adj, pick("intensifier") if rng.random() < intensify else None,
                       negated)

    bank = Treebank()

    def add(tree, kind):
        bank.trees.append(tree)
        bank.kinds.append(kind)

    for kind in kinds:
        made = 0
        while made < counts[kind]:
            if kind in ("plain", "negated"):
                add(clause(polar=False, negated=kind == "negated").tree(), kind)
                made += 1
                continue
            a, b = clause(polar=False), clause(polar=kind == "negated_contrast")
            if kind == "contrast":
                t1, t2 = a.tree(), b.tree()
                if t1.label == t2.label:
                    continue  # twins need different labels
                pair = (_contrast(t1, t2), _contrast(b.tree(), a.tree()))
            else:
                a_not, b_not = _Clause(**{**a.__dict__, "negated": True}), _Clause(**{**b.__dict__, "negated": True})
                pair = (_contrast(a_not.tree(), b.tree()), _contrast(a.tree(), b_not.tree()))
            for t in pair:
                add(t, kind)
            made += 2
    # shuffle whole twin pairs, keeping each pair adjacent
    units, i = [], 0
    while i < len(bank.trees):
        width = 2 if bank.kinds[i] in ("contrast", "negated_contrast") else 1
        units.append(list(range(i, i + width)))
        i += width
    order = rng.permutation(len(units))
    idx = [j for u in order for j in units[u]]
    return Treebank([bank.trees[j] for j in idx], [bank.kinds[j] for j in idx])


def bag_of_words_ceiling(trees) -> float:
    """The best root accuracy any function of the bag of words can reach on `trees`: each distinct
    word multiset predicts its most common root label."""
    trees = list(trees)
    if not trees:
        raise TreeError("bag_of_words_ceiling: no trees given")
    groups: dict[tuple, Counter] = defaultdict(Counter)
    for t in trees:
        groups[tuple(sorted(t.words()))][t.label] += 1
    return sum(c.most_common(1)[0][1] for c in groups.values()) / len(trees)


__all__ = ["KINDS", "LEXICON", "MIX", "NEGATIVE", "NEUTRAL", "POSITIVE", "Treebank", "bag_of_words_ceiling",
           "flip", "generate"]
