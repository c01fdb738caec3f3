"""DL4J's `ModelSerializer`: a MultiLayerNetwork in one zip file, written atomically.

The zip holds `configuration.json` (the MultiLayerConfiguration), `coefficients.npy` (params(), one
flat float32 vector), `network.json` (iteration and epoch counts, the last score) and, with
`save_updater=True`, `updater.npz`: graphc's training checkpoint (graphc/training/checkpoint.py:
optimizer state by parameter place, step, learning rate, the random ops' draws), so that training
resumed from the file continues bit-identically to a run never stopped.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from graphc.errors import ModelFormatError

FORMAT = "graphc-dl4j-model/1"


class ModelSerializer:
    @staticmethod
    def write_model(net, path, save_updater: bool = True) -> None:
        from graphc.training.checkpoint import save_checkpoint

        net._need_init()
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        coefficients = io.BytesIO()
        np.save(coefficients, net.params())
        meta = {"format": FORMAT, "iteration_count": net.iteration_count, "epoch_count": net.epoch_count,
                "score": net.score(), "updater": False}
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("configuration.json", net.conf.to_json())
                z.writestr("coefficients.npy", coefficients.getvalue())
                cfg = net.model.__dict__.get("_training")
                if save_updater and cfg is not None and cfg.trainer is not None:
                    with tempfile.TemporaryDirectory(dir=folder) as d:
                        ckpt = os.path.join(d, "updater.npz")
                        save_checkpoint(net.model, ckpt, epoch=net.epoch_count)
                        z.write(ckpt, "updater.npz")
                    meta["updater"] = True
                from graphc.dl4j.tbptt import updater_state

                seq = updater_state(net) if save_updater else None  # a recurrent network's (TBPTT) trainer
                if seq is not None:
                    buf = io.BytesIO()
                    np.savez(buf, **seq)
                    z.writestr("sequence_updater.npz", buf.getvalue())
                    meta["updater"] = True
                from graphc.dl4j.pretrain import pretrain_state

                pre = pretrain_state(net)  # the pretrained layers' visible biases (no part of params())
                if pre:
                    buf = io.BytesIO()
                    np.savez(buf, **pre)
                    z.writestr("pretrain.npz", buf.getvalue())
                z.writestr("network.json", json.dumps(meta))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @staticmethod
    def restore_multi_layer_network(path, load_updater: bool = True):
        from graphc.dl4j.conf import MultiLayerConfiguration
        from graphc.dl4j.multilayer import MultiLayerNetwork

        return ModelSerializer._restore(path, load_updater,
                                        lambda text: MultiLayerNetwork(MultiLayerConfiguration.from_json(text)))

    @staticmethod
    def restore_computation_graph(path, load_updater: bool = True):
        from graphc.dl4j.graph.computation_graph import ComputationGraph

        return ModelSerializer._restore(path, load_updater, ComputationGraph)

    @staticmethod
    def _restore(path, load_updater, network_of):
        """The network `network_of(configuration JSON)` makes, with the file's parameters and state."""
        from graphc.training.checkpoint import load_checkpoint

        path = os.fspath(path)
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                missing = {"configuration.json", "coefficients.npy", "network.json"} - names
                if missing:
                    raise ModelFormatError(f"{path}: no {sorted(missing)} inside; not a model written by "
                                           f"ModelSerializer.write_model")
                meta = json.loads(z.read("network.json"))
                text = z.read("configuration.json").decode("utf-8")
                flat = np.load(io.BytesIO(z.read("coefficients.npy")), allow_pickle=False)
                updater = z.read("updater.npz") if "updater.npz" in names else None
                seq = z.read("sequence_updater.npz") if "sequence_updater.npz" in names else None
                pre = z.read("pretrain.npz") if "pretrain.npz" in names else None
        except (zipfile.BadZipFile, OSError, ValueError, KeyError) as e:
            raise ModelFormatError(f"{path}: not a model written by ModelSerializer.write_model ({e})") from None
        if meta.get("format") != FORMAT:
            raise ModelFormatError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        net = network_of(text).init()
        net.set_params(flat)
        if updater is not None and load_updater:
            with tempfile.TemporaryDirectory() as d:
                ckpt = os.path.join(d, "updater.npz")
                with open(ckpt, "wb") as f:
                    f.write(updater)
                load_checkpoint(net.model, ckpt)
        if seq is not None and load_updater:
            from graphc.dl4j.tbptt import load_updater_state

            with np.load(io.BytesIO(seq), allow_pickle=False) as arrays:
                load_updater_state(net, {k: arrays[k] for k in arrays.files})
        if pre is not None:
            from graphc.dl4j.pretrain import load_pretrain_state

            with np.load(io.BytesIO(pre), allow_pickle=False) as arrays:
                load_pretrain_state(net, {k: arrays[k] for k in arrays.files})
        net.iteration_count, net.epoch_count = int(meta["iteration_count"]), int(meta["epoch_count"])
        net._score = float(meta["score"]) if meta.get("score") is not None else float("nan")
        return net

    restore_multilayer_network = restore_multi_layer_network
