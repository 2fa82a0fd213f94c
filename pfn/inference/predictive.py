"""The posterior predictive distribution returned by ``predict``.

Everything is computed exactly from the bar distribution over normalised targets
and mapped back to the user's units: for ``y = loc + scale * z``, quantiles and
the mean shift and scale, the variance scales by ``scale^2``, and densities gain
the change-of-variables term ``-log(scale)``. The map to the user's units is done
in float64, so targets far from zero (``y`` shifted by 1e7, say) keep their
precision; every statistic is returned in float64.

Memory stays bounded in the number of queries: statistics are computed chunk by
chunk, and for very many queries the logits are not even stored (see
:class:`DecodedLogits`): each statistic decodes the queries again, chunk by chunk.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from pfn.inference.inputs import real_tensor
from pfn.inference.memory import CHUNK_ELEMENTS, memory_guard
from pfn.model.bar_distribution import BarDistribution
from pfn.types import Array, ArrayLike

#: |z| beyond which a normalised threshold is treated as infinitely far from every bin
_FAR = 1e300


class StoredLogits:
    """Logits held whole, (..., m, K); statistics read them in chunks of at most ``CHUNK_ELEMENTS``."""

    def __init__(self, logits: torch.Tensor):
        self.tensor = logits

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)

    @property
    def device(self) -> torch.device:
        return self.tensor.device

    @property
    def step(self) -> int:
        rows = max(1, math.prod(self.shape[:-2])) * max(1, self.shape[-1])
        return max(1, CHUNK_ELEMENTS // rows)

    def chunks(self) -> Iterator[tuple[slice, torch.Tensor]]:
        """(query slice, logits of those queries), covering every query; one empty chunk when there are none."""
        m, step = self.shape[-2], self.step
        for start in range(0, max(m, 1), step):
            sl = slice(start, min(start + step, m))
            yield sl, self.tensor[..., sl, :]

    def full(self) -> torch.Tensor:
        return self.tensor


class DecodedLogits:
    """Logits (..., m, K) that are never held whole: ``decode(start, stop)`` recomputes the logits of
    queries ``start:stop`` (running the network on them) each time a statistic asks.

    Args:
        decode: returns the logits (..., stop - start, K) of a range of queries.
        shape: the shape of all the logits, (..., m, K).
        dtype: the dtype of the decoded logits.
        device: the device of the decoded logits.
        step: queries per decoded chunk.
    """

    def __init__(
        self,
        decode: Callable[[int, int], torch.Tensor],
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: torch.device,
        step: int,
    ):
        self.decode, self.shape, self.dtype, self.device, self.step = decode, tuple(shape), dtype, device, step

    def chunks(self) -> Iterator[tuple[slice, torch.Tensor]]:
        m = self.shape[-2]
        if m == 0:
            yield slice(0, 0), torch.empty(self.shape, dtype=self.dtype, device=self.device)
        for start in range(0, m, self.step):
            stop = min(start + self.step, m)
            yield slice(start, stop), self.decode(start, stop)

    def full(self) -> torch.Tensor:
        m = self.shape[-2]
        if 0 < m <= self.step:  # one chunk: the decoded tensor itself, not a copy
            return self.decode(0, m)
        out = torch.empty(self.shape, dtype=self.dtype, device=self.device)
        for sl, logits in self.chunks():
            out[..., sl, :] = logits
        return out


class PosteriorPredictive:
    """Posterior predictive of the target at each query point.

    Every summary has the queries' shape: (m,) for one dataset, (b, m) for a batch, and is
    float64. NumPy inputs to ``predict`` give NumPy outputs, torch inputs give torch outputs.
    For Bayesian optimisation, ``maximize`` picks the direction of improvement.

    Args:
        logits: per-bin logits (..., m, K), or a :class:`DecodedLogits` that recomputes them.
        bar: the bar distribution over normalised targets z.
        loc: the shift of the map to the user's units, y = loc + scale * z; broadcastable to (..., m).
        scale: the scale of that map; broadcastable to (..., m).
        numpy: return NumPy arrays (else torch tensors).
        differentiable: compute every statistic with autograd on, from the whole stored ``logits``
            (which then carry the graph back to the queries), so the outputs can be differentiated.
    """

    def __init__(
        self,
        logits: torch.Tensor | DecodedLogits,
        bar: BarDistribution,
        loc: torch.Tensor,
        scale: torch.Tensor,
        numpy: bool,
        differentiable: bool = False,
    ):
        self._differentiable = differentiable
        self._logits = logits if isinstance(logits, DecodedLogits) else StoredLogits(torch.as_tensor(logits))
        device = self._logits.device
        # the float64 side (user units, densities, improvements): Apple's MPS has no float64
        self._wide = torch.device("cpu") if device.type == "mps" else device
        self.bar = bar if self._wide == device else copy.deepcopy(bar).to(self._wide)
        self.loc = torch.as_tensor(loc).detach().to(self._wide, torch.float64)
        self.scale = torch.as_tensor(scale).detach().to(self._wide, torch.float64)
        self._numpy = numpy
        self._moments: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self._logits.shape[:-1]

    @property
    def logits(self) -> torch.Tensor:
        """The per-bin logits (..., m, K). For very many queries these are computed here and held whole;
        the statistics never need them so (they work chunk by chunk)."""
        with memory_guard(f"holding the logits of queries of shape {self.shape}", self._advice()):
            return self._logits.full()

    # -- plumbing ------------------------------------------------------------------------------
    def _advice(self) -> str:
        return (
            f"predict fewer queries per call, or predict again after setting a smaller predictor.chunk_size "
            f"(statistics are computed {self._logits.step} queries at a time)"
        )

    def _out(self, t: torch.Tensor) -> Array:
        return t.detach().cpu().numpy() if self._numpy else t

    def _wide64(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self._wide, torch.float64)

    def _reduce(
        self, what: str, fn: Callable[..., torch.Tensor], *per_query: torch.Tensor, dim: int = -1
    ) -> torch.Tensor:
        """Apply ``fn(logits_chunk, *per_query_chunks)`` chunk by chunk and join the results along ``dim``,
        the query axis of ``fn``'s output. ``per_query`` tensors have the queries' shape (..., m).
        Differentiable predictions apply ``fn`` once to all the stored logits, with autograd on."""
        if self._differentiable:
            with (
                torch.enable_grad(),
                memory_guard(f"computing {what} for queries of shape {self.shape}", "predict fewer queries per call"),
            ):
                return fn(self._logits.full(), *per_query)
        with torch.no_grad():
            return self._reduce_chunks(what, fn, *per_query, dim=dim)

    def _reduce_chunks(
        self, what: str, fn: Callable[..., torch.Tensor], *per_query: torch.Tensor, dim: int = -1
    ) -> torch.Tensor:
        out: torch.Tensor | None = None
        m = self.shape[-1]
        with memory_guard(f"computing {what} for queries of shape {self.shape}", self._advice()):
            for sl, logits in self._logits.chunks():
                part = fn(logits, *(a[..., sl] for a in per_query))
                del logits  # before the next chunk is decoded
                if sl.stop - sl.start == m:  # one chunk: all of it
                    return part
                if out is None:  # the result is allocated once, before the chunks' temporaries come and go
                    shape = list(part.shape)
                    shape[dim] = m
                    out = part.new_empty(shape)
                out.narrow(dim, sl.start, sl.stop - sl.start).copy_(part)
                del part
        assert out is not None
        return out

    def _z(self, y: ArrayLike, name: str, allow_inf: bool = False) -> torch.Tensor:
        """``y`` in normalised units, float64, expanded to the queries' shape."""
        t = real_tensor(y, name)
        if t.ndim and tuple(t.shape) != self.shape:
            raise ValueError(f"{name} must be a scalar or have the queries' shape {self.shape}, got {tuple(t.shape)}")
        if torch.isnan(t).any() or (not allow_inf and torch.isinf(t).any()):
            raise ValueError(f"{name} contains NaN{'' if allow_inf else ' or inf'}")
        return ((self._wide64(t) - self.loc) / self.scale).expand(self.shape)

    def _y(self, z: torch.Tensor) -> torch.Tensor:
        return self.loc + self.scale * self._wide64(z)

    def _mean_variance_z(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the normalised target (one pass over the logits, then remembered)."""
        if self._moments is None:
            both = self._reduce("means and variances", lambda lg: torch.stack(self.bar.moments(lg), -1), dim=-2)
            both = self._wide64(both)
            self._moments = both[..., 0], both[..., 1]
        return self._moments

    # -- location and spread -----------------------------------------------------------------
    @property
    def mean(self) -> Array:
        """Predictive mean."""
        return self._out(self._y(self._mean_variance_z()[0]))

    @property
    def variance(self) -> Array:
        """Predictive variance."""
        return self._out(self._mean_variance_z()[1] * self.scale**2)

    @property
    def std(self) -> Array:
        """Predictive standard deviation."""
        return self._out(self._mean_variance_z()[1].sqrt() * self.scale)

    @property
    def median(self) -> Array:
        return self.quantile(0.5)

    @property
    def mode(self) -> Array:
        """Location of the highest predictive density."""
        return self._out(self._y(self._reduce("modes", self.bar.mode)))

    def quantile(self, q: float | Sequence[float]) -> Array:
        """Quantile(s) at level(s) ``q`` in (0, 1); a sequence of levels (possibly empty) adds a last axis."""
        levels = real_tensor(q, "q")
        if levels.ndim > 1:
            raise ValueError(f"quantile levels q must be a number or a 1-D sequence, got shape {tuple(levels.shape)}")
        if not ((levels > 0) & (levels < 1)).all():
            raise ValueError(f"quantile levels q must lie strictly between 0 and 1, got {q!r}")
        scalar, values = levels.ndim == 0, levels.reshape(-1).tolist()

        def z_quantiles(logits: torch.Tensor) -> torch.Tensor:
            if not values:
                return logits.new_empty(*logits.shape[:-1], 0)
            return torch.stack([self.bar.icdf(logits, lv) for lv in values], dim=-1)

        z = self._wide64(self._reduce("quantiles", z_quantiles, dim=-2))
        out = self.loc.unsqueeze(-1) + self.scale.unsqueeze(-1) * z
        return self._out(out[..., 0] if scalar else out)

    def interval(self, level: float = 0.9) -> tuple[Array, Array]:
        """Central interval holding ``level`` of the predictive mass: (lower, upper)."""
        lv = real_tensor(level, "level")
        if lv.ndim or not 0 < float(lv) < 1:
            raise ValueError(f"interval level must lie strictly between 0 and 1, got {level!r}")
        bounds = self.quantile([0.5 - float(lv) / 2, 0.5 + float(lv) / 2])
        return bounds[..., 0], bounds[..., 1]

    # -- densities -----------------------------------------------------------------------------
    def cdf(self, y: ArrayLike) -> Array:
        """P(Y <= y) at each query; y may be -inf (0) or +inf (1)."""
        z = self._z(y, "y", allow_inf=True)
        return self._out(self._reduce("the cdf", lambda lg, zc: self.bar.cdf(self._wide64(lg), zc), z))

    def log_prob(self, y: ArrayLike) -> Array:
        """Log predictive density of ``y`` at each query (in the units of y); -inf at y = +-inf."""
        z = self._z(y, "y", allow_inf=True)
        log_density = self._reduce("log densities", lambda lg, zc: self.bar.log_prob(self._wide64(lg), zc), z)
        return self._out(log_density - self.scale.log())

    def entropy(self) -> Array:
        """Differential entropy of each predictive (in the units of y)."""
        return self._out(self._wide64(self._reduce("entropies", self.bar.entropy)) + self.scale.log())

    def sample(self, n: int, generator: torch.Generator | None = None) -> Array:
        """``n`` draws from each predictive: shape (n, *queries)."""
        n = _positive_int(n, "n")
        if generator is not None and generator.device != self._wide:
            raise ValueError(f"generator is on {generator.device} but the predictions are on {self._wide}")
        draws = self._reduce("samples", lambda lg: self.bar.sample(self._wide64(lg), n, generator), dim=-1)
        return self._out(self._y(draws))

    # -- Bayesian optimisation -----------------------------------------------------------------
    def expected_improvement(self, best: ArrayLike, maximize: bool = True) -> Array:
        """E[max(Y - best, 0)] (maximize) or E[max(best - Y, 0)] (minimize), exact for the bar distribution.

        Both directions integrate only the improving side, so there is no cancellation: ``best`` far
        beyond the predictive gives 0, far short of it gives |mean - best|."""
        c = self._z(best, "best")  # finite best; |c| overflows only when |best - loc| / scale > 1.8e308
        far = c.abs() > _FAR

        def gain(logits: torch.Tensor, cc: torch.Tensor) -> torch.Tensor:
            logits, cc = self._wide64(logits), cc.clamp(-_FAR, _FAR)
            return self.bar.expected_excess(logits, cc) if maximize else self.bar.expected_shortfall(logits, cc)

        ei = self._reduce("expected improvements", gain, c).clamp_min(0) * self.scale
        if far.any():  # the threshold is beyond every bin: all or none of the mass improves on it
            mean = self._y(self._mean_variance_z()[0])
            sure = (c < 0) if maximize else (c > 0)
            best_y = self._wide64(real_tensor(best, "best")).expand(self.shape)
            limit = torch.where(sure, (mean - best_y).abs(), torch.zeros_like(mean))
            ei = torch.where(far, limit, ei)
        return self._out(ei)

    def log_expected_improvement(self, best: ArrayLike, maximize: bool = True) -> Array:
        """log of :meth:`expected_improvement`, computed in log space (a logsumexp over the bins' excesses,
        the tails' in closed log form): finite, with useful gradients, far beyond the predictive where
        the expected improvement itself underflows to 0 -- the acquisition to optimise in that regime."""
        c = self._z(best, "best").clamp(-_FAR, _FAR)

        def log_gain(logits: torch.Tensor, cc: torch.Tensor) -> torch.Tensor:
            logits = self._wide64(logits)
            return self.bar.log_expected_excess(logits, cc) if maximize else self.bar.log_expected_shortfall(logits, cc)

        return self._out(self._reduce("log expected improvements", log_gain, c) + self.scale.log())

    def probability_of_improvement(self, best: ArrayLike, maximize: bool = True) -> Array:
        """P(Y > best) (maximize) or P(Y < best) (minimize)."""
        below = self.cdf(best)
        return 1 - below if maximize else below

    def upper_confidence_bound(self, beta: float = 2.0, maximize: bool = True) -> Array:
        """mean + beta * std (maximize) or mean - beta * std, the optimistic bound for minimising."""
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0:
            raise ValueError(f"beta must be a non-negative number, got {beta!r}")
        mean_z, var_z = self._mean_variance_z()
        mean, std = self._y(mean_z), var_z.sqrt() * self.scale
        return self._out(mean + beta * std if maximize else mean - beta * std)


class ClassPredictive:
    """Posterior predictive over class labels at each query: ``probs`` has shape (*queries, num_classes)."""

    def __init__(self, logits: torch.Tensor, numpy: bool):
        self.logits = logits
        self._numpy = numpy

    def _out(self, t: torch.Tensor) -> Array:
        return t.detach().cpu().numpy() if self._numpy else t

    @property
    def num_classes(self) -> int:
        return self.logits.shape[-1]

    @property
    def probs(self) -> Array:
        """Class probabilities, summing to one over the last axis."""
        return self._out(torch.softmax(self.logits, dim=-1))

    @property
    def mode(self) -> Array:
        """The most probable class at each query."""
        return self._out(self.logits.argmax(-1))

    def log_prob(self, y: ArrayLike) -> Array:
        """Log probability of class labels ``y`` at each query."""
        t = real_tensor(y, "y").to(self.logits.device)
        if t.ndim and tuple(t.shape) != tuple(self.logits.shape[:-1]):
            raise ValueError(f"y must be a scalar or have the queries' shape {tuple(self.logits.shape[:-1])}")
        t = t.expand(self.logits.shape[:-1])
        if not torch.isfinite(t).all() or (t != t.round()).any() or (t < 0).any() or (t >= self.num_classes).any():
            raise ValueError(f"y must hold class labels 0 .. {self.num_classes - 1}")
        return self._out(torch.log_softmax(self.logits, -1).gather(-1, t.long().unsqueeze(-1)).squeeze(-1))

    def entropy(self) -> Array:
        """Entropy of each predictive, in nats."""
        log_p = torch.log_softmax(self.logits, -1)
        return self._out(-(log_p.exp() * log_p).sum(-1))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Array:
        """``n`` labels drawn from each predictive: shape (n, *queries)."""
        n = _positive_int(n, "n")
        p = torch.softmax(self.logits.double(), -1).reshape(-1, self.num_classes)
        draws = torch.multinomial(p, n, replacement=True, generator=generator).T
        return self._out(draws.reshape(n, *self.logits.shape[:-1]))


def _positive_int(n: Any, name: str) -> int:
    """``n`` as an int >= 1 (integral floats allowed), or ValueError naming the argument."""
    ok = isinstance(n, numbers.Integral | float | np.floating) and not isinstance(n, bool)
    if not ok or not math.isfinite(n) or int(n) != n or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)
