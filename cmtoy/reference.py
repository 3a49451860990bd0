"""The reference model the documentation's learned-model figures show: trained once, cached.

:func:`reference_model` loads the seeded run :data:`REFERENCE_TRAINING` from its cache file
(a :meth:`ConsistencyModel.save` archive next to the figures) or, when the file is
missing or was made with other settings, trains it again and saves it. Training is
deterministic on one machine, so a file rebuilt there holds the same model; where the BLAS
library picks another kernel for the CPU, its sums round in another order and the run
ends with other weights. The figure functions of
:mod:`cmtoy.viz.learned_figures` only draw: they are handed the model and its history.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from .checkpoint import load_checkpoint
from .consistency import load_model
from .training import TrainConfig, train

__all__ = ["REFERENCE_TRAINING", "REFERENCE_FILE", "FLOW_MAP_TRAINING", "FLOW_MAP_FILE", "reference_model",
           "compact_history", "training_key"]

# The seeded run the documentation's learned-model figures show (cmtoy.TrainConfig fields).
REFERENCE_TRAINING = dict(method="cd", steps=16_000, seed=0, eval_every=1_000)
REFERENCE_FILE = "reference_model.npz"  # its cache, next to the figures
# The seeded flow map the flow-map figures show (cmtoy.viz.flow_map_figures): psd, which
# needs no JVP, shortened from its default so that the figures build quickly from scratch
FLOW_MAP_TRAINING = dict(method="psd", steps=15_000, seed=0)
FLOW_MAP_FILE = "flow_map_model.npz"  # its cache, next to the figures


def compact_history(history, block=100):
    """A training history with the loss as means over blocks of ``block`` steps.

    history: as returned by ``cmtoy.train`` ({"loss": [steps], "evals": [...]}), or already
    compact. returns {"loss_steps": [m], "loss": [m], "evals": [...]} (eval times dropped,
    so that the stored history of a seeded run is the same on every machine)
    """
    if "loss_steps" in history:
        return history
    loss = np.asarray(history["loss"], dtype=float)
    m = loss.size // block
    evals = [{k: int(v) if k == "step" else float(v) for k, v in e.items() if k != "seconds"}
             for e in history["evals"]]
    return {"loss_steps": ((np.arange(m) + 1) * block).tolist(),
            "loss": loss[: m * block].reshape(m, block).mean(axis=1).tolist(), "evals": evals}


def training_key(config):
    """What identifies a training run: every resolved setting of ``config`` that its method
    uses (:meth:`TrainConfig.unused`), but the progress bar."""
    skip = {"progress", *config.unused()}
    resolved = config.resolved()
    key = {k: v for k, v in dataclasses.asdict(resolved).items() if k not in skip}
    key["mlp"] = resolved.mlp.describe()  # a one-time network as described before two-time ones existed
    return key


def reference_model(interp, path, *, training=None, retrain=False, log=None):
    """The seeded reference model and its history: loaded from ``path`` or trained and saved.

    The file is reused only when its stored key equals :func:`training_key` of ``training``
    (default :data:`REFERENCE_TRAINING`) with the method's defaults resolved, so a change of
    a default retrains; ``retrain`` forces it. ``log(message)``, when given, hears that
    training starts and shows a progress bar.

    returns (model, history), history as :func:`compact_history`
    """
    training = dict(REFERENCE_TRAINING if training is None else training)
    config = TrainConfig(**training, progress=log is not None)
    key = training_key(config)
    if not retrain:
        try:
            extra = load_checkpoint(path)[1].get("extra", {})
            if extra.get("training") == key:
                return load_model(path), extra["history"]
        except (OSError, ValueError, KeyError):
            pass  # missing, unreadable or stale: train again
    if log is not None:
        log(f"training the reference model {json.dumps(training)} -> {path}")
    model, history = train(interp, config)
    history = compact_history(history)
    model.save(path, extra={"training": key, "history": history})
    return model, history
