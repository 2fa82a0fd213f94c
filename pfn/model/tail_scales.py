"""Tails fitted per context size: how far past the outer bins a model's targets reach.

A bar distribution's tails have, by default, the spread of the outer bins they replace, and the bins
are quantiles of targets pooled over every context size. For a model that standardises y by its
context this is too narrow where the context is tiny: with two points the targets are ratios to a
two-point spread, ``(y - mean) / std``, whose tails are Cauchy-like (a Student t with n - 1 degrees of
freedom for Gaussian data). Those contexts are a small share of the pooled targets, so the outer bins
do not see them: with the default tails the shipped ``bo`` model's 90% intervals at two points held
85% of its prior's targets (docs/results/eval_tail_scales.md).

A :class:`TailScales` table widens each tail per context size: the scale of the tail's distribution of
the distance past the inner border is the maximum-likelihood one for the prior's targets at that
context size (:meth:`pfn.model.tails.ParetoTail.mle_scale`), stored as a factor on the default scale.
The network is untouched: the log density of a target in a tail is the tail's mass, from the network,
times the tail's density, which has no weights, so the network's maximum-likelihood masses are the
same for any tail scale. Factors are never below 1: a narrower tail gains a few thousandths of a nat on
prior targets and would cost far more on real data that strays past the prior. Context sizes outside
the table keep the default tails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from pfn.model.tails import TAILS

#: fewest datasets with a target in a tail for its scale to be fitted at a context size (a dataset's targets
#: share its function and its context's spread, so they count as one)
MIN_TAIL_DATASETS = 50


@dataclass(frozen=True)
class TailScales:
    """Factors on the default scale of the left and right tails, per context size.

    Args:
        context_sizes: the context sizes with fitted tails, increasing.
        left: the left tail's factor (>= 1) at those sizes.
        right: the right tail's factor (>= 1) at those sizes.
    """

    context_sizes: tuple[int, ...]
    left: tuple[float, ...]
    right: tuple[float, ...]

    def __post_init__(self) -> None:
        sizes, left, right = self.context_sizes, self.left, self.right
        if not len(sizes) == len(left) == len(right):
            raise ValueError(f"context_sizes, left and right must have equal lengths, got {len(sizes)}, "
                             f"{len(left)}, {len(right)}")  # fmt: skip
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in sizes):
            raise ValueError(f"context_sizes must be integers >= 0, got {list(sizes)[:10]}")
        if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
            raise ValueError(f"context_sizes must be strictly increasing, got {list(sizes)[:10]}")
        for name, factors in (("left", left), ("right", right)):
            ok = all(isinstance(f, int | float) and not isinstance(f, bool) and math.isfinite(f) for f in factors)
            if not ok or any(f < 1 for f in factors):
                raise ValueError(f"{name} tail factors must be finite numbers >= 1, got {list(factors)[:10]}")

    def factors(self, num_context: int) -> tuple[float, float]:
        """(left, right) factors for a context of ``num_context`` points; (1, 1) outside the table."""
        try:
            i = self.context_sizes.index(num_context)
        except ValueError:
            return 1.0, 1.0
        return self.left[i], self.right[i]

    def to_dict(self) -> dict[str, list[Any]]:
        return {"context_sizes": list(self.context_sizes), "left": list(self.left), "right": list(self.right)}

    @classmethod
    def from_dict(cls, data: Any) -> TailScales:
        """The table stored by :meth:`to_dict`; ValueError names what is malformed."""
        keys = {"context_sizes", "left", "right"}
        if not isinstance(data, Mapping) or set(data) != keys or not all(isinstance(data[k], list) for k in keys):
            raise ValueError('tail scales must be an object of three lists: "context_sizes", "left" and "right"')
        return cls(tuple(data["context_sizes"]), tuple(data["left"]), tuple(data["right"]))


def fit_tail_scales(
    targets: Iterable[tuple[int, torch.Tensor]],
    borders: torch.Tensor,
    tails: str,
    min_datasets: int = MIN_TAIL_DATASETS,
) -> TailScales | None:
    """Tail factors fitted to ``targets``: (context size, the targets (datasets, queries) the loss sees at it).

    At each context size, each tail that holds targets of at least ``min_datasets`` datasets gets the
    maximum-likelihood scale of their distance past the inner border, as a factor (at least 1) on the
    scale the outer bin's width gives; a tail with fewer keeps factor 1. Sizes where both factors are 1
    are left out; None when none is left.
    """
    b = borders.double()
    family = TAILS[tails]
    default = (family(b[1] - b[0]).s, family(b[-1] - b[-2]).s)
    rows = []
    for n, z in targets:
        z = z.double()
        found = []
        for inside, distance, s0 in ((z < b[1], b[1] - z, default[0]), (z >= b[-2], z - b[-2], default[1])):
            inside = inside & torch.isfinite(z)
            enough = int(inside.any(dim=-1).sum()) >= min_datasets
            factor = float(family.mle_scale(distance[inside]) / s0) if enough else 1.0
            found.append(round(max(1.0, factor), 4))
        if found != [1.0, 1.0]:
            rows.append((n, *found))
    if not rows:
        return None
    sizes, left, right = zip(*rows, strict=True)
    return TailScales(tuple(sizes), tuple(left), tuple(right))
