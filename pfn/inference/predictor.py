"""Load a checkpoint and predict: ``pfn.load(path_or_name).predict(x_train, y_train, x_test)``."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any

import numpy as np
import torch

from pfn.checkpoint import load_checkpoint
from pfn.inference.predictive import ClassPredictive, PosteriorPredictive
from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import ContextStatistics, Normalization
from pfn.model.transformer import KVCache, PFNTransformer

#: elements (per tensor) a query chunk may allocate: about 256 MB in float32
CHUNK_ELEMENTS = 2**26
DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.int16, torch.uint8)):
            raise ValueError(f"{name} must be numeric, got a tensor of {t.dtype}")
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be numeric array-like, got {type(value).__name__}") from err
    t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf; remove or impute those values first")
    return t


def _is_out_of_memory(err: BaseException) -> bool:
    text = str(err).lower()
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in text or "can't allocate" in text


class Predictor:
    """A trained PFN ready to predict. Build it with :func:`pfn.load`.

    Attributes:
        config: the checkpoint's description (architecture, prior, normalisation, training, domain).
        chunk_size: queries per forward chunk (None: chosen from the problem size to bound memory).
    """

    def __init__(
        self,
        net: PFNTransformer,
        output: BarDistribution | Categorical,
        config: dict[str, Any],
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
        chunk_size: int | None = None,
    ):
        self.device = _device(device)
        self.dtype = _dtype(dtype)
        weights_dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        self.net = net.to(self.device, weights_dtype).eval()
        self.output = output.to(self.device)
        self.config = config
        norm = config.get("normalization", {})
        self.normalization = Normalization(x=norm.get("x", "none"), y=norm.get("y", "none"))
        self.chunk_size = chunk_size

    # -- what the model accepts ----------------------------------------------------------------
    @property
    def num_features(self) -> int:
        return self.net.num_features

    @property
    def is_classifier(self) -> bool:
        return isinstance(self.output, Categorical)

    @property
    def min_features(self) -> int:
        """Fewest input features the model accepts (it was trained with the rest zero-padded)."""
        return int(self.config.get("training", {}).get("min_features", self.num_features))

    @property
    def max_context(self) -> int | None:
        """The largest context size the model was trained on, if recorded."""
        return self.config.get("training", {}).get("max_context")

    @property
    def x_range(self) -> tuple[float, float] | None:
        """Range of inputs the model was trained on, when it works in the prior's x units."""
        rng = self.config.get("domain", {}).get("x")
        return None if rng is None or self.normalization.x != "none" else (float(rng[0]), float(rng[1]))

    def _check_x_range(self, x: torch.Tensor, name: str) -> None:
        if self.x_range is None or x.numel() == 0:
            return
        lo, hi = self.x_range
        slack = 1e-6 * max(1.0, hi - lo)
        if x.min() < lo - slack or x.max() > hi + slack:
            raise ValueError(
                f"{name} values must lie in [{lo:g}, {hi:g}], the input range this model was trained on "
                f"(got values from {x.min().item():g} to {x.max().item():g}); rescale your inputs to that range"
            )

    # -- conditioning and prediction ----------------------------------------------------------
    def _context(self, x_train, y_train) -> tuple[torch.Tensor, torch.Tensor, bool]:
        xt, yt = _as_tensor(x_train, "x_train"), _as_tensor(y_train, "y_train")
        batched = xt.ndim == 3
        if not batched:  # one dataset: x (n,) or (n, d), y (n,)
            if xt.ndim == 1 and self.min_features == 1:
                xt = xt.unsqueeze(-1)
            xt, yt = xt.unsqueeze(0), yt.unsqueeze(0)
        d, d_min = self.num_features, self.min_features
        allowed = f"{d}" if d_min == d else f"{d_min} to {d}"
        if xt.ndim != 3 or not d_min <= xt.shape[-1] <= d:
            raise ValueError(
                f"x_train must have shape (n, d){' or (n,)' if d_min == 1 else ''} or (b, n, d) with d = {allowed} "
                f"features for this model, got {tuple(_as_tensor(x_train, 'x_train').shape)}"
            )
        if yt.shape != xt.shape[:2]:
            raise ValueError(
                f"y_train must have one value per row of x_train: expected shape {tuple(xt.shape[:2])} "
                f"(after adding the batch axis), got {tuple(yt.shape)}"
            )
        if self.is_classifier and ((yt != yt.round()) | (yt < 0) | (yt >= self.output.num_classes)).any():
            raise ValueError(f"y_train must hold class labels 0 .. {self.output.num_classes - 1} for this classifier")
        if self.max_context is not None and xt.shape[1] > self.max_context:
            warnings.warn(
                f"x_train has {xt.shape[1]} points but the model was trained on at most {self.max_context}; "
                "predictions may be poorly calibrated",
                stacklevel=3,
            )
        self._check_x_range(xt, "x_train")
        return xt, yt, batched

    @torch.inference_mode()
    def condition(self, x_train, y_train) -> ConditionedPredictor:
        """Encode the observed data once; the result answers any number of query batches.

        Args:
            x_train: (n,) or (n, d) for one dataset, or (b, n, d) for a batch; n may be 0.
            y_train: (n,) or (b, n).
        """
        numpy = not isinstance(x_train, torch.Tensor)
        xt, yt, batched = self._context(x_train, y_train)
        stats = self.normalization.fit(xt, yt)
        x_ctx = _pad(stats.x(xt), self.num_features).to(self.device, self.net.x_encoder.weight.dtype)
        y_ctx = stats.y(yt).to(self.device, self.net.x_encoder.weight.dtype)
        try:
            with self._autocast():
                cache = self.net.encode_context(x_ctx, y_ctx)
        except RuntimeError as err:
            if _is_out_of_memory(err):
                raise MemoryError(
                    f"out of memory encoding {x_ctx.shape[0]} dataset(s) of {x_ctx.shape[1]} context points on "
                    f"{self.device}: pass fewer datasets per call or fewer context points"
                ) from err
            raise
        return ConditionedPredictor(self, cache, stats, xt.shape[-1], batched, numpy)

    def predict(self, x_train, y_train, x_test) -> PosteriorPredictive | ClassPredictive:
        """Posterior predictive at ``x_test`` given the observed ``(x_train, y_train)``, in one pass.

        Args:
            x_train: (n,) or (n, d) for one dataset, or (b, n, d) for a batch; n may be 0.
            y_train: (n,) or (b, n).
            x_test: (m,) or (m, d), or (b, m, d).

        Returns:
            The predictive distribution of y at each test point (class probabilities for a
            classifier). NumPy in, NumPy out.
        """
        return self.condition(x_train, y_train).predict(x_test)

    def _autocast(self):
        if self.dtype == torch.bfloat16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def __repr__(self) -> str:
        prior = self.config.get("prior", {}).get("name", "?")
        return f"Predictor(prior={prior}, features={self.num_features}, device={self.device}, dtype={self.dtype})"


class ConditionedPredictor:
    """A predictor with its context encoded (keys and values of every layer cached).

    Made by :meth:`Predictor.condition`; ``predict(x_test)`` costs only the queries' share.
    """

    def __init__(self, predictor, cache: KVCache, stats: ContextStatistics, d: int, batched: bool, numpy: bool):
        self.predictor, self.cache, self.stats = predictor, cache, stats
        self.num_features, self.batched, self._numpy = d, batched, numpy
        self.num_datasets = cache[0][0].shape[0]

    def _queries(self, x_test) -> torch.Tensor:
        xq = _as_tensor(x_test, "x_test")
        if not self.batched:
            if xq.ndim == 1 and self.num_features == 1:
                xq = xq.unsqueeze(-1)
            xq = xq.unsqueeze(0)
        if xq.ndim != 3 or xq.shape[-1] != self.num_features or xq.shape[0] != self.num_datasets:
            d = self.num_features
            expected = f"({self.num_datasets}, m, {d})" if self.batched else f"(m, {d})"
            raise ValueError(
                f"x_test must have shape {expected}: the same number of features ({self.num_features}) and "
                f"datasets as x_train, got shape {tuple(_as_tensor(x_test, 'x_test').shape)}"
            )
        self.predictor._check_x_range(xq, "x_test")
        return xq

    def _chunk_size(self, m: int) -> int:
        p = self.predictor
        if p.chunk_size:
            return p.chunk_size
        n_ctx = self.cache[0][0].shape[2]
        heads = self.cache[0][0].shape[1]
        per_query = self.num_datasets * max(heads * n_ctx, p.net.blocks[0].mlp[0].out_features, p.net.num_bins)
        return max(1, min(m, CHUNK_ELEMENTS // per_query))

    @torch.inference_mode()
    def predict(self, x_test) -> PosteriorPredictive | ClassPredictive:
        """Posterior predictive at ``x_test``: (m,) or (m, d), or (b, m, d) for a batch."""
        p = self.predictor
        xq = _pad(self.stats.x(self._queries(x_test)), p.num_features)
        xq = xq.to(p.device, p.net.x_encoder.weight.dtype)
        step = self._chunk_size(xq.shape[1])
        try:
            with p._autocast():
                parts = [p.net.decode(self.cache, xq[:, i : i + step]).float() for i in range(0, xq.shape[1], step)]
        except RuntimeError as err:
            if _is_out_of_memory(err):
                raise MemoryError(
                    f"out of memory predicting {xq.shape[1]} queries for {xq.shape[0]} dataset(s) on {p.device}: "
                    f"set a smaller predictor.chunk_size (now {step}) or pass fewer datasets per call"
                ) from err
            raise
        logits = torch.cat(parts, dim=1) if parts else xq.new_zeros(xq.shape[0], 0, p.net.num_bins)
        loc = self.stats.y_loc.to(p.device, torch.float32)
        scale = self.stats.y_scale.to(p.device, torch.float32)
        if not self.batched:
            logits, loc, scale = logits[0], loc[0], scale[0]
        if p.is_classifier:
            return ClassPredictive(logits, self._numpy)
        return PosteriorPredictive(logits, p.output, loc, scale, self._numpy)


def _pad(x: torch.Tensor, d: int) -> torch.Tensor:
    """Zero-pad features up to d (the model was trained with unused features set to zero)."""
    return torch.nn.functional.pad(x, (0, d - x.shape[-1])) if x.shape[-1] < d else x


def _device(device: str | torch.device) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} but no CUDA GPU is available; use device='cpu'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={str(device)!r} but Apple's MPS backend is not available; use device='cpu'")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda' (or 'cuda:N') or 'mps', got {str(device)!r}")
    return dev


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")


def load(
    path_or_name: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "float32",
) -> Predictor:
    """Open an inference checkpoint for prediction: a ``.safetensors`` path, or the name of a
    shipped model (see :func:`pfn.list_pretrained`).

    Args:
        path_or_name: checkpoint file, or a pretrained model's name such as ``"gp"``.
        device: "cpu", "cuda" (or "cuda:N") or "mps".
        dtype: "float32" (default), "float64", or "bfloat16" (mixed precision, for GPUs).

    Loading never unpickles: the file holds only tensors and a JSON description.
    """
    from pfn.pretrained import resolve

    net, output, config = load_checkpoint(resolve(path_or_name))
    return Predictor(net, output, config, device=device, dtype=dtype)
