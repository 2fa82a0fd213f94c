"""Load a checkpoint and predict: ``pfn.load(path_or_name).predict(x_train, y_train, x_test)``."""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import os
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from pfn.checkpoint import load_checkpoint
from pfn.inference.inputs import real_tensor
from pfn.inference.memory import CHUNK_ELEMENTS, STORED_ELEMENTS, memory_guard
from pfn.inference.predictive import ClassPredictive, DecodedLogits, PosteriorPredictive
from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import ContextStatistics, Normalization
from pfn.model.transformer import KVCache, PFNTransformer
from pfn.types import ArrayLike

#: context tokens per group of datasets encoded at once on a CPU (see ``Predictor._encode``)
ENCODE_TOKENS = 4096
DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}


def _as_tensor(value: ArrayLike, name: str) -> torch.Tensor:
    """A finite float64 CPU tensor: inputs are standardised in float64 and only then cast for the network."""
    t = real_tensor(value, name)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf; remove or impute those values first")
    return t


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
        self.net = net.to(self.device, self.dtype).eval()
        self._weights = list(self.net.parameters())  # listed once: differentiable predictions freeze them per call
        self.output = output.to(self.device)
        self.config = config
        norm = config.get("normalization", {})
        self.normalization = Normalization(x=norm.get("x", "none"), y=norm.get("y", "none"))
        self.chunk_size = chunk_size

    @property
    def chunk_size(self) -> int | None:
        """Queries per decoded chunk; None chooses it from the problem size to bound memory."""
        return self._chunk_size

    @chunk_size.setter
    def chunk_size(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise ValueError(f"chunk_size must be a positive integer (queries per chunk) or None, got {value!r}")
        self._chunk_size = None if value is None else int(value)

    @property
    def _net_dtype(self) -> torch.dtype:
        """The dtype the network's inputs are cast to: its weights'."""
        return self.net.x_encoder.weight.dtype

    @property
    def _logits_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == torch.float64 else torch.float32

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
    def _context(self, x_train: ArrayLike, y_train: ArrayLike) -> tuple[torch.Tensor, torch.Tensor, bool]:
        xt, yt = _as_tensor(x_train, "x_train"), _as_tensor(y_train, "y_train")
        given_shape = tuple(xt.shape)
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
                f"features for this model, got {given_shape}"
            )
        if yt.shape != xt.shape[:2]:
            raise ValueError(
                f"y_train must have one value per row of x_train: expected shape {tuple(xt.shape[:2])} "
                f"(after adding the batch axis), got {tuple(yt.shape)}"
            )
        classes = self.output.num_classes if isinstance(self.output, Categorical) else None
        if classes is not None and ((yt != yt.round()) | (yt < 0) | (yt >= classes)).any():
            raise ValueError(f"y_train must hold class labels 0 .. {classes - 1} for this classifier")
        if self.max_context is not None and xt.shape[1] > self.max_context:
            warnings.warn(
                f"x_train has {xt.shape[1]} points but the model was trained on at most {self.max_context}; "
                "predictions may be poorly calibrated",
                stacklevel=3,
            )
        self._check_x_range(xt, "x_train")
        return xt, yt, batched

    @torch.inference_mode()
    def condition(self, x_train: ArrayLike, y_train: ArrayLike) -> ConditionedPredictor:
        """Encode the observed data once; the result answers any number of query batches.

        Args:
            x_train: (n,) or (n, d) for one dataset, or (b, n, d) for a batch; n may be 0.
            y_train: (n,) or (b, n).
        """
        return self._condition(x_train, y_train, encode=True)

    @torch.inference_mode()
    def _condition(self, x_train: ArrayLike, y_train: ArrayLike, encode: bool) -> ConditionedPredictor:
        """The validated, normalised context; with ``encode=False`` its keys and values are computed
        only when a prediction needs them (see ``ConditionedPredictor.cache``)."""
        numpy = not isinstance(x_train, torch.Tensor)
        xt, yt, batched = self._context(x_train, y_train)
        stats = self.normalization.fit(xt, yt, scale_invariant=True)  # in float64, then cast
        x_ctx = _pad(stats.x(xt), self.num_features).to(self.device, self._net_dtype)
        y_ctx = stats.y(yt).to(self.device, self._net_dtype)
        cache = self._encode(x_ctx, y_ctx) if encode else None
        return ConditionedPredictor(self, (x_ctx, y_ctx), cache, stats, xt.shape[-1], batched, numpy)

    def _encode_group(self, b: int, n: int) -> int:
        """Datasets encoded at once. On a CPU, datasets go through in groups of about ``ENCODE_TOKENS``
        tokens, whose activations stay in the processor's cache (many short contexts, such as learning
        curves, encode faster); a GPU takes the whole batch at once."""
        return b if self.device.type != "cpu" else max(1, ENCODE_TOKENS // (n + 1))

    def _encoding_guard(self, b: int, n: int) -> contextlib.AbstractContextManager[None]:
        """A MemoryError that says what to reduce if encoding b contexts of n points runs out of memory."""
        return memory_guard(
            f"encoding {b} dataset(s) of {n} context points on {self.device}",
            "pass fewer datasets per call or fewer context points",
        )

    def _encode(self, x_ctx: torch.Tensor, y_ctx: torch.Tensor) -> KVCache:
        """The context's keys and values, encoded group by group (``_encode_group``)."""
        b, n = x_ctx.shape[:2]
        with self._encoding_guard(b, n):
            group = self._encode_group(b, n)
            if group >= b:
                return self.net.encode_context(x_ctx, y_ctx)
            parts = [self.net.encode_context(x_ctx[i : i + group], y_ctx[i : i + group]) for i in range(0, b, group)]
            layers = zip(*parts, strict=True)  # per layer: each group's (keys, values)
            return [(torch.cat([k for k, _ in g]), torch.cat([v for _, v in g])) for g in layers]

    def predict(
        self, x_train: ArrayLike, y_train: ArrayLike, x_test: ArrayLike, differentiable: bool = False
    ) -> PosteriorPredictive | ClassPredictive:
        """Posterior predictive at ``x_test`` given the observed ``(x_train, y_train)``, in one pass.

        Args:
            x_train: (n,) or (n, d) for one dataset, or (b, n, d) for a batch; n may be 0.
            y_train: (n,) or (b, n).
            x_test: (m,) or (m, d), or (b, m, d).
            differentiable: make every statistic differentiable with respect to ``x_test``, a torch
                tensor (see :meth:`ConditionedPredictor.predict`).

        Returns:
            The predictive distribution of y at each test point (class probabilities for a
            classifier). NumPy in, NumPy out.
        """
        conditioned = self._condition(x_train, y_train, encode=False)  # encoded as the prediction needs
        return conditioned.predict(x_test, differentiable=differentiable)

    def __repr__(self) -> str:
        prior = self.config.get("prior", {}).get("name", "?")
        return f"Predictor(prior={prior}, features={self.num_features}, device={self.device}, dtype={self.dtype})"


class ConditionedPredictor:
    """A predictor with its context encoded (keys and values of every layer cached).

    Made by :meth:`Predictor.condition`; ``predict(x_test)`` costs only the queries' share. (A one-shot
    :meth:`Predictor.predict` makes one whose context is encoded only as its prediction needs it.)
    """

    def __init__(
        self,
        predictor: Predictor,
        context: tuple[torch.Tensor, torch.Tensor],
        cache: KVCache | None,
        stats: ContextStatistics,
        d: int,
        batched: bool,
        numpy: bool,
    ):
        self.predictor, self.stats = predictor, stats
        self._context = context  # normalised x (b, n, D) and y (b, n), on the device in the network's dtype
        self._cache = cache
        self.num_features, self.batched, self._numpy = d, batched, numpy
        self.num_datasets, self.num_context = context[0].shape[:2]
        self._grad_copy: tuple[KVCache, ContextStatistics] | None = None

    @property
    def cache(self) -> KVCache:
        """Keys and values of every layer for the whole context, (b, heads, n + 1, d_model / heads) each;
        encoded on first use."""
        if self._cache is None:
            with torch.inference_mode():
                self._cache = self.predictor._encode(*self._context)
        return self._cache

    def _queries(self, x_test: ArrayLike) -> torch.Tensor:
        xq = _as_tensor(x_test, "x_test")
        given_shape = tuple(xq.shape)
        if not self.batched:
            if xq.ndim == 1 and self.num_features == 1:
                xq = xq.unsqueeze(-1)
            xq = xq.unsqueeze(0)
        if xq.ndim != 3 or xq.shape[-1] != self.num_features or xq.shape[0] != self.num_datasets:
            d = self.num_features
            expected = f"({self.num_datasets}, m, {d})" if self.batched else f"(m, {d})"
            raise ValueError(
                f"x_test must have shape {expected}: the same number of features ({self.num_features}) and "
                f"datasets as x_train, got shape {given_shape}"
            )
        self.predictor._check_x_range(xq, "x_test")
        return xq

    def _chunk_size(self, m: int) -> int:
        p = self.predictor
        if p.chunk_size:
            return p.chunk_size
        n_ctx = self._context[0].shape[1] + 1  # the empty token as well
        heads = p.net.config()["n_heads"]
        per_query = max(1, self.num_datasets) * max(heads * n_ctx, p.net.config()["d_ff"], p.net.num_bins)
        return max(1, min(m, CHUNK_ELEMENTS // per_query))

    def _decode(self, xq: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Logits (b, stop - start, K) of queries start:stop (normalised, on the device)."""
        p = self.predictor
        with torch.inference_mode():
            return p.net.decode(self.cache, xq[:, start:stop]).to(p._logits_dtype)

    def _decode_in_groups(self, xq: torch.Tensor, step: int) -> torch.Tensor:
        """Logits (b, m, K) of all queries xq (normalised), each group of datasets (``Predictor._encode_group``)
        encoded, decoded and let go: the whole context's keys and values are never held at once, which
        saves their memory and, on a CPU, the time to allocate and gather them."""
        p = self.predictor
        x_ctx, y_ctx = self._context
        b, n = x_ctx.shape[:2]
        group = p._encode_group(b, n)
        parts = []
        with p._encoding_guard(b, n):
            for rows in (slice(i, i + group) for i in range(0, b, group)):
                cache = p.net.encode_context(x_ctx[rows], y_ctx[rows])
                chunks = [p.net.decode(cache, xq[rows, j : j + step]) for j in range(0, xq.shape[1], step)]
                parts.append(torch.cat([c.to(p._logits_dtype) for c in chunks], dim=1))
        return torch.cat(parts)

    def predict(self, x_test: ArrayLike, differentiable: bool = False) -> PosteriorPredictive | ClassPredictive:
        """Posterior predictive at ``x_test``: (m,) or (m, d), or (b, m, d) for a batch.

        Up to about ``STORED_ELEMENTS`` logits (16k queries of a 1000-bin model) are computed here and
        kept; for more queries, each statistic decodes the queries again, chunk by chunk, so memory
        stays bounded however many queries are asked for.

        With ``differentiable=True``, ``x_test`` must be a torch tensor: the queries' forward pass runs
        with autograd on (the context stays encoded without it), the logits are kept, and every
        statistic is a torch tensor carrying the graph back to ``x_test`` (e.g. to optimise an
        acquisition function by gradient ascent). At most ``STORED_ELEMENTS`` logits per call.
        """
        if differentiable:
            return self._predict_differentiable(x_test)
        return self._predict(x_test)

    def _grad_context(self) -> tuple[KVCache, ContextStatistics]:
        """The cache and statistics as ordinary tensors (they were made under inference mode, and
        autograd cannot save inference tensors for the backward pass); copied once, then remembered."""
        if self._grad_copy is None:
            with torch.inference_mode(False), torch.no_grad():
                cache = [(keys.clone(), values.clone()) for keys, values in self.cache]
                st = self.stats
                stats = dataclasses.replace(
                    st,
                    x_loc=None if st.x_loc is None else st.x_loc.clone(),
                    x_scale=None if st.x_scale is None else st.x_scale.clone(),
                    y_loc=st.y_loc.clone(),
                    y_scale=st.y_scale.clone(),
                )
            self._grad_copy = (cache, stats)
        return self._grad_copy

    def _predict_differentiable(self, x_test: ArrayLike) -> PosteriorPredictive | ClassPredictive:
        if not isinstance(x_test, torch.Tensor):
            raise ValueError(
                f"x_test must be a torch tensor when differentiable=True (gradients flow back to it), got "
                f"{type(x_test).__name__}; pass torch.as_tensor(x_test).requires_grad_() instead"
            )
        p = self.predictor
        with torch.inference_mode(False):
            xq = self._queries(x_test)  # validated, detached
            b, m = xq.shape[:2]
            k = p.net.num_bins
            if not p.is_classifier and b * m * k > STORED_ELEMENTS:
                raise ValueError(
                    f"differentiable=True keeps the logits of every query: at most {STORED_ELEMENTS // (b * k)} "
                    f"queries per call for {b} dataset(s) of this model, got {m}; split x_test into smaller calls"
                )
            cache, stats = self._grad_context()
            step = self._chunk_size(m)
            with (
                torch.enable_grad(),
                memory_guard(
                    f"predicting {m} differentiable queries for {b} dataset(s) on {p.device}",
                    "pass fewer queries per call",
                ),
            ):
                xg = x_test.to("cpu", torch.float64).reshape(xq.shape)  # differentiable, unlike xq
                xg = _pad(stats.x(xg), p.num_features).to(p.device, p._net_dtype)
                with _frozen(p._weights):  # gradients flow to the queries, never into the weights
                    parts = [p.net.decode(cache, xg[:, i : i + step]) for i in range(0, m, step)]
                    logits = (torch.cat(parts, dim=1) if parts else p.net.decode(cache, xg)).to(p._logits_dtype)
        loc, scale = stats.y_loc, stats.y_scale
        if not self.batched:
            logits, loc, scale = logits[0], loc[0], scale[0]
        if isinstance(p.output, Categorical):
            return ClassPredictive(logits, False)
        return PosteriorPredictive(
            logits, p.output.at_context(self.num_context), loc, scale, False, differentiable=True
        )

    @torch.inference_mode()
    def _predict(self, x_test: ArrayLike) -> PosteriorPredictive | ClassPredictive:
        p = self.predictor
        xq = self._queries(x_test)
        b, m = xq.shape[:2]
        step = self._chunk_size(m)
        with memory_guard(
            f"predicting {m} queries for {b} dataset(s) on {p.device}",
            f"set a smaller predictor.chunk_size (now {step}) or pass fewer datasets per call",
        ):
            xq = _pad(self.stats.x(xq), p.num_features).to(p.device, p._net_dtype)
            shape = (b, m, p.net.num_bins)
            small = p.is_classifier or b * m * p.net.num_bins <= STORED_ELEMENTS
            logits: torch.Tensor | DecodedLogits
            if small and b * m > 0 and self._cache is None:  # a one-shot prediction: no cache is kept
                logits = self._decode_in_groups(xq, step)
            else:
                source = DecodedLogits(lambda i, j: self._decode(xq, i, j), shape, p._logits_dtype, p.device, step)
                logits = source.full() if small else source
        loc, scale = self.stats.y_loc, self.stats.y_scale  # float64, (b, 1)
        if not self.batched:
            logits = logits[0] if isinstance(logits, torch.Tensor) else _first_dataset(logits)
            loc, scale = loc[0], scale[0]
        if isinstance(p.output, Categorical):
            assert isinstance(logits, torch.Tensor)  # class logits are few: always stored
            return ClassPredictive(logits, self._numpy)
        return PosteriorPredictive(logits, p.output.at_context(self.num_context), loc, scale, self._numpy)


@contextlib.contextmanager
def _frozen(weights: list[torch.nn.Parameter]) -> Iterator[None]:
    """Parameters that build no graph inside the block (and are trainable again after it)."""
    trainable = [w for w in weights if w.requires_grad]
    try:
        for w in trainable:
            w.requires_grad_(False)
        yield
    finally:
        for w in trainable:
            w.requires_grad_(True)


def _first_dataset(source: DecodedLogits) -> DecodedLogits:
    """The logits of a one-dataset batch without the batch axis."""
    return DecodedLogits(
        lambda i, j: source.decode(i, j)[0], source.shape[1:], source.dtype, source.device, source.step
    )


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
        dtype: "float32" (default), "float64", or "bfloat16": the network's weights and activations in
            that type (statistics are always computed in float32 or float64). bfloat16 is faster on GPUs
            and on CPUs with bfloat16 instructions (AVX-512 BF16, Intel AMX), slower on other CPUs, and
            rounds the logits to about 3 significant digits.

    Loading never unpickles: the file holds only tensors and a JSON description.
    """
    from pfn.pretrained import resolve

    net, output, config = load_checkpoint(resolve(path_or_name))
    return Predictor(net, output, config, device=device, dtype=dtype)
