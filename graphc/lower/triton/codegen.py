"""Write a schedule as one readable Python module: `@triton.jit` kernels and a `forward` that
allocates buffers, launches them and calls the torch fallbacks in between.

A kernel is named after the ops it holds and lists its IR nodes in a comment. Shapes are
concrete (one module per specialization), so index arithmetic is written with constants.
`forward(w, *inputs)` takes the weights {Constant node name: tensor} and the inputs as torch
tensors on one device, and returns the outputs in order. Buffers are reused by liveness: a
kernel's output takes the storage of a dead intermediate of the same size and dtype.
"""
from __future__ import annotations

import itertools
import re

import numpy as np

from graphc.lower.triton import fallback
from graphc.lower.triton.lowering import (INJECTIVE, POINTWISE, ZERO, NodeExpr, activation, activation_of,
                                          broadcast_index, channel_index, delinear, linear, literal,
                                          pad_params, reduce_axes, reduction_body, tl_dtype)
from graphc.lower.triton.schedule import POOLS, RESHAPES, Schedule

HEADER = '''"""graphc Triton program for graph {name!r} (generated: edit the model, not this file).

{summary}
Run: forward(w, *inputs) with torch tensors on the GPU (or CPU tensors under TRITON_INTERPRET=1,
set before this module is imported); w maps Constant node names to tensors (weights.npz).
"""
import torch
import torch.nn.functional as F
{imports}
'''
TRITON_IMPORTS = "import triton\nimport triton.language as tl\n"


def _np2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def ident(name: str) -> str:
    s = re.sub(r"\W", "_", str(name))
    return s if s and not s[0].isdigit() else "_" + s


class Blocks:
    """Block sizes: fixed ones (large tiles under the interpreter, which pays per program, not per
    lane), and with `autotune` a small space for the templates that `triton.autotune` times on the
    first launch of each specialization (the default on a GPU)."""

    # (BM, BN, BK, num_warps) for matmul and conv; (BM, BN, num_warps) for attention
    GEMM_SPACE = ((32, 32, 32, 4), (64, 64, 32, 4), (128, 64, 32, 8), (64, 128, 32, 8))
    ATTENTION_SPACE = ((64, 64, 4), (128, 64, 8), (64, 32, 4))

    def __init__(self, interpret: bool, autotune: bool = False):
        self.pointwise = 16384 if interpret else 1024
        self.tile = 8192 if interpret else 4096
        self.interpret, self.autotune = interpret, autotune

    def configs(self, kind: str) -> list | None:
        """[(tuned meta, num_warps)] of a kernel of `kind`, or None when its sizes are fixed."""
        if not self.autotune or kind not in ("matmul", "conv", "attention"):
            return None
        if kind == "attention":
            return [({"BM": m, "BN": n}, wp) for m, n, wp in self.ATTENTION_SPACE]
        return [({"BM": m, "BN": n, "BK": k}, wp) for m, n, k, wp in self.GEMM_SPACE]

    def matmul(self, m, n, k):
        cap = 64
        return (min(max(16, _np2(m)), cap), min(max(16, _np2(n)), cap),
                min(max(16, _np2(k)), 128 if self.interpret else 32))


class KernelWriter:
    """The body of one kernel: values computed at an index, loads of buffers, one store."""

    def __init__(self, graph, kernel, host_names):
        self.g, self.k, self.host = graph, kernel, host_names
        self.inline = set(kernel.nodes)
        self.lines, self.params, self.ptrs, self.memo, self.masks = [], [], {}, {}, {}
        self.n = 0
        self.guard = None  # a bounds condition every load must also hold (a pooling window's)
        self.indent = 0  # lines go inside a template's loop (attention's scores chain)

    def var(self, base="t"):
        self.n += 1
        return f"{base}{self.n}"

    def emit(self, line):
        self.lines.append("    " * self.indent + line)

    def mask(self, deps):
        ms = [self.masks[a] for a in sorted(deps)]
        return " & ".join(ms) if ms else None

    def pointer(self, v):
        if v not in self.ptrs:
            self.ptrs[v] = f"in_ptr{len(self.ptrs)}"
            self.params.append(self.host[v])
        return self.ptrs[v]

    def load(self, v, index):
        c = self.g.const_value(v)
        t = self.g.type_of(v)
        if c is not None and c.size == 1:
            return literal(c.reshape(-1)[0], t.dtype)
        addr, deps = linear(index, t.shape)
        m = self.mask(deps)
        if self.guard:
            m = f"{m} & {self.guard}" if m else self.guard
        out = self.var("x")
        # half types compute in float32, as Inductor does; the store rounds back
        up = ".to(tl.float32)" if np.dtype(t.dtype).name in ("float16", "bfloat16") else ""
        self.emit(f"{out} = tl.load({self.pointer(v)} + ({addr})" + (f", mask={m}, other=0)" if m else ")") + up)
        return out

    def value(self, v, index):
        """The variable holding value `v` at `index` (coordinates of `v`'s shape)."""
        # a value read under a guard has zeros where the guard fails: it is only reused under the same one
        key = (v, tuple(c for c, _ in index)) + ((self.guard,) if self.guard else ())
        if key in self.memo:
            return self.memo[key]
        node = v[0]
        if node not in self.inline or node == self.k.anchor:
            out = self.load(v, index)
        elif self.g.op(node) in POOLS:
            out = self.pool(node, index)
        elif self.g.op(node) == "Concat":
            out = self.concat(node, index)
        elif self.g.op(node) == "Pad":
            out = self.pad(node, index)
        elif self.g.op(node) in INJECTIVE:
            out = self.value(self.g.input_values(node)[0], INJECTIVE[self.g.op(node)](self.g, node, index))
        else:
            vals = self.g.input_values(node)
            args = [None if u is None else self.value(u, channel_index(self.g, node, p, index))
                    for p, u in enumerate(vals)]
            dt = tl_dtype(self.g.type_of(v).dtype)
            expr = POINTWISE[self.g.op(node)](NodeExpr(self.g, node, args, dt))
            out = self.var()
            self.emit(f"{out} = {expr}  # {node}")
        self.memo[key] = out
        return out

    def pool(self, node, index):
        """MaxPool/AveragePool at `index`: the window unrolled, each position read through the
        input's own tree under a bounds guard (padding never reads memory)."""
        a = self.g.attrs(node)
        x = self.g.input_values(node)[0]
        xs = self.g.type_of(x).shape
        ks = list(a["kernel_shape"])
        sp = len(ks)
        st, dil = a.get("strides", [1] * sp), a.get("dilations", [1] * sp)
        pads = fallback._pads_for(self.g, node, sp)
        is_max = self.g.op(node) == "MaxPool"
        acc, cnt = self.var("pool"), self.var("cnt")
        self.emit(f"{acc} = float('-inf')" if is_max else f"{acc} = 0.0")
        self.emit(f"{cnt} = 0.0")
        include = bool(a.get("count_include_pad", 0))
        outer = self.guard
        for offs in itertools.product(*[range(k) for k in ks]):
            coords, guard, padded, skip = [], [], [], False
            for d, o in enumerate(offs):
                c, deps = index[2 + d]
                if not deps:  # a constant coordinate (a size-1 dim): the bound is known now
                    i = int(c) * st[d] + o * dil[d] - pads[d]
                    skip |= not 0 <= i < xs[2 + d]
                    coords.append((str(i), deps))
                    continue
                e = f"(({c}) * {st[d]} + {o * dil[d] - pads[d]})"
                coords.append((e, deps))
                guard.append(f"({e} >= 0) & ({e} < {xs[2 + d]})")
                padded.append(f"({e} < {xs[2 + d] + pads[sp + d]})")
            if skip and not include:
                continue
            if not guard:
                guard = padded = ["(xidx >= 0)"]  # a block of True, the shape of the kernel's lanes
            if skip:  # only counted (count_include_pad): the window reaches past the input here
                self.emit(f"{cnt} = {cnt} + 1.0")
                continue
            g = self.var("inb")
            self.emit(f"{g} = {' & '.join(guard)}")
            self.guard = f"{outer} & {g}" if outer else g
            v = self.value(x, tuple(index[:2]) + tuple(coords))
            self.guard = outer
            if is_max:
                self.emit(f"{acc} = tl.maximum({acc}, tl.where({g}, {v}, float('-inf')))")
            else:
                self.emit(f"{acc} = {acc} + tl.where({g}, {v}, 0.0)")
                self.emit(f"{cnt} = {cnt} + tl.where({' & '.join(padded) if include else g}, 1.0, 0.0)")
        if is_max:
            return acc
        out = self.var()
        self.emit(f"{out} = {acc} / tl.maximum({cnt}, 1.0)  # {node}")
        return out

    def guarded(self, v, index, cond, other):
        """`v` at `index` where `cond` holds (its loads masked by it), `other` elsewhere."""
        outer = self.guard
        g = self.var("inb")
        self.emit(f"{g} = {cond}")
        self.guard = f"{outer} & {g}" if outer else g
        x = self.value(v, index)
        self.guard = outer
        out = self.var()
        self.emit(f"{out} = tl.where({g}, {x}, {other})")
        return out

    def concat(self, node, index):
        """Concat at `index`: each input read under its own range of the axis."""
        vals = self.g.input_values(node)
        rank = len(index)
        axis = int(self.g.attrs(node).get("axis", 0))
        axis = axis + rank if axis < 0 else axis
        c, deps = index[axis]
        pieces, start = [], 0
        for v in vals:
            n = self.g.type_of(v).shape[axis]
            if n:
                pieces.append((v, start, n))
            start += n
        out = literal(0, self.g.type_of((node, 0)).dtype)
        for v, start, n in reversed(pieces):  # the last piece needs no test of its own
            idx = tuple(index[:axis]) + ((f"({c} - {start})" if start else c, deps),) + tuple(index[axis + 1:])
            cond = f"({c} >= {start}) & ({c} < {start + n})" if deps else ("True" if start <= int(c) < start + n else "False")
            if not deps:
                if cond == "True":
                    return self.value(v, idx)
                continue
            out = self.guarded(v, idx, cond, out)
        return out

    def pad(self, node, index):
        """Pad at `index`: the input inside the border, the fill value outside."""
        begins, _, fill = pad_params(self.g, node)
        x = self.g.input_values(node)[0]
        xs = self.g.type_of(x).shape
        idx, conds = [], []
        for d, (c, deps) in enumerate(index):
            if not begins[d]:
                idx.append((c, deps))
                if xs[d] != self.g.type_of((node, 0)).shape[d] and deps:
                    conds.append(f"({c} < {xs[d]})")
                continue
            e = f"({c} - {begins[d]})"
            if not deps:  # a constant coordinate: inside or outside is known now
                i = int(c) - begins[d]
                if not 0 <= i < xs[d]:
                    return literal(fill, self.g.type_of(x).dtype)
                idx.append((str(i), deps))
                continue
            idx.append((e, deps))
            conds.append(f"({e} >= 0) & ({e} < {xs[d]})")
        if not conds:
            return self.value(x, tuple(idx))
        return self.guarded(x, tuple(idx), " & ".join(conds), literal(fill, self.g.type_of(x).dtype))

    def store(self, index, var):
        """Store `var` at `index` of the root's output through a pointer of the whole tile's shape
        (`self.tile`: its axes, a zero-valued expression of that shape, its mask), so a value of
        size-1 dims or a scalar lands where it belongs."""
        root = (self.k.root, 0)
        addr, deps = linear(index, self.g.type_of(root).shape)
        axes, zero, mask = self.tile
        if deps != axes:
            addr = f"{addr} + 0 * ({zero})"
        self.emit(f"tl.store(out_ptr0 + ({addr}), {var}, mask={mask})")


def _nodes_comment(g, k):
    return "    # IR nodes: " + ", ".join(f"{n} ({g.op(n)})" for n in k.nodes)


def kernel_name(g, k, i):
    ops = []
    for n in k.nodes:
        o = re.sub(r"(?<!^)(?=[A-Z])", "_", g.op(n)).lower()
        if o not in ops:
            ops.append(o)
    return f"k{i}_" + "_".join(ops[:4]) + ("_etc" if len(ops) > 4 else "")


def write_pointwise(g, k, w, blocks):
    shape = g.type_of((k.root, 0)).shape
    numel = int(np.prod(shape))
    w.masks["x"] = "xmask"
    w.emit("xidx = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)")
    w.emit(f"xmask = xidx < {numel}")
    index = delinear(("xidx", frozenset("x")), shape)
    w.tile = (frozenset("x"), "xidx", "xmask")
    w.store(index, w.value((k.root, 0), index))
    block = min(_np2(numel), blocks.pointwise)
    return {"XBLOCK": block}, f"(triton.cdiv({numel}, {{XBLOCK}}),)"


def write_reduction(g, k, w, blocks):
    a = k.anchor
    x_in = g.input_values(a)[0]
    shape = g.type_of(x_in).shape
    axes, keep, along = reduce_axes(g, a)
    kept = [d for d in range(len(shape)) if d not in axes]
    xnumel = int(np.prod([shape[d] for d in kept]))
    rnumel = int(np.prod([shape[d] for d in axes]))
    rblock = _np2(rnumel)
    xblock = max(1, min(_np2(xnumel), blocks.tile // rblock))
    w.masks.update(x="xmask", r="rmask")
    w.emit("xidx = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]")
    w.emit(f"xmask = xidx < {xnumel}")
    w.emit("ridx = tl.arange(0, RBLOCK)[None, :]")
    w.emit(f"rmask = ridx < {rnumel}")
    xc = delinear(("xidx", frozenset("x")), [shape[d] for d in kept])
    rc = delinear(("ridx", frozenset("r")), [shape[d] for d in axes])
    index = tuple(xc[kept.index(d)] if d in kept else rc[axes.index(d)] for d in range(len(shape)))
    x = w.value(x_in, index)
    dt = tl_dtype(g.type_of(x_in).dtype)
    dt = "tl.float32" if dt in ("tl.float16", "tl.bfloat16") else dt
    tile = w.var("tile")
    w.emit(f"{tile} = {x} + tl.zeros([XBLOCK, RBLOCK], {dt})  # {a} ({g.op(a)}) over axes {list(axes)}")
    out = w.var("red")
    for line in reduction_body(g, a, tile, "xmask & rmask", rnumel, out):
        w.emit(line)
    if g.op(a) == "LayerNormalization":
        vals = g.input_values(a)
        scale = w.value(vals[1], broadcast_index(index, shape, g.type_of(vals[1]).shape))
        y = f"{out} * {scale}"
        if len(vals) > 2 and vals[2] is not None:
            y += f" + {w.value(vals[2], broadcast_index(index, shape, g.type_of(vals[2]).shape))}"
        w.emit(f"{out}_y = {y}")
        out = f"{out}_y"
    if along:
        native = index
    elif keep:
        native = tuple(ZERO if d in axes else xc[kept.index(d)] for d in range(len(shape)))
    else:
        native = tuple(xc)
    w.memo[((a, 0), tuple(c for c, _ in native))] = out
    w.tile = (frozenset("xr"), "xidx + ridx", "xmask & rmask") if along else (frozenset("x"), "xidx", "xmask")
    w.store(native, w.value((k.root, 0), native))
    return {"XBLOCK": xblock, "RBLOCK": rblock}, f"(triton.cdiv({xnumel}, {{XBLOCK}}),)"


def write_matmul(g, k, w, blocks):
    a = k.anchor
    op, attrs = g.op(a), g.attrs(a)
    vals = g.input_values(a)
    A, B = vals[0], vals[1]
    sa, sb = g.type_of(A).shape, g.type_of(B).shape
    out_shape = g.type_of((a, 0)).shape
    M, N = out_shape[-2], out_shape[-1]
    ta, tb = (attrs.get("transA", 0), attrs.get("transB", 0)) if op != "MatMul" else (0, 0)
    K = sa[-2] if ta else sa[-1]
    # strides of A along (m, k) and of B along (k, n), row-major
    sam, sak = (1, sa[-1]) if ta else (sa[-1], 1)
    sbk, sbn = (1, sb[-1]) if tb else (sb[-1], 1)
    bshape = out_shape[:-2]
    batch = int(np.prod(bshape)) if bshape else 1
    bc = delinear(("pid_b", frozenset()), bshape) if bshape else ()
    a_off = linear(broadcast_index(bc, bshape, sa[:-2]), sa[:-2])[0] if len(sa) > 2 else "0"
    b_off = linear(broadcast_index(bc, bshape, sb[:-2]), sb[:-2])[0] if len(sb) > 2 else "0"
    bm, bn, bk = blocks.matmul(M, N, K)
    pa, pb = w.pointer(A), w.pointer(B)
    prec = ', input_precision="ieee"' if np.dtype(g.type_of(A).dtype).name == "float32" else ""
    w.emit(f"# {a} ({op}): [{M}x{K}] @ [{K}x{N}], batch {list(bshape)}")
    w.emit("pid_m = tl.program_id(0)")
    w.emit("pid_n = tl.program_id(1)")
    w.emit("pid_b = tl.program_id(2)")
    w.emit("rm = pid_m * BM + tl.arange(0, BM)")
    w.emit("rn = pid_n * BN + tl.arange(0, BN)")
    w.emit("rk = tl.arange(0, BK)")
    w.emit(f"a_base = {pa} + ({a_off}) * {sa[-1] * sa[-2]}")
    w.emit(f"b_base = {pb} + ({b_off}) * {sb[-1] * sb[-2]}")
    w.emit("acc = tl.zeros((BM, BN), dtype=tl.float32)")
    w.emit(f"for k0 in range(0, {K}, BK):")
    w.emit("    kk = k0 + rk")
    w.emit(f"    a = tl.load(a_base + rm[:, None] * {sam} + kk[None, :] * {sak}, "
           f"mask=(rm[:, None] < {M}) & (kk[None, :] < {K}), other=0.0)")
    w.emit(f"    b = tl.load(b_base + kk[:, None] * {sbk} + rn[None, :] * {sbn}, "
           f"mask=(kk[:, None] < {K}) & (rn[None, :] < {N}), other=0.0)")
    w.emit(f"    acc += tl.dot(a, b{prec})")
    w.masks.update(m=f"(rm[:, None] < {M})", n=f"(rn[None, :] < {N})")
    native = tuple(bc) + (("rm[:, None]", frozenset("m")), ("rn[None, :]", frozenset("n")))
    out = "acc"
    if op != "MatMul":
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        if alpha != 1.0:
            out = f"acc * {alpha!r}"
        if len(vals) > 2 and vals[2] is not None:
            c = w.value(vals[2], broadcast_index(native, out_shape, g.type_of(vals[2]).shape))
            out = f"{out} + {c}" if beta == 1.0 else f"{out} + {beta!r} * {c}"
        act = activation_of(g, a)
        if act:
            out = activation(act, f"({out})", attrs.get("activation_params", ()))
        w.emit(f"mm = {out}")
        out = "mm"
    w.memo[((a, 0), tuple(c for c, _ in native))] = out
    w.tile = (frozenset("mn"), "rm[:, None] + rn[None, :]", f"{w.masks['m']} & {w.masks['n']}")
    store_epilogue(g, k, w, native)
    return {"BM": bm, "BN": bn, "BK": bk}, f"(triton.cdiv({M}, {{BM}}), triton.cdiv({N}, {{BN}}), {batch})"


def write_conv(g, k, w, blocks):
    """Implicit GEMM over NCHW (any number of spatial dims): rows are (n, output position),
    columns a group's output channels, the reduction (input channel, kernel offset); padding is a
    mask on the gathered input. Groups (depthwise too) are the grid's third axis."""
    a = k.anchor
    attrs = g.attrs(a)
    vals = g.input_values(a)
    xs, ws = g.type_of(vals[0]).shape, g.type_of(vals[1]).shape
    out_shape = g.type_of((a, 0)).shape
    sp = len(xs) - 2
    groups = int(attrs.get("group", 1))
    cig, cog = ws[1], ws[0] // groups
    ksz = tuple(ws[2:])
    strides = attrs.get("strides", [1] * sp)
    dil = attrs.get("dilations", [1] * sp)
    pads = fallback._pads_for(g, a, sp)
    M = out_shape[0] * int(np.prod(out_shape[2:]))
    K = cig * int(np.prod(ksz))
    bm, bn, bk = blocks.matmul(M, cog, K)
    pw = w.pointer(vals[1])
    w.emit(f"# {a} ({g.op(a)}): implicit GEMM [{M}x{K}] @ [{K}x{cog}] per group, {groups} groups, "
           f"kernel {list(ksz)}, strides {list(strides)}, pads {list(pads)}")
    for line in ("pid_m = tl.program_id(0)", "pid_n = tl.program_id(1)", "grp = tl.program_id(2)",
                 "rm = pid_m * BM + tl.arange(0, BM)", "rn = pid_n * BN + tl.arange(0, BN)",
                 "rk = tl.arange(0, BK)"):
        w.emit(line)
    rows = delinear(("rm[:, None]", frozenset("m")), (out_shape[0],) + tuple(out_shape[2:]))
    w.emit("acc = tl.zeros((BM, BN), dtype=tl.float32)")
    w.emit(f"for k0 in range(0, {K}, BK):")
    w.emit("    kk = k0 + rk")
    kc = delinear(("kk[None, :]", frozenset("k")), (cig,) + ksz)  # (ci, kernel offsets) of each column
    inb, pos = [], []
    for d in range(sp):
        e = f"(({rows[1 + d][0]}) * {strides[d]} - {pads[d]} + ({kc[1 + d][0]}) * {dil[d]})"
        w.emit(f"    i{d} = {e}")
        pos.append(f"i{d}")
        if rows[1 + d][1] or kc[1 + d][1] or not 0 <= -pads[d] < xs[2 + d]:
            inb.append(f"(i{d} >= 0) & (i{d} < {xs[2 + d]})")  # else a size-1 dim read at 0: no guard
    # the input's address: NCHW coordinates, carried through an inline layout Transpose to the
    # buffer it reads (NHWC data read in place); size-1 dims drop out (their coordinate is 0 or masked)
    mk = frozenset("mk")
    index = (rows[0], (f"(grp * {cig} + ({kc[0][0]}))", mk)) + tuple((f"i{d}", mk) for d in range(sp))
    src = vals[0]
    while src[0] in w.inline and g.op(src[0]) == "Transpose":
        index = INJECTIVE["Transpose"](g, src[0], index)
        src = g.input_values(src[0])[0]
    px = w.pointer(src)
    addr = linear(index, g.type_of(src).shape)[0]
    w.emit(f"    xv = tl.load({px} + {addr}, mask=(rm[:, None] < {M}) & (kk[None, :] < {K}){''.join(' & ' + c for c in inb)}, other=0.0)")
    w_strides = [int(np.prod(ws[i + 1:])) for i in range(len(ws))]
    w.emit(f"    wv = tl.load({pw} + (grp * {cog} + rn[None, :]) * {w_strides[0]} + kk[:, None], "
           f"mask=(kk[:, None] < {K}) & (rn[None, :] < {cog}), other=0.0)")
    prec = ', input_precision="ieee"' if np.dtype(g.type_of(vals[0]).dtype).name == "float32" else ""
    w.emit(f"    acc += tl.dot(xv, wv{prec})")
    w.masks.update(m=f"(rm[:, None] < {M})", n=f"(rn[None, :] < {cog})")
    co = (f"(grp * {cog} + rn[None, :])", frozenset("n"))
    native = (rows[0], co) + tuple(rows[1:])
    out = "acc"
    if len(vals) > 2 and vals[2] is not None:
        out = f"acc + {w.value(vals[2], (co,))}"
    act = activation_of(g, a)
    if act:
        out = activation(act, f"({out})", attrs.get("activation_params", ()))
    w.emit(f"cv = {out}")
    w.memo[((a, 0), tuple(c for c, _ in native))] = "cv"
    w.tile = (frozenset("mn"), "rm[:, None] + rn[None, :]", f"{w.masks['m']} & {w.masks['n']}")
    store_epilogue(g, k, w, native)
    return {"BM": bm, "BN": bn, "BK": bk}, f"(triton.cdiv({M}, {{BM}}), triton.cdiv({cog}, {{BN}}), {groups})"


def _batch_offset(bc, bshape, shape) -> str:
    """The offset, in matrices, of batch coordinates `bc` into an operand of `shape` (broadcast)."""
    return linear(broadcast_index(bc, bshape, shape[:-2]), shape[:-2])[0] if len(shape) > 2 else "0"


def write_attention(g, k, w, blocks):
    """Flash attention: per block of BM query rows, the keys in blocks of BN with an online
    softmax; the scores' pointwise chain (scale, mask) is computed on each [BM, BN] tile."""
    a, att = k.anchor, k.attention
    Q, KT = g.input_values(att.scores)[:2]
    V = g.input_values(a)[1]
    sq, sk, sv = g.type_of(Q).shape, g.type_of(KT).shape, g.type_of(V).shape
    out_shape = g.type_of((a, 0)).shape
    M, D, N, DV = sq[-2], sq[-1], sk[-1], sv[-1]
    bshape = out_shape[:-2]
    batch = int(np.prod(bshape)) if bshape else 1
    bc = delinear(("pid_b", frozenset()), bshape) if bshape else ()
    bm, bn = (16, 16) if blocks.interpret else (64, 64)
    bd, bv = max(16, _np2(D)), max(16, _np2(DV))
    prec = ', input_precision="ieee"' if np.dtype(g.type_of(Q).dtype).name == "float32" else ""
    w.emit(f"# {a}: softmax(f({att.scores})) @ V, [{M}x{D}] @ [{D}x{N}] then @ [{N}x{DV}], batch {list(bshape)}; "
           f"f = {[g.op(c) for c in att.chain]}")
    w.emit("pid_m = tl.program_id(0)")
    w.emit("pid_b = tl.program_id(1)")
    w.emit("rm = pid_m * BM + tl.arange(0, BM)")
    w.emit("rd = tl.arange(0, BD)")
    w.emit("rv = tl.arange(0, BV)")
    pq, pk, pv = w.pointer(Q), w.pointer(KT), w.pointer(V)
    w.emit(f"q = tl.load({pq} + ({_batch_offset(bc, bshape, sq)}) * {M * D} + rm[:, None] * {D} + rd[None, :], "
           f"mask=(rm[:, None] < {M}) & (rd[None, :] < {D}), other=0.0)")
    w.emit("m_i = tl.full([BM], float('-inf'), tl.float32)")
    w.emit("l_i = tl.zeros([BM], dtype=tl.float32)")
    w.emit("acc = tl.zeros([BM, BV], dtype=tl.float32)")
    w.emit(f"for n0 in range(0, {N}, BN):")
    w.indent = 1
    w.emit("rn = n0 + tl.arange(0, BN)")
    w.emit(f"kt = tl.load({pk} + ({_batch_offset(bc, bshape, sk)}) * {D * N} + rd[:, None] * {N} + rn[None, :], "
           f"mask=(rd[:, None] < {D}) & (rn[None, :] < {N}), other=0.0)")
    w.emit(f"s = tl.dot(q, kt{prec})")
    # the chain reads the scores (and its other operands) at the tile's coordinates
    w.masks.update(m=f"(rm[:, None] < {M})", n=f"(rn[None, :] < {N})")
    native = tuple(bc) + (("rm[:, None]", frozenset("m")), ("rn[None, :]", frozenset("n")))
    outer = dict(w.memo)
    w.memo[((att.scores, 0), tuple(c for c, _ in native))] = "s"
    sc = w.value(g.input_values(att.softmax)[0], native)
    w.memo = outer  # values of the loop's tile are not visible after it
    w.emit(f"sc = tl.where(rn[None, :] < {N}, {sc}, float('-inf'))")
    w.emit("m_new = tl.maximum(m_i, tl.max(sc, 1))")
    w.emit("alpha = tl.exp(m_i - m_new)")
    w.emit("p = tl.exp(sc - m_new[:, None])")
    w.emit("l_i = l_i * alpha + tl.sum(p, 1)")
    w.emit(f"v = tl.load({pv} + ({_batch_offset(bc, bshape, sv)}) * {N * DV} + rn[:, None] * {DV} + rv[None, :], "
           f"mask=(rn[:, None] < {N}) & (rv[None, :] < {DV}), other=0.0)")
    w.emit(f"acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v{prec})")
    w.emit("m_i = m_new")
    w.indent = 0
    w.emit("o = acc / l_i[:, None]")
    w.masks.update(m=f"(rm[:, None] < {M})", n=f"(rv[None, :] < {DV})")
    native = tuple(bc) + (("rm[:, None]", frozenset("m")), ("rv[None, :]", frozenset("n")))
    w.memo[((a, 0), tuple(c for c, _ in native))] = "o"
    w.tile = (frozenset("mn"), "rm[:, None] + rv[None, :]", f"{w.masks['m']} & {w.masks['n']}")
    store_epilogue(g, k, w, native)
    return {"BM": bm, "BN": bn, "BD": bd, "BV": bv}, f"(triton.cdiv({M}, {{BM}}), {batch})"


def store_epilogue(g, k, w, native):
    """Store the root of an anchor's kernel whose epilogue may run through Transposes and Reshapes:
    `native` (coordinates of the anchor's result) is carried forward through each view to the
    root's coordinates, and each view's own index map (which reads its input back at the same
    element, written differently) is seeded with the value computed at the forward coordinates."""
    n, index = k.anchor, native
    while n != k.root:
        (r, _), = g.consumers((n, 0))
        op = g.op(r)
        if op == "Transpose" or op in RESHAPES:
            if op == "Transpose":
                perm = g.attrs(r).get("perm") or list(reversed(range(len(index))))
                out = tuple(index[p] for p in perm)
            else:
                out = delinear(linear(index, g.type_of((n, 0)).shape), g.type_of((r, 0)).shape)
            back = INJECTIVE[op](g, r, out)
            w.memo[((n, 0), tuple(c for c, _ in back))] = w.value((n, 0), index)
            index = out
        n = r
    w.store(index, w.value((k.root, 0), index))


WRITERS = {"pointwise": write_pointwise, "reduction": write_reduction, "matmul": write_matmul, "conv": write_conv,
           "attention": write_attention}


def autotune_decorator(configs, interpret: bool) -> str:
    space = ", ".join(f"triton.Config({meta!r}, num_warps={warps})" for meta, warps in configs)
    # the interpreter has no GPU timer: the launches are timed on the host clock instead
    bench = ", do_bench=_host_bench" if interpret else ""
    return f"@triton.autotune(configs=[{space}], key=[]{bench})"


HOST_BENCH = '''

def _host_bench(kernel_call, quantiles):
    """Time one launch on the host clock (autotuning under the interpreter)."""
    t0 = time.perf_counter()
    kernel_call()
    return [(time.perf_counter() - t0) * 1e3 for _ in quantiles]

'''


def emit_module(graph, sched: Schedule, *, interpret: bool, autotune: bool = False) -> tuple[str, list]:
    """(source of the program module, names of the Constant nodes `forward` reads from `w`)."""
    g, blocks = graph, Blocks(interpret, autotune)
    host: dict = {}
    body, kernels = [], []
    in_names = []
    for n in g.inputs:
        host[(n, 0)] = f"in_{ident(n)}"
        in_names.append(host[(n, 0)])
    for c in g.constants():
        if g.readers(c) or g.is_output((c, 0)):
            host[(c, 0)] = f"w_{ident(c)}"
    for s in sched.steps:
        host[(s.node, 0)] = f"v_{ident(s.node)}"
        if g.op(s.node) in fallback.MULTI_OUTPUT and s.kind == "fallback":
            for j in range(len(g.data(s.node)["outputs"])):
                host[(s.node, j)] = f"v_{ident(s.node)}_{j}"
    # liveness: the last step reading each host value; outputs live to the end
    last, outputs = {}, {v for _, v in g.outputs}
    for i, s in enumerate(sched.steps):
        nodes = s.kernel.nodes if s.kernel else [s.node]
        for n in nodes:
            for u in g.input_values(n):
                if u is not None and u in host:
                    last[u] = i
    storage, pool, owned = {}, {}, set()  # host value -> value owning its storage; free buffers
    used_weights = set()
    for i, s in enumerate(sched.steps):
        v = (s.node, 0)
        t = g.type_of(v)
        shape = tuple(t.shape)
        if s.kind == "view":
            src = g.input_values(s.node)[0]
            body.append(f"{host[v]} = {host[src]}.view({shape})  # {s.node} ({g.op(s.node)})")
            storage[v] = storage.get(src, src)
        elif s.kind == "fallback":
            args = [None if u is None else host[u] for u in g.input_values(s.node)]
            if g.op(s.node) in fallback.MULTI_OUTPUT:
                outs = [host[(s.node, j)] for j in range(len(g.data(s.node)["outputs"]))]
                body.append(f"{', '.join(outs)}, = [t.contiguous() for t in {fallback.expression(g, s.node, args)}]  "
                            f"# fallback: {s.node} ({g.op(s.node)})")
                for j in range(len(outs)):
                    storage[(s.node, j)] = (s.node, j)
            else:
                body.append(f"{host[v]} = ({fallback.expression(g, s.node, args)}).contiguous()  "
                            f"# fallback: {s.node} ({g.op(s.node)})")
                storage[v] = v
        else:
            k = s.kernel
            name = kernel_name(g, k, len(kernels))
            w = KernelWriter(g, k, host)
            meta, grid = WRITERS[k.kind](g, k, w, blocks)
            key = (int(np.prod(shape)), np.dtype(t.dtype).name)
            free = pool.get(key)
            if free and v not in outputs:
                reuse = free.pop()
                body.append(f"{host[v]} = {host[reuse]}.view({shape})  # reuses the buffer of {reuse[0]}")
                storage[v] = storage.get(reuse, reuse)
            else:
                body.append(f"{host[v]} = torch.empty({shape}, dtype={fallback.torch_dtype(t.dtype)}, device=device)")
                storage[v] = v
                owned.add(v)
            args = ", ".join(w.params + [host[v]])
            configs = blocks.configs(k.kind)
            tuned = configs[0][0] if configs else {}
            fixed = {m: b for m, b in meta.items() if m not in tuned}
            metas = "".join(f", {m}={b}" for m, b in fixed.items())
            if configs:
                launch = grid.format(**fixed, **{m: f'META["{m}"]' for m in tuned})
                body.append(f"{name}[lambda META: {launch}]({args}{metas})")
            else:
                body.append(f"{name}[{grid.format(**meta)}]({args}{metas})")
            params = ", ".join([f"in_ptr{j}" for j in range(len(w.params))] + ["out_ptr0"] +
                               [f"{m}: tl.constexpr" for m in meta])
            src = [autotune_decorator(configs, blocks.interpret)] if configs else []
            src += [f"@triton.jit", f"def {name}({params}):", _nodes_comment(g, k)]
            src += ["    " + line for line in w.lines]
            kernels.append("\n".join(src))
        for u in g.input_values(s.node) if s.kind != "kernel" else [x for n in s.kernel.nodes for x in g.input_values(n)]:
            if u is not None and u[0] in g.constants() and u in host:
                used_weights.add(u[0])
        # storages whose every alias is dead go back to the pool
        dead = [u for u, j in last.items() if j == i and u not in outputs]
        for u in dead:
            root = storage.get(u)
            if root in owned and not any(storage.get(x) == root and (last.get(x, -1) > i or x in outputs)
                                         for x in storage):
                owned.discard(root)
                pool.setdefault((int(np.prod(g.type_of(root).shape)), np.dtype(g.type_of(root).dtype).name),
                                []).append(root)
    for name, v in g.outputs:
        if v[0] in g.constants():
            used_weights.add(v[0])
    weights = sorted(used_weights)
    # a program without kernels (the torch peer) runs where triton is not installed
    lines = [HEADER.format(name=g.name, summary=summary_text(g, sched), imports=TRITON_IMPORTS if kernels else "")]
    if interpret and any("do_bench=_host_bench" in k for k in kernels):
        lines.append("import time" + HOST_BENCH)
    lines += [k + "\n\n" for k in kernels]
    lines.append(f"def forward(w, {', '.join(in_names)}):" if in_names else "def forward(w):")
    lines.append(f'    """Inputs: {", ".join(in_names) or "none"}; outputs: {[n for n, _ in g.outputs]}."""')
    dev = in_names[0] + ".device" if in_names else "torch.device('cuda' if torch.cuda.is_available() else 'cpu')"
    lines.append(f"    device = {dev}")
    for c in weights:
        lines.append(f"    w_{ident(c)} = w[{c!r}]")
    lines += ["    " + b for b in body]
    lines.append(f"    return [{', '.join(host[v] for _, v in g.outputs)}]")
    lines.append(MAIN.format(inputs=[(tuple(g.type_of((n, 0)).shape), fallback.torch_dtype(g.type_of((n, 0)).dtype))
                                     for n in g.inputs]).replace("'torch.", "torch.").replace("')", ")"))
    return "\n".join(lines) + "\n", weights


MAIN = '''

if __name__ == "__main__":  # run once on random inputs, with weights.npz from beside this file
    import os
    import numpy as np

    dev = "cuda" if torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1" else "cpu"
    here = os.path.dirname(os.path.abspath(__file__))
    w = {{k: torch.tensor(v, device=dev) for k, v in np.load(os.path.join(here, "weights.npz")).items()}}
    xs = [torch.randn(s).to(dt) if dt.is_floating_point else torch.zeros(s, dtype=dt) for s, dt in {inputs}]
    for i, y in enumerate(forward(w, *[x.to(dev) for x in xs])):
        print(f"output {{i}}: {{tuple(y.shape)}} {{y.dtype}}")'''


def summary_text(g, sched) -> str:
    ks = sched.kernels
    if not ks and sched.fallbacks and all(why == "torch program" for _, _, why in sched.fallbacks):
        return f"A torch program: {len(sched.fallbacks)} torch calls, no kernels."
    out = f"{len(ks)} kernels, {len(sched.fallbacks)} torch fallbacks"
    if sched.fallbacks:
        out += ": " + ", ".join(f"{n} ({op}: {why})" for n, op, why in sched.fallbacks)
    return out + "."
