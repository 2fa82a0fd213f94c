"""Load a checkpoint and predict: ``pfn.load(path).predict(x_train, y_train, x_test)``."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch

from pfn.checkpoint import load_checkpoint
from pfn.inference.predictive import PosteriorPredictive
from pfn.model.bar_distribution import BarDistribution
from pfn.model.transformer import PFNTransformer


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be numeric array-like, got {type(value).__name__}") from err
    if not t.is_floating_point() and t.dtype != torch.bool:
        t = t.double()
    if not torch.isfinite(t.float()).all():
        raise ValueError(f"{name} contains NaN or inf; remove or impute those values first")
    return t.float()


class Predictor:
    """A trained PFN ready to predict. Build it with :func:`pfn.load`.

    Attributes:
        config: the checkpoint's description (architecture, prior, normalisation, training).
    """

    def __init__(self, net: PFNTransformer, bar: BarDistribution, config: dict[str, Any], device: str = "cpu"):
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.bar = bar.to(self.device)
        self.config = config

    @property
    def num_features(self) -> int:
        return self.net.num_features

    @property
    def min_features(self) -> int:
        """Fewest input features the model accepts (it was trained with the rest zero-padded)."""
        return int(self.config.get("training", {}).get("min_features", self.num_features))

    @property
    def max_context(self) -> int | None:
        """The largest context size the model was trained on, if recorded."""
        return self.config.get("training", {}).get("max_context")

    def _inputs(self, x_train, y_train, x_test) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]:
        xt, yt, xq = _as_tensor(x_train, "x_train"), _as_tensor(y_train, "y_train"), _as_tensor(x_test, "x_test")
        batched = xt.ndim == 3
        if not batched:  # one dataset: x (n,) or (n, d), y (n,)
            if xt.ndim == 1 and self.min_features == 1:
                xt, xq = xt.unsqueeze(-1), (xq.unsqueeze(-1) if xq.ndim == 1 else xq)
            xt, yt, xq = xt.unsqueeze(0), yt.unsqueeze(0), xq.unsqueeze(0)
        d, d_min = self.num_features, self.min_features
        allowed = f"{d}" if d_min == d else f"{d_min} to {d}"
        if xt.ndim != 3 or not d_min <= xt.shape[-1] <= d:
            raise ValueError(
                f"x_train must have shape (n, d){' or (n,)' if d_min == 1 else ''} or (b, n, d) with d = {allowed} "
                f"features for this model, got {tuple(_as_tensor(x_train, 'x_train').shape)}"
            )
        if xq.ndim != 3 or xq.shape[-1] != xt.shape[-1] or xq.shape[0] != xt.shape[0]:
            raise ValueError(
                f"x_test must have the same number of features ({xt.shape[-1]}) and datasets as x_train, "
                f"got shape {tuple(_as_tensor(x_test, 'x_test').shape)}"
            )
        if xt.shape[-1] < d:  # the model was trained with unused features set to zero
            xt, xq = (torch.nn.functional.pad(t, (0, d - t.shape[-1])) for t in (xt, xq))
        if yt.shape != xt.shape[:2]:
            raise ValueError(
                f"y_train must have one value per row of x_train: expected shape {tuple(xt.shape[:2])} "
                f"(after adding the batch axis), got {tuple(yt.shape)}"
            )
        if self.max_context is not None and xt.shape[1] > self.max_context:
            warnings.warn(
                f"x_train has {xt.shape[1]} points but the model was trained on at most {self.max_context}; "
                "predictions may be poorly calibrated",
                stacklevel=3,
            )
        return xt, yt, xq, batched

    @torch.inference_mode()
    def predict(self, x_train, y_train, x_test) -> PosteriorPredictive:
        """Posterior predictive at ``x_test`` given the observed ``(x_train, y_train)``, in one pass.

        Args:
            x_train: (n,) or (n, d) for one dataset, or (b, n, d) for a batch; n may be 0.
            y_train: (n,) or (b, n).
            x_test: (m,) or (m, d), or (b, m, d).

        Returns:
            The predictive distribution of y at each test point. NumPy in, NumPy out.
        """
        numpy = not isinstance(x_train, torch.Tensor)
        xt, yt, xq, batched = self._inputs(x_train, y_train, x_test)
        dev = self.device
        logits = self.net(xt.to(dev), yt.to(dev), xq.to(dev)).float()
        return PosteriorPredictive(logits if batched else logits[0], self.bar, numpy)


def load(path: str | os.PathLike, device: str = "cpu") -> Predictor:
    """Open an inference checkpoint (a ``.safetensors`` file written by training) for prediction.

    Loading never unpickles: the file holds only tensors and a JSON description.
    """
    net, bar, config = load_checkpoint(path)
    return Predictor(net, bar, config, device=device)
