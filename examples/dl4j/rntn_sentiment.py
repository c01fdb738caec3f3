"""Socher's RNTN against a bag-of-words baseline on graphc's synthetic sentiment treebank.

    python examples/dl4j/rntn_sentiment.py [--size 2000] [--epochs 10] [--dim 10]

The treebank (graphc.dl4j.recursive.treebank) labels every node 0/1/2 (negative/neutral/positive)
by composition: "not" swaps the polarity of what it governs, "A but B" takes B's. Half of its
sentences come in twin pairs with the same words and different labels, so no bag-of-words model can
get more than half of them right; the RNTN reads the tree. Prints root and all-node accuracy of the
RNTN, of the same network without its tensor (a plain recursive network), of Socher's
semi-supervised recursive autoencoder and of bag-of-words logistic regression, overall and on the
negated and contrast sentences.
"""
from __future__ import annotations

import argparse
import time

from graphc.dl4j.recursive import RNTN, BagOfWords, RecursiveAutoEncoder, bag_of_words_ceiling, generate


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2000, help="training sentences (the test set is half as many)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--dim", type=int, default=10, help="node vector size")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    train, test = generate(args.size, seed=args.seed + 1), generate(args.size // 2, seed=args.seed + 2)
    subsets = {"all": test.trees, "negated": test.negated(), "contrast": test.contrast(),
               "twins": test.subset("contrast", "negated_contrast")}
    print(f"treebank: {len(train)} training, {len(test)} test sentences; test subsets "
          + ", ".join(f"{k} {len(v)}" for k, v in subsets.items()))
    print(f"best root accuracy any bag-of-words model can reach on the test twins: "
          f"{bag_of_words_ceiling(subsets['twins']):.3f}")

    models = {"RNTN": RNTN(num_hidden=args.dim, seed=args.seed),
              "RNN (no tensor)": RNTN(num_hidden=args.dim, use_tensors=False, seed=args.seed),
              "semi-sup. RAE": RecursiveAutoEncoder(num_hidden=args.dim, num_outs=3, train_embeddings=True,
                                                    seed=args.seed),
              "bag of words": BagOfWords(seed=args.seed)}
    results = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        losses = model.fit(train.trees, epochs=args.epochs)
        seconds = time.perf_counter() - t0
        scores = {k: model.evaluate(v) for k, v in subsets.items() if v}
        results[name] = {"seconds": seconds, "loss": losses[-1], **scores}
        print(f"{name:16s} trained {seconds:5.1f} s, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    print(f"\n{'root / all-node accuracy':24s}" + "".join(f"{k:>16s}" for k in subsets))
    for name, r in results.items():
        print(f"{name:24s}" + "".join(f"{r[k]['root']:8.3f}/{r[k]['all']:.3f}" if k in r else f"{'-':>16s}"
                                      for k in subsets))
    margin = results["RNTN"]["all"]["root"] - results["bag of words"]["all"]["root"]
    print(f"\nRNTN beats bag-of-words on test root accuracy by {margin:+.3f}")
    results["margin"] = margin
    return results


if __name__ == "__main__":
    main()
