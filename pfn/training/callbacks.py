"""Training callbacks."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.types import STEP_OUTPUT

log = logging.getLogger(__name__)


class DatasetThroughput(L.Callback):
    """Logs training throughput: datasets per second and tokens (points) per second."""

    def __init__(self, every_n_steps: int = 50) -> None:
        self.every_n_steps = every_n_steps
        self._t0: float | None = None
        self._datasets = self._tokens = 0

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: dict[str, Any], batch_idx: int
    ) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: STEP_OUTPUT,
        batch: dict[str, Any],
        batch_idx: int,
    ) -> None:
        b, n = batch["y"].shape
        self._datasets += b
        self._tokens += b * n
        if (batch_idx + 1) % self.every_n_steps == 0 and self._t0 is not None:
            dt = time.perf_counter() - self._t0
            pl_module.log("perf/datasets_per_s", self._datasets / dt)
            pl_module.log("perf/tokens_per_s", self._tokens / dt)
            self._t0, self._datasets, self._tokens = time.perf_counter(), 0, 0


class CheckpointOnSigterm(L.Callback):
    """Saves ``last.ckpt`` when the run is stopped by SIGTERM (as cluster schedulers send before
    killing a job), so a resumed run loses no finished step.

    Lightning turns SIGTERM into a ``SIGTERMException`` at the next step boundary on every
    rank; this callback then writes the checkpoint where ``ModelCheckpoint`` keeps ``last.ckpt``.
    """

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            path = self.dirpath / "last.ckpt"
            trainer.save_checkpoint(path)
            log.warning("SIGTERM: saved %s at step %d", path, trainer.global_step)
