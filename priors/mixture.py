"""A prior that draws each dataset (or each whole batch) from one of several priors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from priors.base import Batch, Prior, as_prior, describe_prior, input_range, is_sequential, samples_on_any_device
from priors.checks import check_option, is_real


class MixturePrior(Prior):
    """Mixture of priors with given weights.

    Args:
        priors: the component priors (objects with ``sample`` or plain functions).
        weights: relative weights, one per component (default: equal).
        per: "dataset" draws a component for every dataset; "batch" one for the whole batch
            (useful when components differ in cost or shape conventions).
    """

    def __init__(self, priors: list[Any], weights: list[float] | None = None, per: str = "dataset"):
        if isinstance(priors, (str, bytes)) or not isinstance(priors, Iterable) or not list(priors):
            raise ValueError(f"priors must be a non-empty list of priors, got {priors!r}")
        self.priors = []
        for i, p in enumerate(priors):
            try:
                self.priors.append(as_prior(p))
            except TypeError as err:
                raise ValueError(f"priors[{i}]: {err}") from None
        n = len(self.priors)
        listed = list(weights) if isinstance(weights, Iterable) and not isinstance(weights, (str, bytes)) else None
        if weights is None:
            listed = [1.0] * n
        if listed is None or len(listed) != n or not all(is_real(v) and v >= 0 for v in listed) or not sum(listed) > 0:
            raise ValueError(f"weights must be {n} non-negative numbers, not all zero; got {weights!r}")
        w = torch.tensor([float(v) for v in listed], dtype=torch.float64)
        self.per = check_option(per, "per", ("dataset", "batch"))
        self.weights = w / w.sum()
        self.max_features = min(getattr(p, "max_features", 1) for p in self.priors)
        #: True when every component samples on the generator's device
        self.samples_on_any_device = all(samples_on_any_device(p) for p in self.priors)
        kinds = {is_sequential(p) for p in self.priors}
        if len(kinds) > 1:
            raise ValueError(
                "priors must be all sequential (curves whose first points are the context) or all not: a model "
                "cannot be trained on both kinds of split at once"
            )
        #: sequential when the components are (learning curves: the context is each dataset's first points)
        self.sequential = kinds.pop()

    @property
    def input_range(self) -> tuple[float, float] | None:
        """The range covering every component's inputs; None when some component declares none."""
        ranges = [input_range(p) for p in self.priors]
        if any(r is None for r in ranges):
            return None
        return (min(r[0] for r in ranges), max(r[1] for r in ranges))  # type: ignore[index]

    def sample_components(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """The component index of each dataset, (B,)."""
        n = 1 if self.per == "batch" else batch_size
        idx = torch.multinomial(self.weights.to(generator.device), n, replacement=True, generator=generator)
        return idx.expand(batch_size) if self.per == "batch" else idx

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        comp = self.sample_components(batch_size, generator).cpu()
        x: torch.Tensor | None = None
        y: torch.Tensor | None = None
        for k, prior in enumerate(self.priors):
            rows = (comp == k).nonzero().squeeze(-1)
            if rows.numel() == 0:
                continue
            part = prior.sample(rows.numel(), num_points, num_features, generator)
            if x is None or y is None:
                x = part.x.new_zeros(batch_size, num_points, num_features)
                y = part.y.new_zeros(batch_size, num_points)
            rows = rows.to(part.x.device)
            x[rows], y[rows] = part.x, part.y
        assert x is not None and y is not None  # every dataset was drawn from some component
        return Batch(x=x, y=y)

    def describe(self) -> dict[str, Any]:
        return {
            "name": "MixturePrior",
            "per": self.per,
            "components": [
                {"weight": float(w), **describe_prior(p)} for w, p in zip(self.weights, self.priors, strict=True)
            ],
        }
