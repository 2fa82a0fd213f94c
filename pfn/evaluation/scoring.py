"""Scoring a model on held-out prior datasets: which context sizes and counts it can be scored with, how a
dataset is split into context and queries, and the NLL and interval coverage of its predictions.

A prior whose datasets are sequences (``prior.sequential``, such as learning curves) is scored on whole
sequences of the trained length: the first n points are the context and every later point is a query. Other
priors' points are exchangeable, and a random split of ``n + num_queries`` points is scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import Predictor
from priors.base import SamplesBatches, is_sequential

#: central-interval masses whose coverage is scored
LEVELS = (0.5, 0.9, 0.95)
#: default context sizes, clipped to what a model was trained on (:func:`context_sizes_for`)
CONTEXT_SIZES = (0, 1, 2, 5, 10, 20, 30, 50, 75, 100)


@dataclass
class ContextSizeRow:
    """The scores at one context size.

    Attributes:
        num_context: the context size.
        nll: mean negative log-likelihood per held-out point.
        nll_stderr: its standard error over datasets.
        reference_nll: the reference's mean NLL (None: no reference at this size).
        gap_stderr: standard error over datasets of the NLL minus the reference's.
        coverage: the share of held-out targets inside each central interval of :data:`LEVELS`.
        coverage_stderr: its standard error over datasets (the targets of one dataset share its function, so
            they are not independent draws).
    """

    num_context: int
    nll: float
    nll_stderr: float
    reference_nll: float | None
    gap_stderr: float | None
    coverage: dict[float, float]
    coverage_stderr: dict[float, float]

    @property
    def gap(self) -> float | None:
        """NLL minus the reference's (negative: the model is better); None without a reference."""
        return None if self.reference_nll is None else self.nll - self.reference_nll


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def context_size_range(predictor: Predictor, prior: SamplesBatches) -> tuple[int, int | None]:
    """The context sizes ``predictor`` can be scored at on ``prior``, inclusive: from 0 (1 for sequences such as
    learning curves: a curve's first point is its context) up to the largest the model was trained on (None when
    its header does not say), for sequences also below the trained length, leaving a point to predict."""
    training = predictor.config.get("training", {})
    max_context = training.get("max_context")
    high = int(max_context) if _is_int(max_context) and max_context >= 0 else None
    if is_sequential(prior):
        length = training.get("num_points")
        if not _is_int(length) or length < 2:
            raise ValueError(
                f"scoring a learning-curve model needs the curve length it was trained on (training.num_points "
                f"in its header), got {length!r}"
            )
        return 1, length - 1 if high is None else min(length - 1, high)
    return 0, high


def context_sizes_for(
    predictor: Predictor, prior: SamplesBatches, context_sizes: Sequence[int] | None = None, name: str = "context_sizes"
) -> list[int]:
    """The context sizes to score: ``context_sizes`` checked against :func:`context_size_range`, or by
    default :data:`CONTEXT_SIZES` clipped to that range (so the default suits every model).

    Raises ``ValueError`` naming the argument (``name``) unless the sizes are distinct integers in range.
    """
    low, high = context_size_range(predictor, prior)
    top = math.inf if high is None else high
    if context_sizes is None:
        return sorted({int(min(max(n, low), top)) for n in CONTEXT_SIZES})
    sizes = list(context_sizes) if isinstance(context_sizes, Sequence) and not isinstance(context_sizes, str) else []
    if not sizes:
        raise ValueError(f"{name} must be a non-empty list of integers, got {context_sizes!r}")
    bad = [n for n in sizes if not _is_int(n) or not low <= n <= top]
    if bad:
        why = "" if high is None else f" (the model was trained on contexts of at most {high} points)"
        if low:
            why += "; a curve needs at least one observed epoch and one to predict"
        raise ValueError(f"{name} must be integers in [{low}, {'inf' if high is None else high}]{why}, got {bad}")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"{name} must be distinct, got {sizes}")
    return [int(n) for n in sizes]


def check_counts(num_datasets: Any, num_queries: Any, names: tuple[str, str] = ("num_datasets", "num_queries")) -> None:
    """Datasets per size: an integer >= 2 (a standard error needs two); queries: an integer >= 1."""
    if not _is_int(num_datasets) or num_datasets < 2:
        raise ValueError(f"{names[0]} must be an integer >= 2 (a standard error needs two), got {num_datasets!r}")
    if not _is_int(num_queries) or num_queries < 1:
        raise ValueError(f"{names[1]} must be an integer >= 1, got {num_queries!r}")


Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # x_ctx, y_ctx, x_qry, y_qry


def held_out_split(
    prior: SamplesBatches,
    num_context: int,
    num_datasets: int,
    num_queries: int,
    num_features: int,
    length: int,
    generator: torch.Generator,
) -> Split:
    """``num_datasets`` fresh datasets from ``prior``, split into context and queries: a sequence of the trained
    ``length`` at its ``num_context``-th point; otherwise ``num_context + num_queries`` points split at random."""
    n = num_context
    if is_sequential(prior):  # whole curves of the trained length: the first n points observed, the rest predicted
        batch = prior.sample(num_datasets, length, num_features, generator)
        return batch.x[:, :n], batch.y[:, :n], batch.x[:, n:], batch.y[:, n:]
    batch = prior.sample(num_datasets, n + num_queries, num_features, generator)
    perm = torch.randperm(batch.x.shape[1], generator=generator)  # a random split of exchangeable points
    x, y = batch.x[:, perm], batch.y[:, perm]
    return x[:, :n], y[:, :n], x[:, n:], y[:, n:]


def pointwise_nll(predictive: PosteriorPredictive, y: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of targets ``y`` (B, m) under ``predictive``, per point, float64."""
    return -torch.as_tensor(predictive.log_prob(y)).double()


def interval_hits(predictive: PosteriorPredictive, y: torch.Tensor) -> dict[float, torch.Tensor]:
    """Whether each target of ``y`` (B, m) lies inside ``predictive``'s central interval of each mass in
    :data:`LEVELS`: a (B, m) boolean tensor per mass."""
    hits = {}
    for lv in LEVELS:
        lo, hi = (torch.as_tensor(bound) for bound in predictive.interval(lv))
        hits[lv] = (y >= lo) & (y <= hi)
    return hits


def score_row(
    num_context: int, nll: torch.Tensor, reference_nll: torch.Tensor | None, hits: dict[float, torch.Tensor]
) -> ContextSizeRow:
    """The row of one context size from per-point NLLs (B, m) of the model and of the reference (if any), and
    the (B, m) interval hits of :func:`interval_hits`; standard errors are over the B datasets."""
    num_datasets = nll.shape[0]
    per_dataset = nll.mean(1)
    ref = gap_se = None
    if reference_nll is not None:
        ref = float(reference_nll.mean())
        gap_se = float((per_dataset - reference_nll.mean(1)).std() / math.sqrt(num_datasets))
    stderr = float(per_dataset.std() / math.sqrt(num_datasets))
    shares = {lv: h.double().mean(1) for lv, h in hits.items()}  # per dataset
    coverage = {lv: float(s.mean()) for lv, s in shares.items()}
    coverage_se = {lv: float(s.std() / math.sqrt(num_datasets)) for lv, s in shares.items()}
    return ContextSizeRow(num_context, float(nll.mean()), stderr, ref, gap_se, coverage, coverage_se)
