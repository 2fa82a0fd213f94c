"""Categorical output for classification: one logit per class, targets are class indices."""

from __future__ import annotations

import torch
from torch import nn


class Categorical(nn.Module):
    """Distribution over ``num_classes`` labels 0 .. num_classes - 1 given per-class logits."""

    def __init__(self, num_classes: int):
        super().__init__()
        if int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = int(num_classes)

    @property
    def num_bins(self) -> int:
        """Number of logits the network must produce."""
        return self.num_classes

    def log_prob(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Log probability of class labels ``y`` (floats holding integers)."""
        return torch.log_softmax(logits, dim=-1).gather(-1, y.long().unsqueeze(-1)).squeeze(-1)

    def nll(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -self.log_prob(logits, y)

    def probs(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits, dim=-1)
