"""Hydra entry point: ``pfn train experiment=gp_1d trainer.max_steps=500``.

prior -> data module -> model -> Lightning fit -> exported inference checkpoint.
"""

from __future__ import annotations

import platform
import shutil
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from pfn.checkpoint import save_checkpoint
from pfn.data.datamodule import PriorDataModule
from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import Normalization


def resolve_ckpt_path(ckpt_path: str | None, output_dir: Path, overwrite: bool) -> str | None:
    """``"last"`` means this run's last checkpoint; a fresh run refuses to mix with an old one."""
    ckpt_dir = output_dir / "checkpoints"
    if ckpt_path == "last":
        last = ckpt_dir / "last.ckpt"
        if not last.is_file():
            raise FileNotFoundError(f"ckpt_path=last but there is no checkpoint to resume at {last}")
        return str(last)
    if ckpt_path is None and ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
        if not overwrite:
            raise FileExistsError(
                f"{output_dir} already holds checkpoints of an earlier run: resume it with ckpt_path=last, "
                "start elsewhere with name=<new name>, or pass overwrite=true to replace it"
            )
        shutil.rmtree(ckpt_dir)
    return ckpt_path


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


def train(cfg: DictConfig) -> Path:
    """Train as configured by ``cfg`` and export the inference checkpoint; returns its path."""
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), output_dir, cfg.get("overwrite", False))
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
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
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
                "experiment": _experiment_choice(),
                "wall_seconds_last_fit": round(seconds, 1),
                "command": " ".join(["pfn", "train", *sys.argv[1:]]),
                "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
                + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
                "torch": torch.__version__,
            },
        )
        print(f"Exported inference checkpoint: {path}")
    return path


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> None:
    train(cfg)
