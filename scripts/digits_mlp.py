"""A small real training task shared by the HPO demo and the real-curve script: an MLP on scikit-learn's
digits (1797 8x8 images, bundled with scikit-learn), trained epoch by epoch with SGD."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits

HYPERPARAMETERS = ("lr", "momentum", "width", "weight_decay", "batch_size")


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs scaled to [0, 1] (n, 64) and labels (n,)."""
    x, y = load_digits(return_X_y=True)
    return torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)


class DigitsMLP:
    """One hidden ReLU layer of ``width`` units, SGD with momentum and weight decay; seeded init and batch order."""

    def __init__(self, lr: float, momentum: float, width: int, weight_decay: float, batch_size: int, seed: int):
        torch.manual_seed(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.ReLU(), torch.nn.Linear(width, 10))
        self.opt = torch.optim.SGD(self.net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.batch_size = batch_size

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        perm = torch.randperm(len(y), generator=self.generator)
        for i in range(0, len(y), self.batch_size):
            b = perm[i : i + self.batch_size]
            loss = torch.nn.functional.cross_entropy(self.net(x[b]), y[b])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        with torch.no_grad():
            return float((self.net(x).argmax(1) == y).float().mean())
