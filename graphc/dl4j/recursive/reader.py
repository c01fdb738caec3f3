"""Penn-Treebank-style bracketed trees, as the Stanford Sentiment Treebank writes them.

    (3 (2 good) (3 film))          a node is "(" label children ")"; a leaf is "(" label word ")"
    ((good) (2 film))              labels are optional: a node without one reads as label None

`parse(text)` reads one tree, `read(text_or_lines)` one tree per non-empty line, `read_file(path)` a
file. A malformed tree (an unbalanced bracket, a stray token, an empty node, text after the tree)
raises `ParseError` naming the line and column. `to_string` writes a tree back in the same form, so
`parse(to_string(t)) == t`.

With `categories=True` a label may be a Penn Treebank category (`(S (NP (DT the) (NN film)) ...)`):
the categories are read and dropped (label None); integer labels are kept.

`binarize` makes n-ary nodes binary (right-factored: (a b c) -> (a (b c)), the new nodes taking the
parent's label) and collapses unary chains into their top node's label, so every inner node merges
exactly two children, as the recursive networks need. The reader applies it unless told not to.
"""
from __future__ import annotations

import os
import re

from graphc.dl4j.recursive.tree import Tree, TreeError, to_string

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


class ParseError(TreeError):
    """Bracketed text that is not a tree; the message names the line and column."""


def _where(source: str, line: int, col: int) -> str:
    return f"{source}: line {line}, column {col}" if source else f"line {line}, column {col}"


def parse(text: str, *, line: int = 1, source: str = "", binary: bool = True, categories: bool = False) -> Tree:
    """One bracketed tree from `text` (one line; `line` and `source` name it in errors)."""
    tokens = [(m.group(), m.start() + 1) for m in _TOKEN.finditer(text)]
    if not tokens:
        raise ParseError(f"{_where(source, line, 1)}: empty line, expected a tree starting with '('")
    stack: list[tuple[int, list]] = []  # (column of its '(', its tokens and subtrees)
    tree = None
    for tok, col in tokens:
        if tok == ")" and not stack:
            raise ParseError(f"{_where(source, line, col)}: ')' closes nothing (unbalanced brackets)")
        if tree is not None:
            raise ParseError(f"{_where(source, line, col)}: {tok!r} after the end of the tree; put one tree per line")
        if tok == "(":
            stack.append((col, []))
        elif tok == ")":
            open_col, items = stack.pop()
            node = _node(items, source, line, open_col, categories)
            if stack:
                stack[-1][1].append(node)
            else:
                tree = node
        else:
            if not stack:
                raise ParseError(f"{_where(source, line, col)}: {tok!r} outside any bracket; a tree starts with '('")
            stack[-1][1].append((tok, col))
    if stack:
        raise ParseError(f"{_where(source, line, stack[-1][0])}: '(' is never closed "
                         f"({len(stack)} bracket(s) open at the end of the line)")
    return binarize(tree) if binary else tree


def _label(tok: str, col: int, source: str, line: int, categories: bool):
    try:
        return int(tok)
    except ValueError:
        if categories:
            return None
        raise ParseError(f"{_where(source, line, col)}: label {tok!r} is not an integer") from None


def _node(items: list, source: str, line: int, col: int, categories: bool) -> Tree:
    """A node from what its brackets held: [label] word, or [label] subtrees."""
    if not items:
        raise ParseError(f"{_where(source, line, col)}: empty brackets '()'")
    words = [(i, it) for i, it in enumerate(items) if isinstance(it, tuple)]
    subtrees = [it for it in items if isinstance(it, Tree)]
    if not subtrees:  # a leaf: (label word) or (word)
        if len(words) > 2:
            raise ParseError(f"{_where(source, line, words[2][1][1])}: a leaf holds a label and one word, got "
                             f"{[w for _, (w, _) in words]}")
        if len(words) == 2:
            return Tree.leaf(words[1][1][0], _label(*words[0][1], source, line, categories))
        return Tree.leaf(words[0][1][0])
    if words and (len(words) > 1 or words[0][0] != 0):
        _, (tok, c) = words[-1] if words[0][0] == 0 else words[0]
        raise ParseError(f"{_where(source, line, c)}: word {tok!r} beside subtrees; an inner node holds an "
                         f"optional label and subtrees only")
    label = _label(*words[0][1], source, line, categories) if words else None
    return Tree(label, children=subtrees)


def read(text, binary: bool = True, categories: bool = False) -> list[Tree]:
    """One tree per non-empty line of `text` (a string or an iterable of lines)."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    return [parse(s, line=i, binary=binary, categories=categories) for i, s in enumerate(lines, 1) if s.strip()]


def read_file(path, binary: bool = True, categories: bool = False) -> list[Tree]:
    """The trees of a file, one per non-empty line; errors name the file, line and column."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            return [parse(s, line=i, source=path, binary=binary, categories=categories)
                    for i, s in enumerate(f, 1) if s.strip()]
    except OSError as e:
        raise ParseError(f"{path}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ParseError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def binarize(tree: Tree) -> Tree:
    """`tree` with unary chains collapsed (the top label kept) and n-ary nodes right-factored."""
    done: dict[int, Tree] = {}
    for t in tree.nodes():
        if t.is_leaf:
            done[id(t)] = t
            continue
        kids = [done[id(c)] for c in t.children]
        if len(kids) == 1:  # a unary node: its child, under this node's label where it has one
            k = kids[0]
            done[id(t)] = Tree(k.label if t.label is None else t.label, k.word, k.children)
            continue
        right = kids[-1]
        for k in reversed(kids[1:-1]):
            right = Tree(t.label, children=(k, right))
        done[id(t)] = Tree(t.label, children=(kids[0], right))
    return done[id(tree)]


__all__ = ["ParseError", "binarize", "parse", "read", "read_file", "to_string"]
