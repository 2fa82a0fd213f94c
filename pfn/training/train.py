"""Hydra entry point: ``pfn train experiment=gp_1d trainer.max_steps=500``.

Only wiring, as in lightning-hydra-template's ``train.py``: the config names every object; this builds
them (data module, module with its fitted output bins, callbacks, logger, trainer), fits, and exports the
inference checkpoint. What a run directory means is in :mod:`pfn.training.run_dir`, the output bins in
:mod:`pfn.model.bins`, the exported description in :mod:`pfn.training.export`, a warm start (``init_from``)
in :mod:`pfn.training.warm_start`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from pfn.data.datamodule import PriorDataModule
from pfn.model.bins import fit_output
from pfn.model.normalization import Normalization
from pfn.training.export import export_model
from pfn.training.module import PFNModule, instantiate_module
from pfn.training.run_dir import (
    MODEL_NAME,
    RunLock,
    RunRefused,
    TrainingInterrupted,
    interrupted,
    owns_run,
    resolve_ckpt_path,
)
from pfn.training.warm_start import Source, load_source, note_resume, warm_start_module

log = logging.getLogger(__name__)

#: exit status of `pfn train` stopped by SIGTERM (128 + 15, as a shell reports a process SIGTERM ended):
#: non-zero, so a scheduler sees the job did not finish and can requeue it
EXIT_SIGTERM = 143
#: exit status of `pfn train` refused before training (directory in use or holding an earlier run, bad ckpt_path,
#: an init_from that names no checkpoint or one the configured model differs from)
EXIT_REFUSED = 2

__all__ = ["EXIT_REFUSED", "EXIT_SIGTERM", "TrainingInterrupted", "build_module", "main", "train"]


def bin_settings(model: DictConfig) -> dict[str, Any]:
    """The output bins' settings (``model.bins``: their ``tails`` and ``uniform_share``). A config written
    before ``model.bins`` was named so calls them ``model.output``; those are read too, with a warning."""
    settings: dict[str, Any] = dict(model.get("bins") or {})
    legacy = model.get("output")
    if isinstance(legacy, DictConfig):
        log.warning("the config key model.output is now model.bins (the output bins' settings); read as such")
        settings.update(legacy)
    return settings


def build_module(model: DictConfig, datamodule: PriorDataModule, source: Source | None = None) -> PFNModule:
    """The :class:`PFNModule` of the model config ``model``: its normalisation, its output distribution fitted
    to ``datamodule``'s prior (:func:`pfn.model.bins.fit_output`, with ``model.bins``), and the rest.

    With a warm start's ``source`` checkpoint, its weights and output distribution instead
    (:func:`pfn.training.warm_start.warm_start_module`: refused when the config differs from it in what they fix).
    """
    if source is not None:
        return warm_start_module(model, datamodule.prior, source, bin_settings(model))
    normalization: Normalization = instantiate(model.normalization)
    output = fit_output(datamodule, normalization, model.net.num_bins, **bin_settings(model))
    return instantiate_module(model, output=output, normalization=normalization)


def train(cfg: DictConfig) -> Path:
    """Train as configured by ``cfg`` and export the inference checkpoint; returns its path.

    The process that owns the run (rank 0) holds the run directory's lock throughout (:class:`RunLock`).
    Raises :class:`TrainingInterrupted` when SIGTERM stops training (after ``last.ckpt`` is saved), and a
    :class:`~pfn.training.run_dir.RunRefused` before training when another run holds the directory
    (``RunInUseError``), it holds an earlier run and not ``overwrite`` (``EarlierRunError``, a
    ``FileExistsError``), ``ckpt_path`` names no checkpoint (``MissingCheckpointError``, ``NotACheckpointError``),
    or ``init_from`` names no checkpoint or one the configured model differs from (``InitFromError``).

    ``init_from`` (a fresh run only: a resumed one restores its own weights) starts from an inference
    checkpoint's weights and output bins, and validates once before the first step, so that ``val/nll`` at
    step 0 is the source model's loss on this run's validation data.
    """
    output_dir = Path(cfg.paths.output_dir)
    owner = owns_run()
    with RunLock(output_dir) if owner else contextlib.nullcontext():
        return _train(cfg, output_dir, owner)


def _train(cfg: DictConfig, output_dir: Path, owner: bool) -> Path:
    init_from = cfg.get("init_from")
    # Read before the run directory is cleared: with overwrite=true the source may be this directory's own model.
    source = load_source(init_from) if init_from is not None and cfg.get("ckpt_path") is None else None
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), output_dir, cfg.get("overwrite", False), owner)
    if init_from is not None and ckpt_path is not None:
        note_resume(str(init_from), ckpt_path)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_num_threads(cfg.get("num_threads") or torch.get_num_threads())

    datamodule: PriorDataModule = instantiate(cfg.data)
    module = build_module(cfg.model, datamodule, source)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    logger: Logger | None = instantiate(cfg.logger) if cfg.get("logger") else None
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger if logger is not None else False)
    if logger is not None:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]

    start = time.perf_counter()
    try:
        if source is not None:  # val/nll at step 0: the source model's loss on this run's validation data
            trainer.validate(module, datamodule=datamodule, verbose=False)
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except SIGTERMException as stop:  # a SystemExit with status 0: turn it into a run that did not finish
        raise interrupted(trainer.global_step, output_dir) from stop
    seconds = time.perf_counter() - start

    path = output_dir / MODEL_NAME
    if trainer.is_global_zero:
        export_model(path, trainer, module, datamodule, cfg.seed, seconds)
        print(f"Exported inference checkpoint: {path}")
    return path


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> None:
    """`pfn train`: a run refused before training exits with status 2, one stopped by SIGTERM with 143."""
    try:
        train(cfg)
    except RunRefused as err:
        print(f"pfn train: error: {err}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
    except TrainingInterrupted as err:
        print(f"pfn train: {err}", file=sys.stderr)
        sys.exit(EXIT_SIGTERM)
