"""What an inference checkpoint records about where its model comes from, and the export at the end of a run.

:func:`save_checkpoint` takes four descriptions besides the weights: ``prior`` (the prior's own
description), ``normalization`` (how inputs and targets are normalised), ``domain`` (the range of x the
prior's datasets live in) and ``training`` (the run). :func:`model_metadata` builds all four for a model
trained on a prior; :func:`stored_metadata` reads them back from a checkpoint's config, to write the model
again (as ``scripts/ship_model.py`` does, adding its evaluation).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pfn.checkpoint import save_checkpoint
from pfn.model.normalization import Normalization
from priors.base import SamplesBatches, describe_prior, input_range

if TYPE_CHECKING:
    import lightning as L

    from pfn.data.datamodule import PriorDataModule
    from pfn.training.module import PFNModule


def model_metadata(prior: SamplesBatches, normalization: Normalization, training: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``prior``, ``normalization``, ``domain`` and ``training`` of :func:`save_checkpoint`
    for a model trained on ``prior``; the domain is the prior's declared input range (``prior.input_range``).

    Args:
        prior: the prior the model was trained on.
        normalization: the model's input and target normalisation.
        training: the description of the training run (:func:`run_description`).
    """
    return {
        "prior": describe_prior(prior),
        "normalization": normalization.to_dict(),
        "domain": {"x": input_range(prior)},
        "training": training,
    }


def stored_metadata(config: Mapping[str, Any], **training: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`model_metadata` as a checkpoint's ``config`` stores them, with
    ``training`` entries added or replaced: to write the same model again with the same description.

    Args:
        config: the config of a checkpoint (:func:`pfn.checkpoint.load_checkpoint`'s third value).
        **training: entries to add to, or replace in, the description of the training run.
    """
    return {
        "prior": config["prior"],
        "normalization": config["normalization"],
        "domain": config.get("domain"),
        "training": {**config["training"], **training},
    }


def _experiment_choice() -> str | None:
    """The `experiment=` chosen on the command line, when Hydra's runtime is there to say."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get("experiment") if HydraConfig.initialized() else None


def run_description(
    trainer: L.Trainer, datamodule: PriorDataModule, compile: bool, seed: int, wall_seconds: float
) -> dict[str, Any]:
    """The ``training`` description of a finished fit: its length, data shape, hardware and command.

    Args:
        trainer: the trainer after the fit.
        datamodule: the data the model was trained on.
        compile: whether the transformer was compiled for training.
        seed: the run's seed.
        wall_seconds: how long the last fit took (a resumed run counts only its last part).
    """
    return {
        "steps": trainer.global_step,
        "max_context": datamodule.max_context,
        "min_features": datamodule.min_features,
        "num_points": datamodule.num_points,
        "batch_size": datamodule.batch_size,
        "world_size": trainer.world_size,
        "precision": str(trainer.precision),
        "compile": bool(compile),
        "sample_on_device": datamodule.sample_on_device,
        "seed": seed,
        "wall_seconds_last_fit": round(wall_seconds, 1),
        "command": " ".join(["pfn", "train", *sys.argv[1:]]),
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
        "torch": torch.__version__,
        **({"experiment": experiment} if (experiment := _experiment_choice()) else {}),
    }


def export_model(
    path: Path, trainer: L.Trainer, module: PFNModule, datamodule: PriorDataModule, seed: int, wall_seconds: float
) -> Path:
    """Write the trained model to ``path`` as an inference checkpoint with its full description.

    Args:
        path: where to write it (atomically).
        trainer: the trainer after the fit.
        module: the trained module: its transformer, output distribution and normalisation.
        datamodule: the data it was trained on.
        seed: the run's seed.
        wall_seconds: how long the last fit took.

    A warm-started run's description records its source (``training.init_from``: the ``source`` as given and
    its ``header_sha256``).
    """
    training = run_description(trainer, datamodule, module.hparams["compile"], seed, wall_seconds)
    if module.init_from is not None:
        training["init_from"] = dict(module.init_from)
    metadata = model_metadata(datamodule.prior, module.normalization, training)
    return save_checkpoint(path, module.net, module.output, **metadata)
