"""Recursive networks: the bracketed-tree reader, the level plan against a per-tree numpy recursion,
RNTN and recursive-autoencoder gradient checks, the synthetic treebank's composition property, and
a short training run where the RNTN beats bag-of-words."""
import pickle

import numpy as np
import onnxruntime as ort
import pytest

from graphc.dl4j import ConfigError
from graphc.dl4j.listeners import CollectScoresIterationListener, ScoreIterationListener
from graphc.dl4j.recursive import (RNTN, BagOfWords, ParseError, RecursiveAutoEncoder, Tree, TreeError, Vocabulary,
                                   bag_of_words_ceiling, binarize, generate, loss_graph, parse, plan, read,
                                   read_file, to_string)
from graphc.dl4j.recursive.treebank import LEXICON, flip
from graphc.errors import GraphcError
from graphc.gradcheck import check_gradients


# ---- reader -------------------------------------------------------------------------------------
def test_reader_round_trip_and_shape():
    t = parse("(3 (2 good) (3 film))")
    assert t.label == 3 and [c.word for c in t.children] == ["good", "film"] and t.children[0].label == 2
    assert to_string(t) == "(3 (2 good) (3 film))" and str(t) == to_string(t)
    for tree in generate(40, seed=3).trees:
        assert parse(to_string(tree)) == tree
    nolabel = parse("((good) (2 film))")
    assert nolabel.label is None and nolabel.children[0].label is None and nolabel.children[1].label == 2
    ptb = parse("(S (NP (DT the) (NN film)) (VP (VBZ is) (ADJP (RB not) (JJ good))))", categories=True)
    assert ptb.words() == ["the", "film", "is", "not", "good"] and all(n.label is None for n in ptb.nodes())
    with pytest.raises(ParseError, match="column 5: label 'NP' is not an integer"):
        parse("(S (NP the) (VP is))")
    trees = read("(1 (1 a) (1 b))\n\n  (0 (0 bad) (1 film))\n")
    assert [str(x) for x in trees] == ["(1 (1 a) (1 b))", "(0 (0 bad) (1 film))"]


def test_binarize_right_factors_and_collapses_unary():
    t = parse("(2 (1 a) (2 b) (0 c) (1 d))")  # n-ary: right-factored under the parent's label
    assert str(t) == "(2 (1 a) (2 (2 b) (2 (0 c) (1 d))))"
    assert all(len(n.children) == 2 for n in t.nodes() if not n.is_leaf)
    u = parse("(4 (3 (3 good)) (2 (1 (1 film))))")  # unary chains keep their top label
    assert str(u) == "(4 (3 good) (2 film))"
    raw = parse("(2 (1 a) (2 b) (0 c))", binary=False)
    assert len(raw.children) == 3 and str(binarize(raw)) == "(2 (1 a) (2 (2 b) (0 c)))"


@pytest.mark.parametrize("text, where, what", [
    ("(3 (2 good) (3 film)", "column 1", "never closed"),
    ("(3 (2 good) (3 film)))", "column 22", "closes nothing"),
    ("(3 (2 good) (3 film)) (1 x)", "column 23", "after the end"),
    ("(3 () (3 film))", "column 4", "empty brackets"),
    ("(3 (2 good) word (3 film))", "column 13", "beside subtrees"),
    ("(x (2 good) (3 film))", "column 2", "not an integer"),
    ("(2 a b c)", "column 6", "one word"),
    ("good", "column 1", "outside any bracket"),
])
def test_reader_errors_name_line_and_column(text, where, what):
    with pytest.raises(ParseError, match=what) as e:
        read("(1 (1 a) (1 b))\n" + text)
    assert f"line 2, {where}" in str(e.value)
    assert isinstance(e.value, GraphcError)


def test_read_file_names_the_file(tmp_path):
    f = tmp_path / "trees.txt"
    f.write_text("(1 (1 a) (1 b))\n(2 (2 good)\n")
    with pytest.raises(ParseError, match=r"trees\.txt: line 2, column 1"):
        read_file(f)
    with pytest.raises(ParseError, match="cannot read"):
        read_file(tmp_path / "missing.txt")
    f.write_text("(1 (1 a) (1 b))\n")
    assert [str(t) for t in read_file(f)] == ["(1 (1 a) (1 b))"]


# ---- the level plan -----------------------------------------------------------------------------
def _mixed_trees():
    return [parse("(2 (2 good) (1 film))"), parse("(0 (0 bad))"), parse("(1 (1 (1 the) (1 plot)) (0 (1 is) (0 dull)))"),
            generate(6, seed=5).trees[0], parse("(1 (1 a) (1 (1 b) (1 (1 c) (1 d))))")]


def test_plan_rows_levels_and_errors():
    trees = _mixed_trees()
    vocab = Vocabulary.from_trees(trees)
    p = plan(trees, vocab)
    assert p.depth == max(t.depth for t in trees) and p.n_nodes == sum(len(t) for t in trees)
    assert p.n_leaves == sum(len(t.leaves()) for t in trees)
    assert [p.nodes[r] for r in p.roots] == trees
    level_of = np.zeros(p.n_nodes, np.int64)
    for lvl, rows in enumerate(p.levels, 1):
        assert rows.dtype == np.int64 and rows.shape[1] == 3
        level_of[rows[:, 0]] = lvl
        assert (level_of[rows[:, 1]] < lvl).all() and (level_of[rows[:, 2]] < lvl).all()  # children are ready
        for r, left, right in rows:
            node = p.nodes[r]
            assert (p.nodes[left], p.nodes[right]) == node.children and p.tree_index[left] == p.tree_index[r]
    assert [vocab.words[i] for i in p.words] == [n.word for n in p.nodes[:p.n_leaves]]
    assert p.labels.tolist() == [n.label for n in p.nodes]
    deeper = plan(trees, vocab, depth=p.depth + 2)  # a graph with more levels: empty levels at the top
    assert [lv.shape for lv in deeper.levels[-2:]] == [(0, 3), (0, 3)]
    first = next(i for i, t in enumerate(trees) if t.depth > 2)
    with pytest.raises(TreeError, match=rf"tree {first} is {trees[first].depth} levels high .* max_depth >= {p.depth}"):
        plan(trees, vocab, depth=2)
    with pytest.raises(TreeError, match="tree 1: a node has 3 children"):
        plan([trees[0], parse("(1 (1 a) (1 b) (1 c))", binary=False)], vocab)
    assert vocab.id("never-seen") == 0 and vocab.words[0] == Vocabulary.UNK
    for bad, what in [(lambda: Tree("pos", word="good"), "label must be an integer"),
                      (lambda: Tree(1), "neither"), (lambda: Tree(1, word="a", children=[trees[0]]), "both")]:
        with pytest.raises(TreeError, match=what):
            bad()


def _numpy_rntn(net, tree):
    """Per-node (vector, logits) of `tree` by plain recursion, in float64, from the network's weights."""
    layer, cls = net.layer, net.classifier
    E, W, b = (w.value.astype(np.float64) for w in (layer.embeddings, layer.kernel, layer.bias))
    V = layer.tensor.value.astype(np.float64) if layer.tensor is not None else None
    out = {}

    def vec(t):
        if t.is_leaf:
            v = E[net.vocab.id(t.word)]
        else:
            x = np.concatenate([vec(t.children[0]), vec(t.children[1])])
            z = x @ W + b + (np.einsum("i,ijk,j->k", x, V, x) if V is not None else 0.0)
            v = np.tanh(z)
        out[id(t)] = v
        return v

    vec(tree)
    vectors = np.stack([out[id(n)] for n in tree.nodes()])
    return vectors, vectors @ cls.kernel.value.astype(np.float64) + cls.bias.value


@pytest.mark.parametrize("use_tensors", [True, False])
def test_level_plan_equals_per_tree_recursion(use_tensors):
    trees = _mixed_trees()
    net = RNTN(num_hidden=5, use_tensors=use_tensors, seed=7, max_depth=6).init(trees)
    got = net.node_vectors(trees)  # one graph run for the whole batch, 6 levels (the top ones empty)
    probs = net.node_probabilities(trees)
    for t, v, pr in zip(trees, got, probs):
        want_v, want_logits = _numpy_rntn(net, t)
        e = np.exp(want_logits - want_logits.max(-1, keepdims=True))
        np.testing.assert_allclose(v, want_v, atol=1e-6, rtol=0)
        np.testing.assert_allclose(pr, e / e.sum(-1, keepdims=True), atol=1e-6, rtol=0)
    # a batch of one tree through the same graph gives that tree's rows of the batch
    np.testing.assert_allclose(net.node_vectors([trees[2]])[0], got[2], atol=1e-7, rtol=0)


# ---- gradient checks ----------------------------------------------------------------------------
def _tiny_trees():
    return [parse("(2 (2 good) (1 film))"), parse("(0 (1 (1 the) (1 plot)) (0 (1 not) (2 good)))"), parse("(1 (1 a))")]


def test_rntn_gradcheck():
    trees = _tiny_trees()
    net = RNTN(num_hidden=3, seed=2).init(trees)
    g, loss, feeds = loss_graph(net, trees)
    result = check_gradients(g, loss, feeds, max_per_param=24)
    assert result.passed, result.report()
    assert {p.name.split("/")[-1] for p in result.params} == {"embeddings", "kernel", "bias", "tensor"}


@pytest.mark.parametrize("num_outs", [None, 3])  # unsupervised; semi-supervised (softmax, alpha-weighted)
def test_rae_gradcheck(num_outs):
    trees = _tiny_trees()
    net = RecursiveAutoEncoder(num_hidden=3, seed=2, train_embeddings=True, num_outs=num_outs, alpha=0.3).init(trees)
    g, loss, feeds = loss_graph(net, trees)
    result = check_gradients(g, loss, feeds, max_per_param=24)
    assert result.passed, result.report()
    layer = {p.name.split("/")[-1] for p in result.params if p.name.startswith("rae_layer")}
    assert layer == {"embeddings", "kernel", "bias", "decoder_kernel", "decoder_bias"}
    assert len(result.params) == 5 + (2 if num_outs else 0)  # the softmax's kernel and bias


# ---- the treebank -------------------------------------------------------------------------------
def test_treebank_labels_follow_the_composition_rules():
    bank = generate(120, seed=11)
    assert generate(120, seed=11) == bank and generate(120, seed=12) != bank  # seeded
    assert set(bank.kinds) == {"plain", "negated", "contrast", "negated_contrast"}
    for t in bank.trees:
        for n in t.nodes():
            if n.is_leaf:
                want = 2 if n.word in LEXICON["positive"] else 0 if n.word in LEXICON["negative"] else 1
            else:
                left, right = n.children
                want = {"not": flip(right.label), "but": right.label, "is": right.label}.get(
                    left.word, right.label if left.word in LEXICON["intensifier"] else None)
                if want is None:  # (det noun) is neutral; (NP VP) and (C1 (but C2)) take the right child's
                    want = 1 if right.word in LEXICON["noun"] else right.label
            assert n.label == want, str(n)


def test_treebank_twins_bound_every_bag_of_words_model():
    bank = generate(400, seed=13)
    for kind in ("contrast", "negated_contrast"):
        twins = bank.subset(kind)
        assert len(twins) >= 80
        for a, b in zip(twins[::2], twins[1::2]):  # pairs: the same words, different root labels
            assert sorted(a.words()) == sorted(b.words()) and a.label != b.label
        assert bag_of_words_ceiling(twins) <= 0.5
    assert bag_of_words_ceiling(bank.subset("plain")) == 1.0
    with pytest.raises(TreeError, match="unknown sentence kind"):
        bank.subset("sarcasm")


# ---- configuration and bad input ----------------------------------------------------------------
def test_builder_keywords_json_and_errors():
    a = RNTN.Builder().num_hidden(6).use_tensors(False).learning_rate(0.1).build()
    assert a == RNTN(num_hidden=6, use_tensors=False, learning_rate=0.1)
    assert RNTN.from_dict(a.to_dict()) == a
    assert RecursiveAutoEncoder.Builder().num_hidden(4).build() == RecursiveAutoEncoder(num_hidden=4)
    with pytest.raises(ConfigError, match="RNTN.Builder has no setting 'n_hidden'"):
        RNTN.Builder().n_hidden(3)
    with pytest.raises(ConfigError, match="learning_rate must be > 0"):
        RNTN(learning_rate=0)
    trees = _tiny_trees()
    net = RNTN(num_hidden=3, num_outs=2)
    with pytest.raises(ConfigError, match="label 2 but num_outs is 2"):
        net.fit(trees)
    deep = RNTN(num_hidden=3, max_depth=1)
    with pytest.raises(TreeError, match="tree 1 is 2 levels high"):
        deep.fit(trees)
    assert not deep._models  # refused before any graph was built
    with pytest.raises(TreeError, match="non-empty list of Trees"):
        RNTN().fit(["(1 a)"])
    with pytest.raises(TreeError, match="non-empty list of Trees"):
        RNTN().init(trees).predict([])


# ---- training -----------------------------------------------------------------------------------
def test_rntn_beats_bag_of_words_on_held_out_trees(tmp_path):
    train, test = generate(500, seed=1), generate(200, seed=2)
    rntn = RNTN(num_hidden=8, seed=0)
    scores, printed = CollectScoresIterationListener(1), []
    rntn.set_listeners(scores, ScoreIterationListener(5, print_fn=printed.append))
    losses = rntn.fit(train.trees, epochs=6)
    assert losses[-1] < 0.5 * losses[0]
    steps = 6 * -(-len(train) // rntn.batch_size)
    assert [i for i, _ in scores.scores] == list(range(steps)) and rntn.epoch_count == 6
    assert np.isclose(np.mean([s for _, s in scores.scores[-(steps // 6):]]), losses[-1])
    assert len(printed) == -(-steps // 5) and printed[1] == f"Score at iteration 5 is {scores.scores[5][1]}"
    assert rntn.score() == scores.scores[-1][1]
    bow = BagOfWords()
    bow.fit(train.trees, epochs=6)
    r, b = rntn.evaluate(test.trees), bow.evaluate(test.trees)
    assert r["root"] >= b["root"] + 0.25, (r, b)
    twins = test.subset("contrast", "negated_contrast")
    r_twins, b_twins = rntn.evaluate(twins)["root"], bow.evaluate(twins)["root"]
    assert b_twins <= bag_of_words_ceiling(twins) <= 0.5
    assert r_twins >= 0.8, r_twins
    assert rntn.predict(test.trees[:5]).tolist() == [n[-1] for n in rntn.predict_nodes(test.trees[:5])]
    # the inference graph exports as a plain ONNX file that onnxruntime runs on a plan's arrays
    rntn.model(rntn.max_depth).export(tmp_path / "rntn.onnx")
    sess = ort.InferenceSession(str(tmp_path / "rntn.onnx"), providers=["CPUExecutionProvider"])
    p, outs = rntn.forward(test.trees[:9])
    for a, b in zip(sess.run(None, dict(zip([i.name for i in sess.get_inputs()], p.feeds()))), outs):
        np.testing.assert_allclose(a, b, atol=1e-6)
    back = pickle.loads(pickle.dumps(rntn))  # the weights and vocabulary travel; predictions agree
    assert back == rntn and back.predict(test.trees).tolist() == rntn.predict(test.trees).tolist()
    # a tree higher than the training graph goes through a deeper inference graph on the same weights
    c1, c2 = test.subset("contrast")[:2]
    longer = Tree.node(c2.label, c1, Tree.node(c2.label, Tree.leaf("but", 1), c2))
    assert longer.depth > rntn.max_depth
    assert rntn.predict_nodes([longer])[0][: len(c1)].tolist() == rntn.predict_nodes([c1])[0].tolist()


def test_rae_training_lowers_reconstruction_error():
    train, test = generate(150, seed=3), generate(60, seed=4)
    rae = RecursiveAutoEncoder(num_hidden=6, seed=1, max_depth=8).init(train.trees)  # empty top levels train too
    before = rae.reconstruction_error(test.trees)
    rae.fit(train.trees, epochs=4)
    after = rae.reconstruction_error(test.trees)
    assert after < 0.5 * before, (before, after)
    codes = rae.encode(test.trees[:4])
    assert codes.shape == (4, 6)
    np.testing.assert_allclose(np.linalg.norm(codes, axis=1), 1.0, atol=1e-5)  # unit-length parents
    assert not rae.layer.embeddings.trainable  # the embeddings stay fixed unless train_embeddings=True
    with pytest.raises(ConfigError, match="no classifier: configure num_outs"):
        rae.predict(test.trees[:2])
    with pytest.raises(ConfigError, match=r"alpha must lie in \[0, 1\]"):
        RecursiveAutoEncoder(num_outs=3, alpha=1.5).init(train.trees)


def test_example_runs_short(capsys):
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "dl4j", "rntn_sentiment.py")
    spec = importlib.util.spec_from_file_location("rntn_sentiment", path)
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    results = ex.main(["--size", "160", "--epochs", "3", "--dim", "6"])
    out = capsys.readouterr().out
    assert "RNTN beats bag-of-words on test root accuracy by" in out and "twins" in out
    assert results["bag of words"]["twins"]["root"] <= 0.5
    assert results["margin"] > 0.1, results
