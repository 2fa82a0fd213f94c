"""Hydra entry point: ``pfn train experiment=gp_1d trainer.max_steps=500``.

prior -> data module -> model -> Lightning fit -> exported inference checkpoint.
"""

from __future__ import annotations

import contextlib
import platform
import shlex
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from pfn.checkpoint import save_checkpoint
from pfn.data.datamodule import PriorDataModule
from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import Normalization
from pfn.training.run_dir import RunLock, RunRefused, owns_run, resolve_ckpt_path

#: exit status of `pfn train` stopped by SIGTERM (128 + 15, as a shell reports a process SIGTERM ended):
#: non-zero, so a scheduler sees the job did not finish and can requeue it
EXIT_SIGTERM = 143
#: exit status of `pfn train` refused before training (directory in use or holding an earlier run, bad ckpt_path)
EXIT_REFUSED = 2


class TrainingInterrupted(Exception):
    """Training was stopped by SIGTERM before ``trainer.max_steps``; no model was exported.

    Attributes:
        step: the optimizer steps done.
        checkpoint: the ``last.ckpt`` to resume from (None when the run saves no checkpoints).
    """

    def __init__(self, message: str, step: int, checkpoint: Path | None):
        super().__init__(message)
        self.step, self.checkpoint = step, checkpoint


def build_output(
    datamodule: PriorDataModule, normalization: Normalization, num_bins: int, tails: str = "half_normal"
) -> BarDistribution | Categorical:
    """The output distribution: categorical for a prior with ``num_classes``; otherwise bars at quantiles
    of the targets exactly as the loss sees them: prior draws normalised by contexts of every size in the
    training range, in equal shares, as the uniform context-size draw gives them."""
    num_classes = getattr(datamodule.prior, "num_classes", None)
    if num_classes is not None:
        if normalization.y != "none":
            raise ValueError("a classification prior needs model.normalization.y=none (labels are not rescaled)")
        if num_bins != num_classes:
            raise ValueError(f"model.net.num_bins must equal the prior's num_classes ({num_classes}), got {num_bins}")
        return Categorical(num_classes)
    # About a million targets: quantile borders of 1000 bins from fewer samples are noticeably uneven.
    batch = datamodule.sample_batch(min(16384, max(2048, -(-1_000_000 // datamodule.num_points))))
    sizes = list(range(datamodule.min_context, datamodule.max_context + 1))
    targets = []
    for i, n in enumerate(sizes):
        x, y = batch.x[i :: len(sizes)], batch.y[i :: len(sizes)]
        *_, loc, scale = normalization.apply(x[:, :n], y[:, :n], x[:, n:])
        targets.append(((y[:, n:] - loc) / scale).flatten())
    return BarDistribution.from_samples(torch.cat(targets), num_bins, tails)


def _experiment_choice() -> str | None:
    """The `experiment=` chosen on the command line, when Hydra's runtime is there to say."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get("experiment") if HydraConfig.initialized() else None


def _resume_command() -> str:
    """The command that resumes this run: its overrides with ``ckpt_path=last`` (and no ``overwrite``)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "pfn train <the same overrides> ckpt_path=last"
    overrides = HydraConfig.get().overrides
    given = [o for o in overrides.hydra if not o.startswith("hydra.mode=")] + list(overrides.task)
    kept = [shlex.quote(o) for o in given if not o.lstrip("+~").startswith(("ckpt_path=", "overwrite="))]
    return " ".join(["pfn", "train", *kept, "ckpt_path=last"])


def _interrupted(trainer: L.Trainer, output_dir: Path) -> TrainingInterrupted:
    last = output_dir / "checkpoints" / "last.ckpt"
    step = trainer.global_step
    if last.is_file():
        saved = torch.load(last, map_location="cpu", weights_only=True, mmap=True).get("global_step")
        how = f"{last} holds step {saved}; resume with: {_resume_command()}"
        return TrainingInterrupted(f"training stopped by SIGTERM at step {step}, no model exported; {how}", step, last)
    how = "no checkpoint was saved (the checkpoint callbacks are off), so the run cannot be resumed"
    return TrainingInterrupted(f"training stopped by SIGTERM at step {step}, no model exported; {how}", step, None)


def train(cfg: DictConfig) -> Path:
    """Train as configured by ``cfg`` and export the inference checkpoint; returns its path.

    The process that owns the run (rank 0) holds the run directory's lock throughout (:class:`RunLock`).
    Raises :class:`TrainingInterrupted` when SIGTERM stops training (after ``last.ckpt`` is saved), and a
    :class:`~pfn.training.run_dir.RunRefused` before training when another run holds the directory
    (``RunInUseError``), it holds an earlier run and not ``overwrite`` (``EarlierRunError``, a
    ``FileExistsError``), or ``ckpt_path`` names no checkpoint (``MissingCheckpointError``, ``NotACheckpointError``).
    """
    output_dir = Path(cfg.paths.output_dir)
    owner = owns_run()
    with RunLock(output_dir) if owner else contextlib.nullcontext():
        return _train(cfg, output_dir, owner)


def _train(cfg: DictConfig, output_dir: Path, owner: bool) -> Path:
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), output_dir, cfg.get("overwrite", False), owner)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_num_threads(cfg.get("num_threads") or torch.get_num_threads())

    datamodule: PriorDataModule = instantiate(cfg.data)
    normalization: Normalization = instantiate(cfg.model.normalization)
    output = build_output(datamodule, normalization, cfg.model.net.num_bins, **(cfg.model.get("output") or {}))
    module = instantiate(cfg.model, output=output, normalization=normalization)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    if logger:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    start = time.perf_counter()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except SIGTERMException as stop:  # a SystemExit with status 0: turn it into a run that did not finish
        raise _interrupted(trainer, output_dir) from stop
    seconds = time.perf_counter() - start

    path = output_dir / "model.safetensors"
    if trainer.is_global_zero:
        prior = datamodule.prior
        save_checkpoint(
            path,
            module.net,
            module.output,
            normalization=normalization.to_dict(),
            domain={"x": getattr(prior, "input_range", None)},
            prior=prior.describe() if hasattr(prior, "describe") else {"name": type(prior).__name__},
            training={
                "steps": trainer.global_step,
                "max_context": datamodule.max_context,
                "min_features": datamodule.min_features,
                "num_points": datamodule.num_points,
                "batch_size": datamodule.batch_size,
                "world_size": trainer.world_size,
                "precision": str(trainer.precision),
                "compile": bool(module.hparams.compile),
                "sample_on_device": datamodule.sample_on_device,
                "seed": cfg.seed,
                "wall_seconds_last_fit": round(seconds, 1),
                "command": " ".join(["pfn", "train", *sys.argv[1:]]),
                "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
                + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
                "torch": torch.__version__,
                **({"experiment": experiment} if (experiment := _experiment_choice()) else {}),
            },
        )
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
