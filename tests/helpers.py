"""Callbacks used by tests through Hydra's `+callbacks.<name>._target_=tests.helpers...` (real hooks, no mocks)."""

import hashlib
from pathlib import Path

import lightning as L
import numpy as np


class RecordBatches(L.Callback):
    """Appends "step num_context sha1(y)" per training batch to <path>/rank<r>.txt."""

    def __init__(self, path: str):
        self.path = Path(path)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        digest = hashlib.sha1(batch["y"].cpu().numpy().tobytes()).hexdigest()
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / f"rank{trainer.global_rank}.txt", "a") as f:
            f.write(f"{trainer.global_step} {int(batch['num_context'])} {digest}\n")


def random_dataset(n: int, m: int, d: int = 2, seed: int = 0):
    """x_train (n, d) and x_test (m, d) uniform on [0, 1], y_train (n,) standard normal."""
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.normal(size=n), rng.random((m, d))
