"""Fuzzes graphc's model readers with mutated real files; run by `test_fuzz.py` in a child process.

    python -m tests.fuzz.fuzz_files WORKDIR EXAMPLES [SEED]

Cases come from hypothesis (derandomized, so every run draws the same ones; a SEED explores others) over the four
formats (`.keras`, legacy `.h5`, `.json` + `.weights.h5`, `.onnx`): byte flips, truncation and
zeroed regions of the fixture files, structural mutations of their JSON configs (type swaps,
deletions, huge ints, deep nesting), hostile HDF5 constructs (external storage, external links,
virtual datasets over a sentinel file outside the model's folder, huge declared shapes, string
dtypes, groups replaced by datasets) and ONNX proto mutations (dims, elem_type, attribute types,
sparse initializers, Constants without values). Each case is loaded, and what loads is compiled.

An audit hook records any Python-level open of the sentinel's folder (or /etc). The process
runs under an address-space limit (RLIMIT_AS) and a per-case watchdog
(faulthandler exits the process if one case takes longer than the bound), so memory and time are
bounded by construction. It prints one JSON line: counts of outcomes, and every case that raised
something other than a GraphcError naming the file, or whose weights hold sentinel bytes.
"""
from __future__ import annotations

import copy
import faulthandler
import io
import json
import os
import re
import resource
import shutil
import sys
import traceback
import zipfile
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import onnx
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import graphc

ROOT = Path(__file__).resolve().parents[2]
KERAS = ROOT / "tests" / "fixtures" / "keras"
ONNX = ROOT / "tests" / "fixtures" / "onnx"
SOURCES = {
    "keras": [KERAS / n for n in ("struct_sequential_mlp.keras", "struct_cnn_merge.keras", "dense_relu.keras",
                                   "struct_rnn_embed.keras")],
    "h5": [KERAS / n for n in ("struct_sequential_mlp.h5", "struct_cnn_merge.h5", "struct_nested_k2.h5")],
    "json": [KERAS / n for n in ("struct_sequential_mlp.json", "struct_cnn_merge.json")],
    "onnx": [ONNX / n for n in ("torch_resnet_block.onnx", "torch_transformer.onnx")],
}
SENTINEL = np.full(64, 1234.5678, np.float32)  # the bytes outside the folder no weight may hold
CASE_SECONDS = 60  # a case that runs longer is a hang
MEMORY_HEADROOM = 3 << 30  # address space a case may add to the process

# ---- mutations ------------------------------------------------------------------------------


def mutate_bytes(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "zero", "zero_heap"]))
    b = bytearray(data)
    heaps = [m.start() for m in re.finditer(b"GCOL", data)] if kind == "zero_heap" else []
    if kind == "truncate":
        return bytes(b[: draw(st.integers(0, len(b) - 1))])
    if kind in ("zero", "zero_heap"):
        # inside an HDF5 global heap, where libhdf5 spins on a zeroed object header
        at = draw(st.sampled_from(heaps)) + draw(st.integers(16, 4096)) if heaps else draw(st.integers(0, len(b) - 1))
        b[at:at + 1024] = bytes(len(b[at:at + 1024]))
        return bytes(b)
    for _ in range(draw(st.integers(1, 16))):
        at = draw(st.integers(0, len(b) - 1))
        b[at] ^= draw(st.integers(1, 255))
    return bytes(b)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


_REPLACEMENTS = [None, 0, -1, 2 ** 31, 2 ** 63, -2 ** 63, 1e308, "x", "", [], {}, [None], {"class_name": None},
                 True, "__keras_tensor__", [["x", 0, 0]], ["x"]]


def mutate_json(cfg, draw):
    cfg = copy.deepcopy(cfg)
    paths = [p for p in _paths(cfg) if p]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = cfg
        try:
            for k in path[:-1]:
                parent = parent[k]
            kind = draw(st.sampled_from(["replace", "delete", "nest"]))
            if kind == "delete":
                del parent[path[-1]]
            elif kind == "nest":
                deep = 1
                for _ in range(draw(st.sampled_from([150, 3000]))):
                    deep = [deep] if draw(st.booleans()) else {"a": deep}
                parent[path[-1]] = deep
            else:
                parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(_REPLACEMENTS)))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed this path
    return cfg


def _dump(cfg) -> str:
    try:
        return json.dumps(cfg)
    except RecursionError:  # json.dumps shares Python's recursion limit
        return "[" * 100_000 + "]" * 100_000


def mutate_h5(data: bytes, draw, outside: Path) -> bytes:
    buf = io.BytesIO(data)
    with h5py.File(buf, "a") as f:
        dsets = []
        f.visititems(lambda n, o: dsets.append(n) if isinstance(o, h5py.Dataset) else None)
        groups = []
        f.visititems(lambda n, o: groups.append(n) if isinstance(o, h5py.Group) else None)
        if not dsets:
            return data
        target = draw(st.sampled_from(dsets))
        shape, dtype = f[target].shape, f[target].dtype
        n = int(np.prod(shape)) if shape else 1
        kind = draw(st.sampled_from(["ext_abs", "ext_rel", "link", "virtual", "huge", "string", "compound",
                                     "group_as_dataset", "softlink", "attr"]))
        if kind == "link" and groups:
            g = draw(st.sampled_from(groups))
            del f[g]
            f[g] = h5py.ExternalLink(str(outside / "secret.h5"), "/data")
            return buf.getvalue()
        if kind == "group_as_dataset" and groups:
            g = draw(st.sampled_from(groups))
            del f[g]
            f[g] = np.zeros(2)
            return buf.getvalue()
        if kind == "attr":
            obj = f[draw(st.sampled_from(groups))] if groups else f
            key = draw(st.sampled_from(list(obj.attrs) or ["weight_names"]))
            obj.attrs[key] = draw(st.sampled_from([np.int64(3), np.zeros(2), "x", np.array([b"nope"])]))
            return buf.getvalue()
        del f[target]
        if kind in ("ext_abs", "ext_rel"):
            where = str(outside / "secret.bin") if kind == "ext_abs" else "../outside/secret.bin"
            f.create_dataset(target, shape, np.float32, external=[(where, 0, max(n, 1) * 4)])
        elif kind == "virtual":
            layout = h5py.VirtualLayout(shape=(64,), dtype=np.float32)
            layout[:] = h5py.VirtualSource(str(outside / "secret.h5"), "data", shape=(64,))
            f.create_virtual_dataset(target, layout)
        elif kind == "huge":
            f.create_dataset(target, (1 << 20, 1 << 16), np.float32, chunks=(16, 16))
        elif kind == "string":
            f.create_dataset(target, shape, h5py.string_dtype())
        elif kind == "compound":
            f.create_dataset(target, shape, np.dtype([("a", np.float32), ("b", np.int8)]))
        else:
            f.create_dataset(target + "_spare", data=np.zeros(shape, dtype))
            f[target] = h5py.SoftLink("/" + target + "_spare")
    return buf.getvalue()


def mutate_onnx(data: bytes, draw) -> bytes:
    m = onnx.ModelProto()
    m.ParseFromString(data)
    g = m.graph
    kind = draw(st.sampled_from(["dims", "elem_type", "attr_type", "sparse", "constant", "raw", "ext"]))
    if kind == "dims" and g.initializer:
        t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
        t.dims[:] = draw(st.sampled_from([[1 << 40], [-3], [0], [2, 1 << 30, 1 << 20], []]))
    elif kind == "elem_type":
        vi = (list(g.input) + list(g.output))[0]
        vi.type.tensor_type.elem_type = draw(st.sampled_from([0, 77, 30, -1 & 0x7FFFFFFF]))
    elif kind == "attr_type":
        nodes = [n for n in g.node if n.attribute]
        if nodes:
            a = draw(st.sampled_from(nodes)).attribute[0]
            a.ClearField("i"), a.ClearField("ints"), a.ClearField("f"), a.ClearField("t")
            a.type = draw(st.sampled_from([onnx.AttributeProto.STRING, onnx.AttributeProto.FLOATS,
                                           onnx.AttributeProto.TENSOR, onnx.AttributeProto.UNDEFINED]))
            a.s = b"zz"
    elif kind == "sparse":
        dims = draw(st.sampled_from([[4], [1 << 40], [2, 2]]))
        idx = draw(st.sampled_from([[0, 9], [-1, 1], [0, 1, 2], [0, 1]]))
        g.sparse_initializer.append(onnx.helper.make_sparse_tensor(
            onnx.helper.make_tensor("sp_w", onnx.TensorProto.FLOAT, [2], [1.0, 2.0]),
            onnx.helper.make_tensor("sp_i", onnx.TensorProto.INT64, [len(idx)], idx), dims))
        g.node.append(onnx.helper.make_node("Identity", ["sp_w"], ["sp_out"]))
        g.output.append(onnx.helper.make_tensor_value_info("sp_out", onnx.TensorProto.FLOAT, None))
    elif kind == "constant":
        node = onnx.helper.make_node("Constant", [], ["c_out"], name="fuzz_const")
        if draw(st.booleans()):
            t = onnx.TensorProto(data_type=onnx.TensorProto.FLOAT, raw_data=b"\0" * 5)
            t.dims.extend([draw(st.sampled_from([3, 1 << 40]))])
            node.attribute.append(onnx.helper.make_attribute("value", t))
        g.node.insert(0, node)
        g.node.append(onnx.helper.make_node("Identity", ["c_out"], ["c_id"]))
        g.output.append(onnx.helper.make_tensor_value_info("c_id", onnx.TensorProto.FLOAT, None))
    elif kind == "raw" and g.initializer:
        t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
        t.raw_data = t.raw_data[: draw(st.integers(0, max(len(t.raw_data) - 1, 0)))]
    elif kind == "ext" and g.initializer:
        t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        loc = draw(st.sampled_from(["../outside/secret.bin", "/etc/hostname", "w.bin", ""]))
        t.external_data.add(key="location", value=loc)
        t.external_data.add(key="offset", value=draw(st.sampled_from(["0", "abc", "-4", "1e9"])))
    return m.SerializeToString()


# ---- one case -------------------------------------------------------------------------------

def _zip_replace(src: Path, dst: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, data if name == member else zin.read(name))


def make_case(draw, folder: Path, outside: Path) -> tuple[Path, str]:
    """Write one mutated model into `folder`; (path to load, a label for the report)."""
    fmt = draw(st.sampled_from(sorted(SOURCES)))
    src = draw(st.sampled_from(SOURCES[fmt]))
    for p in folder.iterdir():
        p.unlink()
    if fmt == "onnx":
        kind = draw(st.sampled_from(["bytes", "proto"]))
        data = src.read_bytes()
        data = mutate_bytes(data, draw) if kind == "bytes" else mutate_onnx(data, draw)
        (folder / "m.onnx").write_bytes(data)
        return folder / "m.onnx", f"onnx/{src.name}/{kind}"
    if fmt == "keras":
        kind = draw(st.sampled_from(["bytes", "config", "metadata", "weights_bytes", "weights_hostile"]))
        dst = folder / "m.keras"
        with zipfile.ZipFile(src) as z:
            cfg, weights = json.loads(z.read("config.json")), z.read("model.weights.h5")
        if kind == "bytes":
            dst.write_bytes(mutate_bytes(src.read_bytes(), draw))
        elif kind == "config":
            _zip_replace(src, dst, "config.json", _dump(mutate_json(cfg, draw)).encode())
        elif kind == "metadata":
            _zip_replace(src, dst, "metadata.json", _dump(draw(st.sampled_from(_REPLACEMENTS))).encode())
        elif kind == "weights_bytes":
            _zip_replace(src, dst, "model.weights.h5", mutate_bytes(weights, draw))
        else:
            _zip_replace(src, dst, "model.weights.h5", mutate_h5(weights, draw, outside))
        return dst, f"keras/{src.name}/{kind}"
    if fmt == "h5":
        kind = draw(st.sampled_from(["bytes", "config", "hostile"]))
        dst = folder / "m.h5"
        data = src.read_bytes()
        if kind == "bytes":
            data = mutate_bytes(data, draw)
        elif kind == "hostile":
            data = mutate_h5(data, draw, outside)
        else:
            buf = io.BytesIO(data)
            with h5py.File(buf, "a") as f:
                cfg = json.loads(f.attrs["model_config"])
                f.attrs["model_config"] = _dump(mutate_json(cfg, draw))
            data = buf.getvalue()
        dst.write_bytes(data)
        return dst, f"h5/{src.name}/{kind}"
    kind = draw(st.sampled_from(["config_bytes", "config", "weights_bytes", "weights_hostile", "symlink"]))
    cfg_text, weights = src.read_bytes(), src.with_name(src.stem + ".weights.h5").read_bytes()
    if kind == "config_bytes":
        cfg_text = mutate_bytes(cfg_text, draw)
    elif kind == "config":
        cfg_text = _dump(mutate_json(json.loads(cfg_text), draw)).encode()
    elif kind == "weights_bytes":
        weights = mutate_bytes(weights, draw)
    elif kind == "weights_hostile":
        weights = mutate_h5(weights, draw, outside)
    (folder / "m.json").write_bytes(cfg_text)
    if kind == "symlink":
        (outside / "m.weights.h5").write_bytes(weights)
        (folder / "m.weights.h5").symlink_to(outside / "m.weights.h5")
    else:
        (folder / "m.weights.h5").write_bytes(weights)
    return folder / "m.json", f"json/{src.name}/{kind}"


def _holds_sentinel(model) -> bool:
    graph = model.graph
    for n, d in graph.nx.nodes.items():
        v = d["attrs"].get("value") if d["op"] in ("Constant", "Variable") else None
        if isinstance(v, np.ndarray) and v.dtype == np.float32 and np.isin(SENTINEL[:1], v).any():
            return True
    return False


def run_case(path: Path, label: str, outcomes: Counter, failures: list) -> None:
    try:
        model = graphc.load(path)
    except graphc.GraphcError as e:
        outcomes[f"refused:{type(e).__name__}"] += 1
        if path.name not in str(e) and "m.weights.h5" not in str(e):
            failures.append({"case": label, "problem": "error does not name the file", "error": str(e)[:300]})
        return
    except Exception as e:  # noqa: BLE001 - the point of the fuzzer
        outcomes["crashed"] += 1
        failures.append({"case": label, "problem": f"{type(e).__name__}: {str(e)[:200]}",
                         "where": traceback.format_exc().splitlines()[-3][:200]})
        return
    if _holds_sentinel(model):
        failures.append({"case": label, "problem": "weights hold bytes from outside the model's folder"})
    try:
        graphc.compile(model, opt_level="O2")
        outcomes["loaded+compiled"] += 1
    except graphc.GraphcError:
        outcomes["loaded, compile refused"] += 1
    except Exception as e:  # noqa: BLE001
        outcomes["crashed"] += 1
        failures.append({"case": label, "problem": f"compile: {type(e).__name__}: {str(e)[:200]}",
                         "where": traceback.format_exc().splitlines()[-3][:200]})


def main(work: Path, examples: int, seed_value: int | None = None) -> None:
    folder, outside = work / "model", work / "outside"
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(exist_ok=True)
    SENTINEL.tofile(outside / "secret.bin")
    with h5py.File(outside / "secret.h5", "w") as f:
        f["data"] = SENTINEL
        for k in ("layers", "vars", "model_weights"):
            f.create_group(k)
    os.environ["GRAPHC_MAX_WEIGHT_BYTES"] = str(1 << 30)  # below the address-space headroom
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    vm = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmSize"))) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_HEADROOM, hard))
    outcomes, failures, kinds = Counter(), [], Counter()
    current = {"label": None}
    secret_dir = str(outside.resolve())

    def audit(event, args):  # Python-level opens (ONNX external data); libhdf5's are caught by the sentinel
        if event == "open" and current["label"] and isinstance(args[0], (str, bytes, os.PathLike)):
            target = os.path.realpath(os.fsdecode(args[0]))
            if target.startswith(secret_dir) or target.startswith("/etc/"):
                failures.append({"case": current["label"], "problem": f"opened {target}"})
    sys.addaudithook(audit)

    @settings(max_examples=examples, derandomize=seed_value is None, database=None, deadline=None,
              print_blob=False, suppress_health_check=list(HealthCheck))
    @seed(seed_value or 0)
    @given(st.data())
    def case(data):
        path, label = make_case(data.draw, folder, outside)
        kinds[label.split("/")[0]] += 1
        faulthandler.dump_traceback_later(CASE_SECONDS, exit=True)
        current["label"] = label
        try:
            before = len(failures)
            run_case(path, label, outcomes, failures)
            if len(failures) > before:  # keep the files, to reproduce the case by hand
                kept = work / f"failed_{before}"
                shutil.copytree(folder, kept, symlinks=True, dirs_exist_ok=True)
                failures[-1]["files"] = str(kept)
        finally:
            current["label"] = None
            faulthandler.cancel_dump_traceback_later()

    case()
    print(json.dumps({"cases": sum(outcomes.values()), "formats": kinds, "outcomes": outcomes,
                      "failures": failures}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
    shutil.rmtree(Path(sys.argv[1]) / "model", ignore_errors=True)
