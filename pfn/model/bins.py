"""The output distribution a model is trained with, fitted to its prior before training starts.

A regression model predicts a :class:`~pfn.model.bar_distribution.BarDistribution` whose bin borders are
quantiles of the targets exactly as the loss sees them: prior draws normalised by contexts of every size in
the training range, in equal shares, as the uniform context-size draw gives them. A model that standardises
y also gets its tails fitted per context size (:mod:`pfn.model.tail_scales`). A
classification prior (one with ``num_classes``) gets a :class:`~pfn.model.categorical.Categorical` instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import torch

from pfn.model.bar_distribution import BarDistribution
from pfn.model.categorical import Categorical
from pfn.model.normalization import Normalization
from pfn.model.tail_scales import fit_tail_scales

if TYPE_CHECKING:
    from priors.base import Batch

#: prior targets the borders are fitted to: quantile borders of 1000 bins from fewer are noticeably uneven
NUM_TARGETS = 1_000_000
#: fewest and most prior datasets drawn for the fit
MIN_DATASETS, MAX_DATASETS = 2048, 16384
#: prior datasets drawn for the tails' fit, each split at every context size
TAIL_DATASETS = 1024


class TrainingData(Protocol):
    """What the fit needs to know of the training data (a :class:`pfn.data.PriorDataModule` has it)."""

    @property
    def prior(self) -> object: ...

    @property
    def num_points(self) -> int: ...

    @property
    def min_context(self) -> int: ...

    @property
    def max_context(self) -> int: ...

    def sample_batch(self, num_datasets: int) -> Batch: ...


def fitting_datasets(num_points: int) -> int:
    """How many datasets of ``num_points`` points give about :data:`NUM_TARGETS` targets, within
    [:data:`MIN_DATASETS`, :data:`MAX_DATASETS`]."""
    return min(MAX_DATASETS, max(MIN_DATASETS, -(-NUM_TARGETS // num_points)))


def normalized_targets(
    x: torch.Tensor, y: torch.Tensor, normalization: Normalization, context_sizes: Sequence[int]
) -> torch.Tensor:
    """The query targets of datasets ``x`` (B, N, d), ``y`` (B, N) as the loss sees them, flattened.

    Dataset ``i`` is split at context size ``context_sizes[i % len(context_sizes)]`` and its queries'
    targets are normalised by its context, as :meth:`Normalization.apply` does for the model.
    """
    targets = []
    for i, n in enumerate(context_sizes):
        xi, yi = x[i :: len(context_sizes)], y[i :: len(context_sizes)]
        *_, loc, scale = normalization.apply(xi[:, :n], yi[:, :n], xi[:, n:])
        targets.append(((yi[:, n:] - loc) / scale).flatten())
    return torch.cat(targets)


def fit_output(
    data: TrainingData,
    normalization: Normalization,
    num_bins: int,
    tails: str = "half_normal",
    uniform_share: float = 0.0,
) -> BarDistribution | Categorical:
    """The output distribution for training on ``data``: a categorical for a prior with ``num_classes``;
    otherwise ``num_bins`` bars at quantiles of :func:`normalized_targets` of fresh prior datasets, split
    at every context size from ``data.min_context`` to ``data.max_context`` in equal shares, and for a model
    that standardises y, tails fitted per context size (:func:`tail_targets`, :mod:`pfn.model.tail_scales`).

    Args:
        data: the training data: its prior, dataset size and context-size range, and a batch sampler.
        normalization: how the model normalises contexts and targets.
        num_bins: outputs of the network: bins of the bar distribution, or the prior's number of classes.
        tails: the bar distribution's tails beyond the outer bins, "half_normal" or "pareto".
        uniform_share: the share of bins spread evenly over the targets' whole range
            (:meth:`BarDistribution.from_samples`); 0: every bin at quantiles of the targets.

    Raises:
        ValueError: for a classification prior, when ``num_bins`` is not its number of classes or the
            targets would be normalised.
    """
    num_classes = getattr(data.prior, "num_classes", None)
    if num_classes is not None:
        if normalization.y != "none":
            raise ValueError("a classification prior needs model.normalization.y=none (labels are not rescaled)")
        if num_bins != num_classes:
            raise ValueError(f"model.net.num_bins must equal the prior's num_classes ({num_classes}), got {num_bins}")
        return Categorical(num_classes)
    batch = data.sample_batch(fitting_datasets(data.num_points))
    sizes = list(range(data.min_context, data.max_context + 1))
    targets = normalized_targets(batch.x, batch.y, normalization, sizes)
    bar = BarDistribution.from_samples(targets, num_bins, tails, uniform_share)
    if normalization.y == "standardize":  # ratios to a tiny context's spread reach far past the bins
        bar.tail_scales = fit_tail_scales(tail_targets(data, normalization), bar.borders, tails)
    return bar


def tail_targets(data: TrainingData, normalization: Normalization) -> Iterator[tuple[int, torch.Tensor]]:
    """(n, targets (datasets, queries)) for every context size n in ``data``'s range: :data:`TAIL_DATASETS`
    fresh datasets, each split at every n, their queries' targets normalised by its context. (The bins' fit
    splits each dataset at one size: a few dozen datasets per size, too few for the tails of tiny contexts,
    where a dataset's targets share one spread and count about as one.)"""
    batch = data.sample_batch(TAIL_DATASETS)
    for n in range(data.min_context, data.max_context + 1):  # the queries' x are not needed: no Normalization.apply
        yield n, normalization.fit(batch.x[:, :n], batch.y[:, :n]).y(batch.y[:, n:])
