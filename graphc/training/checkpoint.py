"""Training checkpoints: one `.npz` file (a zip of arrays, read without pickle) holding what a run needs
to go on exactly where it stopped: the weights, the optimizer state, the step and epoch, the trainer's
seed and what its random ops have drawn (so Dropout masks continue), fit's shuffle seed (each epoch's
order is drawn from it and the epoch's number, so the epochs after a resume shuffle as they would have),
the learning rate, and fitted normalizers. Resuming into a fresh model object gives bit-identical
parameters to a run never stopped.

Weights are keyed by their place in the model's weight list (Keras's order), not by layer name: a
model built again gets new layer names. Optimizer state is keyed by that place too, plus its slot.
Written atomically: a temporary file in the same folder, then `os.replace`.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from graphc.training.step import TrainingError

FORMAT = "graphc-checkpoint/1"


def _weight_names(model) -> list[str]:
    """Variable names of the model's graph in the order of its weight list."""
    if hasattr(model, "weights") and hasattr(model, "get_weights"):
        g = model.graph
        by_array = {id(g.attrs(n).get("value")): n for n in g.variables()}
        return [by_array.get(id(w.value), f"{w.layer.name}/{w.name}") for w in model.weights]
    return list(model.graph.variables())


def _key(names: list[str], state_name: str) -> str:
    """`w<i>/<slot>` for a per-parameter slot, `g/<name>` for a global one."""
    for i, n in enumerate(names):
        if state_name.startswith(n + "/"):
            return f"w{i}/{state_name[len(n) + 1:]}"
    return f"g/{state_name}"


def save_checkpoint(model, path, normalizers=None, epoch=None, extra=None) -> None:
    """Write `model`'s training state to `path` (`.npz`). `normalizers`: a Normalizer or {name:
    Normalizer} fitted for this model (also taken from `model.normalizers` when set). `extra`: a
    JSON-able dict the caller's loop needs to resume (the Spark trainer's iteration), given back by
    `load_checkpoint`."""
    from graphc.training.front import sync

    sync(model)
    cfg = model.__dict__.get("_training")
    t = cfg.trainer if cfg is not None else None
    names = _weight_names(model)
    g = model.graph
    arrays = {f"weight:{i}": np.asarray(g.attrs(n)["value"]) for i, n in enumerate(names)}
    meta = {"format": FORMAT, "model": model.name, "weights": len(names),
            "epoch": int(epoch if epoch is not None else model.__dict__.get("epochs_done", 0)),
            "step": 0, "seed": 0, "draws": [], "learning_rate": None, "labels": None, "normalizers": {},
            "extra": extra or {},
            "shuffle_seed": model.__dict__.get("shuffle_seed")}
    if t is not None:
        for s, v in t.state.items():
            arrays[f"state:{_key(names, s)}"] = v.numpy().copy()
        meta.update(step=int(t.step_count), seed=int(t.seed), draws=t.draws, learning_rate=t.learning_rate,
                    labels=[[y.dtype.str, list(y.shape[1:])] for y in t.labels_example])
    norms = normalizers if normalizers is not None else model.__dict__.get("normalizers")
    if norms is not None:
        meta["normalizers"] = {k: v.to_dict() for k, v in
                               (norms.items() if isinstance(norms, dict) else [("default", norms)])}
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint(model, path) -> dict:
    """Restore `model` (compiled with the same optimizer and loss) from `path`; its trainer is rebuilt
    at the saved step. Returns {"epoch", "step", "normalizers": {name: Normalizer}}: pass
    `initial_epoch=epoch` to `fit` to go on."""
    from graphc.data.normalizers import from_dict
    from graphc.training.front import _config, trainer

    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
    except (OSError, ValueError, KeyError) as e:
        raise TrainingError(f"{path}: not a graphc checkpoint ({e}); write one with model.save_checkpoint") from None
    if meta.get("format") != FORMAT:
        raise TrainingError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    names = _weight_names(model)
    if meta["weights"] != len(names):
        raise TrainingError(f"{path}: {meta['weights']} weights saved from model {meta['model']!r}, model "
                            f"{model.name!r} has {len(names)}; load it into the same architecture")
    values = [arrays[f"weight:{i}"] for i in range(len(names))]
    for n, v in zip(names, values):
        want = tuple(model.graph.attrs(n)["value"].shape)
        if tuple(v.shape) != want:
            raise TrainingError(f"{path}: weight {n!r} saved with shape {tuple(v.shape)}, the model's is {want}")
    if hasattr(model, "set_weights"):
        model.set_weights(values)
    else:
        for n, v in zip(names, values):
            model.graph.attrs(n)["value"] = v.copy()
        model.weights_changed()
    model.epochs_done = meta["epoch"]
    if meta.get("shuffle_seed") is not None:  # fit shuffles epoch e by (this seed, e): resuming goes on in order
        model.shuffle_seed = int(meta["shuffle_seed"])
    if meta["labels"] is not None:
        cfg = _config(model)
        cfg.trainer = None
        t = trainer(model, [np.zeros([1] + shape, np.dtype(dt)) for dt, shape in meta["labels"]])
        _restore_state(t, names, arrays, path)
        t.step_count = meta["step"]
        if meta["learning_rate"] is not None:
            t.learning_rate = meta["learning_rate"]
        if meta["seed"] != t.seed:
            raise TrainingError(f"{path}: saved with trainer seed {meta['seed']}, this trainer's is {t.seed}")
        t.replay_random(meta["draws"])
    return {"epoch": meta["epoch"], "step": meta["step"], "extra": meta.get("extra", {}),
            "normalizers": {k: from_dict(d) for k, d in meta["normalizers"].items()}}


def _restore_state(t, names, arrays, path) -> None:
    state = {}
    for s in t.state:
        key = f"state:{_key(names, s)}"
        if key not in arrays:
            raise TrainingError(f"{path}: no optimizer state {s!r}; compile with the optimizer it was saved with")
        if tuple(arrays[key].shape) != tuple(t.state[s].shape()):
            raise TrainingError(f"{path}: optimizer state {s!r} has shape {arrays[key].shape}, expected "
                                f"{tuple(t.state[s].shape())}")
        state[s] = arrays[key]
    extra = {k for k in arrays if k.startswith("state:")} - {f"state:{_key(names, s)}" for s in t.state}
    if extra:
        raise TrainingError(f"{path}: optimizer state {sorted(extra)} does not fit this optimizer; compile with "
                            f"the optimizer it was saved with")
    t.load_state(state)
