"""Callbacks used by tests through Hydra's `+callbacks.<name>._target_=tests.helpers...` (real hooks, no mocks)."""

import hashlib
import math
import os
import signal
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


class RecordLogitsDtype(L.Callback):
    """Writes the dtype of the transformer's logits in the first training step to <path>."""

    def __init__(self, path: str):
        self.path = Path(path)
        self._hook = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == 0:
            self._hook = pl_module.net.head.register_forward_hook(self._record)

    def _record(self, module, args, output) -> None:
        self.path.write_text(str(output.dtype))
        self._hook.remove()


def random_dataset(n: int, m: int, d: int = 2, seed: int = 0):
    """x_train (n, d) and x_test (m, d) uniform on [0, 1], y_train (n,) standard normal."""
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.normal(size=n), rng.random((m, d))


class RecordLearningRate(L.Callback):
    """Appends "step lr" per training step to <path>: the learning rate the optimizer applies at that step."""

    def __init__(self, path: str):
        self.path = Path(path)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        with open(self.path, "a") as f:
            f.write(f"{trainer.global_step} {lr!r}\n")


class SendSigterm(L.Callback):
    """Sends this process SIGTERM after training step ``at_step``, as a scheduler would (Lightning's
    handler turns it into a stop at the next step boundary)."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.at_step:
            os.kill(os.getpid(), signal.SIGTERM)


def five_se(p: float, n: int) -> float:
    """Five binomial standard errors of a share with mean ``p`` over ``n`` draws."""
    return 5 * math.sqrt(p * (1 - p) / n)
