"""LightningModule: trains a PFN to predict held-out targets from the rest of each dataset."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from omegaconf import DictConfig, OmegaConf

from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import Normalization
from pfn.model.tail_scales import TailScales
from pfn.model.transformer import PFNTransformer

#: where a Lightning checkpoint of a warm-started run keeps :attr:`PFNModule.init_from`
INIT_FROM_KEY = "pfn_init_from"
#: where a Lightning checkpoint keeps the output's tails per context size (its borders are in the state dict)
TAIL_SCALES_KEY = "pfn_tail_scales"


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Learning-rate multiplier: linear warm-up to 1, then cosine decay to ``min_ratio``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class PFNModule(L.LightningModule):
    """Loss: negative log likelihood of the query targets under the output distribution
    (a bar distribution for regression, a categorical for classification).

    Each batch carries its context size (``num_context``, drawn per step by the data
    stream): the first ``num_context`` points of every dataset are context, the
    rest are queries. Inputs are normalised by ``normalization`` exactly as the
    predictor will normalise them, and the loss is the NLL of normalised targets.

    Args:
        net: the transformer.
        output: distribution over (normalised) targets: :class:`BarDistribution` or :class:`Categorical`.
        normalization: how x and y are normalised (default: not at all, the prior's units).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay (not applied to biases, norms, embeddings).
        betas: AdamW betas.
        warmup_steps: linear warm-up length in optimizer steps.
        min_lr_ratio: final learning rate as a fraction of ``lr`` after cosine decay.
        compile: ``torch.compile`` the transformer for training (in :meth:`setup`, stage "fit").
            It is compiled in place (``nn.Module.compile``), so ``self.net`` stays the plain module:
            checkpoints keep their parameter names and load into uncompiled models.
        compile_backend: the ``torch.compile`` backend: "inductor" generates fused kernels;
            "aot_eager" only traces (quick to compile, for checking the compiled path on a CPU).

    Attributes:
        init_from: the inference checkpoint a warm-started run started from (``{"source", "header_sha256"}``,
            :mod:`pfn.training.warm_start`), None for a random start. Saved in the run's Lightning checkpoints
            and restored on resume, so the exported model records it however often the run was resumed.
    """

    def __init__(
        self,
        net: PFNTransformer,
        output: BarDistribution | Categorical,
        normalization: Normalization | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_steps: int = 100,
        min_lr_ratio: float = 0.0,
        compile: bool = False,
        compile_backend: str = "inductor",
    ) -> None:
        super().__init__()
        if net.num_bins != output.num_bins:
            raise ValueError(f"net predicts {net.num_bins} logits but the output distribution needs {output.num_bins}")
        self.net = net
        self.output = output
        self.normalization = normalization or Normalization()
        self.init_from: dict[str, str] | None = None
        betas = (float(betas[0]), float(betas[1]))  # plain floats: checkpoints load with weights_only=True
        self.save_hyperparameters(ignore=["net", "output", "normalization"])

    def setup(self, stage: str) -> None:
        """Compiles the transformer before training when ``compile`` is set."""
        if self.hparams["compile"] and stage == "fit":
            # Context and query counts change every step: compile for dynamic shapes from the start.
            backend = self.hparams["compile_backend"]
            # Inductor's coalescing analysis for GPU kernel tiling does not handle dynamic shapes (torch 2.11
            # aborts this model's compile with an AssertionError in tiling_utils); it only tunes tile shapes.
            from torch._inductor import config as inductor_config

            tiling = backend == "inductor" and hasattr(inductor_config.triton, "coalesce_tiling_analysis")
            options = {"triton.coalesce_tiling_analysis": False} if tiling else None
            self.net.compile(backend=backend, dynamic=True, options=options)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.init_from is not None:
            checkpoint[INIT_FROM_KEY] = dict(self.init_from)
        if isinstance(self.output, BarDistribution) and self.output.tail_scales is not None:
            checkpoint[TAIL_SCALES_KEY] = self.output.tail_scales.to_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        record = checkpoint.get(INIT_FROM_KEY)
        self.init_from = dict(record) if isinstance(record, dict) else None
        if isinstance(self.output, BarDistribution):  # the borders come with the state dict, their tails here
            scales = checkpoint.get(TAIL_SCALES_KEY)
            self.output.tail_scales = None if scales is None else TailScales.from_dict(scales)

    def _nll(self, batch: dict[str, Any]) -> torch.Tensor:
        x, y, n = batch["x"], batch["y"], int(batch["num_context"])
        x_ctx, y_ctx, x_qry, y_loc, y_scale = self.normalization.apply(x[:, :n], y[:, :n], x[:, n:])
        logits = self.net(x_ctx, y_ctx, x_qry)  # (B, N-n, K)
        output = self.output.at_context(n) if isinstance(self.output, BarDistribution) else self.output
        return output.nll(logits.float(), (y[:, n:] - y_loc) / y_scale).mean()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._nll(batch)
        self.log("train/nll", loss, prog_bar=True, sync_dist=True, batch_size=batch["y"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.log("val/nll", self._nll(batch), prog_bar=True, sync_dist=True, batch_size=batch["y"].shape[0])

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        """AdamW (weight decay on weight matrices only) with a per-step warm-up and cosine schedule."""
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for p in self.net.parameters():
            (decay if p.ndim >= 2 else no_decay).append(p)
        hp = self.hparams
        groups = [{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups, lr=hp["lr"], betas=tuple(hp["betas"]))
        total = self.trainer.max_steps
        if total is None or total < 1:
            raise ValueError("set trainer.max_steps: the learning-rate schedule needs the run length")
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: warmup_cosine(s, hp["warmup_steps"], total, hp["min_lr_ratio"])
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


#: keys of a model config (``cfg.model``) that are not :class:`PFNModule` arguments: the output bins' settings
#: (:func:`pfn.model.bins.fit_output`)
NOT_MODULE_ARGUMENTS = ("bins",)


def instantiate_module(model: DictConfig, **objects: Any) -> PFNModule:
    """The :class:`PFNModule` a model config (``cfg.model``) describes, with ``objects`` (the output
    distribution; the normalisation, when already built) in place of what the config says of them.

    Args:
        model: the model config, interpolations resolved against the config it belongs to.
        **objects: :class:`PFNModule` arguments built already, such as ``output`` (always needed).
    """
    arguments = OmegaConf.to_container(model, resolve=True)
    assert isinstance(arguments, dict)
    spec = {key: value for key, value in arguments.items() if key not in NOT_MODULE_ARGUMENTS}
    return instantiate(spec, **objects)
