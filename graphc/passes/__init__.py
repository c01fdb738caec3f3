"""Graph optimization passes and the pipelines that run them.

`optimize(graph, level)` returns an optimized copy of `graph` (the caller's graph is never
touched). Pipelines: `O0` runs nothing, `O1` cleans up (dead code, constants, no-ops, shape
arithmetic, duplicate subexpressions, reshape chains), `O2` (the default) adds layout and fusion
rewrites (transpose sinking, flatten-weight permutation, BatchNormalization and bias folding, MatMul+Add -> Gemm, sums of Gemms, scales and
accumulations into Gemm, squeezed reductions, Pad folding, activation fusion). Each pipeline runs to a fixed point; `stats` collects per-pass
numbers and prints as a table. The local rewrites (`NodeRewrite` passes) and dead-code
elimination work inside If/Loop/Scan bodies too.
"""
from __future__ import annotations

import gc

from graphc.errors import GraphcError
from graphc.ir import Graph
from graphc.passes.base import NodeRewrite, Pass
from graphc.passes.activation_fusion import ActivationFusion
from graphc.passes.batchnorm_folding import BatchNormFolding
from graphc.passes.bias_folding import BiasFolding
from graphc.passes.constant_folding import ConstantFolding
from graphc.passes.cse import CommonSubexpressionElimination
from graphc.passes.dce import DeadCodeElimination
from graphc.passes.flatten_weight_permutation import FlattenWeightPermutation
from graphc.passes.gemm_epilogue import GemmEpilogueFolding
from graphc.passes.gemm_fusion import MatMulAddToGemm
from graphc.passes.gemm_sum import GemmSumConcat
from graphc.passes.manager import PassManager, PassRecord, PassStats
from graphc.passes.noop_elimination import NoOpElimination
from graphc.passes.pad_folding import PadFolding
from graphc.passes.reduce_squeeze import ReduceSqueeze
from graphc.passes.reshape_collapse import ReshapeCollapse
from graphc.passes.shape_folding import ShapeFolding
from graphc.passes.transpose_optimization import TransposeOptimization


def _o1() -> list[Pass]:
    return [DeadCodeElimination(), ConstantFolding(), ShapeFolding(), NoOpElimination(), ReshapeCollapse(),
            CommonSubexpressionElimination()]


def _o2() -> list[Pass]:
    return _o1() + [TransposeOptimization(), FlattenWeightPermutation(), BatchNormFolding(), BiasFolding(), PadFolding(), MatMulAddToGemm(),
                    GemmSumConcat(), GemmEpilogueFolding(), ReduceSqueeze(), ActivationFusion()]


PIPELINES = {"O0": lambda: [], "O1": _o1, "O2": _o2}
_ALIASES = {0: "O0", 1: "O1", 2: "O2", "0": "O0", "1": "O1", "2": "O2", None: "O0"}


def pipeline(level="O2") -> list[Pass]:
    """Fresh pass instances of the pipeline `level` ("O0", "O1", "O2")."""
    name = _ALIASES.get(level, level)
    if name not in PIPELINES:
        raise GraphcError(f"unknown optimization level {level!r}; use one of {', '.join(PIPELINES)}")
    return PIPELINES[name]()


def optimize(graph: Graph, level="O2", verify: bool = False, stats: PassStats | None = None) -> Graph:
    """An optimized copy of `graph` under pipeline `level`; `verify=True` checks the IR after
    every pass; `stats` (a `PassStats`) receives the per-pass numbers."""
    name = _ALIASES.get(level, level)
    passes = pipeline(name)
    if stats is not None:
        stats.level = name
    # Copying and rewriting create no garbage cycles worth collecting, but on a large graph each
    # of the collector's full sweeps costs O(graph): pausing it keeps the pipeline linear.
    paused = gc.isenabled()
    gc.disable()
    try:
        out = graph.copy()
        PassManager(passes, verify=verify, name=name).run(out, stats)
    finally:
        if paused:
            gc.enable()
    return out


def optimize_for_inference(graph: Graph, level="O2", stats: PassStats | None = None) -> Graph:
    """The graph inference runs: `graph` itself at O0, else `optimize` of a copy whose weights
    are frozen (Variables become Constants), so that weight layout changes, BatchNormalization
    and bias folding are computed once at compile time."""
    if _ALIASES.get(level, level) == "O0":
        return graph
    return optimize(graph.frozen(), level=level, stats=stats)


__all__ = ["optimize", "optimize_for_inference", "pipeline", "PassManager", "PassStats", "PassRecord", "PIPELINES", "Pass", "NodeRewrite",
           "ActivationFusion", "BatchNormFolding", "BiasFolding", "CommonSubexpressionElimination", "ConstantFolding",
           "DeadCodeElimination", "FlattenWeightPermutation", "GemmEpilogueFolding", "GemmSumConcat", "MatMulAddToGemm", "NoOpElimination", "PadFolding", "ReduceSqueeze", "ReshapeCollapse",
           "ShapeFolding", "TransposeOptimization"]
