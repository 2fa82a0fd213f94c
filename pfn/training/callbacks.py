"""Training callbacks."""

from __future__ import annotations

import time

import lightning as L


class DatasetThroughput(L.Callback):
    """Logs training throughput: datasets per second and tokens (points) per second."""

    def __init__(self, every_n_steps: int = 50):
        self.every_n_steps = every_n_steps
        self._t0: float | None = None
        self._datasets = self._tokens = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        b, n = batch["y"].shape
        self._datasets += b
        self._tokens += b * n
        if (batch_idx + 1) % self.every_n_steps == 0 and self._t0 is not None:
            dt = time.perf_counter() - self._t0
            pl_module.log("perf/datasets_per_s", self._datasets / dt)
            pl_module.log("perf/tokens_per_s", self._tokens / dt)
            self._t0, self._datasets, self._tokens = time.perf_counter(), 0, 0
