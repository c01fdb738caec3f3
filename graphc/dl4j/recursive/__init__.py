"""Recursive networks over trees (the seed's "apply the same layer multiple times"): a tree type and
its level-by-level batch plan (tree.py), a reader for bracketed trees (reader.py), a synthetic
sentiment treebank that needs composition (treebank.py), Socher's recursive autoencoder (rae.py)
and RNTN (rntn.py) trained by graphc's trainer, and a bag-of-words baseline (bow.py)."""
from graphc.dl4j.recursive.bow import BagOfWords
from graphc.dl4j.recursive.network import RecursiveNetwork, TreeLayer, loss_graph, sentiment_accuracy
from graphc.dl4j.recursive.rae import RAELayer, RecursiveAutoEncoder
from graphc.dl4j.recursive.reader import ParseError, binarize, parse, read, read_file, to_string
from graphc.dl4j.recursive.rntn import RNTN, RNTNLayer
from graphc.dl4j.recursive.tree import LevelPlan, Tree, TreeError, Vocabulary, emit_levels, plan
from graphc.dl4j.recursive.treebank import KINDS, Treebank, bag_of_words_ceiling, generate

__all__ = ["BagOfWords", "KINDS", "LevelPlan", "ParseError", "RAELayer", "RNTN", "RNTNLayer", "RecursiveAutoEncoder",
           "RecursiveNetwork", "Tree", "TreeError", "TreeLayer", "Treebank", "Vocabulary", "bag_of_words_ceiling",
           "binarize", "emit_levels", "generate", "loss_graph", "parse", "plan", "read", "read_file",
           "sentiment_accuracy", "to_string"]
