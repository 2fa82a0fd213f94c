"""Riemann ("bar") distribution: a histogram over fixed bins with unbounded tails.

The model outputs one logit per bin. Interior bins carry uniform density; the
outermost two bins are replaced by tails (``pfn.model.tails``) that extend to -inf
and +inf, so the density is positive and the log density finite for every real y.
Each tail's median sits at the outer border, i.e. the tail has about the spread the
outer bin had. Tails are half-normal (light) or Pareto (heavy, for standardised targets).
A model may carry tails fitted per context size (``pfn.model.tail_scales``): ``at_context(n)`` is
the distribution with the tails for n context points.

All methods take ``logits`` of shape (..., K) and broadcast over the leading dims.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pfn.model.tail_scales import TailScales
from pfn.model.tails import TAILS, HalfNormalTail, ParetoTail

Tail = HalfNormalTail | ParetoTail


class BarDistribution(nn.Module):
    """Distribution over real targets given per-bin logits.

    Args:
        borders: K + 1 strictly increasing bin borders.
        tails: "half_normal" or "pareto", the shape of both tails.
        tail_scales: the tails' widening per context size (:meth:`at_context`); None: the default tails
            at every size.
    """

    borders: torch.Tensor  # a buffer: registered in __init__, so it moves with .to() and is saved
    #: this distribution's (left, right) factors on the tails' default scales
    tail_factors: tuple[float, float] = (1.0, 1.0)

    def __init__(self, borders: torch.Tensor, tails: str = "half_normal", tail_scales: TailScales | None = None):
        super().__init__()
        borders = torch.as_tensor(borders, dtype=torch.float32).flatten()
        if borders.numel() < 4:
            raise ValueError(f"borders must hold at least 4 values (3 bins), got {borders.numel()}")
        if not torch.isfinite(borders).all() or not (borders.diff() > 0).all():
            raise ValueError("borders must be finite and strictly increasing")
        if tails not in TAILS:
            raise ValueError(f"tails must be one of {sorted(TAILS)}, got {tails!r}")
        self.tails = tails
        self.tail_scales = tail_scales
        self.register_buffer("borders", borders)
        self._terms: dict[tuple, torch.Tensor] = {}  # per-bin log gains of recent thresholds

    def at_context(self, num_context: int) -> BarDistribution:
        """The distribution for a context of ``num_context`` points: the same bins, with the tails that
        ``tail_scales`` fitted for that size (this distribution itself where there are none). Remembered
        per factors and borders, so each keeps its cached moments and acquisition terms."""
        if self.tail_scales is None:
            return self
        factors = self.tail_scales.factors(num_context)
        if factors == self.tail_factors:
            return self
        key = (factors, self.borders.device, self.borders.data_ptr(), self.borders._version)
        children = self.__dict__.setdefault("_at_context", {})
        child = children.get(key)
        if child is None:
            if len(children) >= 16:  # stale entries (borders moved or changed)
                children.clear()
            child = children[key] = BarDistribution(self.borders, self.tails)
            child.tail_factors = factors
        return child

    @classmethod
    def from_samples(
        cls, y: torch.Tensor, num_bins: int, tails: str = "half_normal", uniform_share: float = 0.0
    ) -> BarDistribution:
        """Borders at equally spaced quantiles of samples ``y`` (e.g. many prior targets).

        Each bin holds 1/K of the samples. The outer borders sit at the 0.5/K and 1 - 0.5/K
        quantiles rather than at the extreme samples, so each tail has its median where the
        samples beyond the inner border have theirs: the tails match the data's.

        With ``uniform_share`` s > 0 the borders are quantiles of a mixture instead: the samples with
        weight 1 - s and a uniform distribution over their range (smallest to largest) with weight s.
        About s K bins then spread evenly over the whole range, so that rare targets far out (a whole
        dataset of them, in prior units) fall in bins rather than in a tail whose shape is fixed.
        """
        if not 0.0 <= uniform_share < 1.0:
            raise ValueError(f"uniform_share must be in [0, 1), got {uniform_share!r}")
        y = y.flatten().double()
        keep = int(2**24 * (1 - uniform_share))  # torch.quantile takes at most 2**24 values, the grid included
        y = y[torch.randperm(y.numel(), generator=torch.Generator().manual_seed(0))[:keep]]
        if uniform_share > 0:  # the uniform part as an even grid over the samples' range, weighted by its count
            grid = int(uniform_share / (1 - uniform_share) * y.numel())
            y = torch.cat([y, torch.linspace(float(y.min()), float(y.max()), grid, dtype=torch.float64)])
        levels = torch.linspace(0, 1, num_bins + 1, dtype=torch.float64)
        levels[0], levels[-1] = 0.5 / num_bins, 1 - 0.5 / num_bins
        borders = torch.quantile(y, levels)
        if not (borders.diff() > 0).all():
            raise ValueError(f"prior targets have too few distinct values for {num_bins} bins; use fewer bins")
        return cls(borders.float(), tails)

    # -- geometry -------------------------------------------------------------------------
    @property
    def num_bins(self) -> int:
        return self.borders.numel() - 1

    @property
    def widths(self) -> torch.Tensor:
        return self.borders.diff()

    def _geometry(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Borders and widths in ``dtype``, the widths differenced in that dtype (in float32 they are
        exactly ``widths``; in float64 each bin's width is exactly its borders' difference)."""
        b = self.borders.to(dtype)
        return b, b.diff()

    def _tails(self, dtype: torch.dtype | None = None) -> tuple[Tail, Tail]:
        """The left and right tail distributions (of the distance past b[1] and b[-2])."""
        w = self.widths if dtype is None else self._geometry(dtype)[1]
        left, right = self.tail_factors
        return TAILS[self.tails](w[0] * left), TAILS[self.tails](w[-1] * right)

    def bin_index(self, y: torch.Tensor) -> torch.Tensor:
        """Index of the bin holding each y; the tails own everything beyond the inner borders."""
        inner = self.borders[1:-1].contiguous()
        return torch.searchsorted(inner, y.contiguous(), right=True)

    # -- density ---------------------------------------------------------------------------
    def log_prob(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Log density of targets ``y`` (...,) under the distributions ``logits`` (..., K)."""
        b, w = self._geometry(logits.dtype)
        y = y.to(logits.dtype)
        log_p = torch.log_softmax(logits, dim=-1)
        idx = self.bin_index(y)
        log_mass = log_p.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        log_density = log_mass - w.log()[idx]  # uniform inside a bin
        left_tail, right_tail = self._tails(logits.dtype)
        left, right = y < b[1], y >= b[-2]
        tail = torch.where(
            left, left_tail.log_density((b[1] - y).clamp_min(0)), right_tail.log_density((y - b[-2]).clamp_min(0))
        )
        return torch.where(left | right, log_mass + tail, log_density)

    def nll(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Negative log density, the training loss."""
        return -self.log_prob(logits, y)

    def cdf(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """P(Y <= y); y may be -inf (0) or +inf (1)."""
        b, w = self._geometry(logits.dtype)
        y = y.to(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        cum = torch.cumsum(p, dim=-1) - p  # mass strictly below each bin
        idx = self.bin_index(y)
        below = cum.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        mass = p.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        frac = ((y - b[idx]) / w[idx]).clamp(0, 1)
        left_tail, right_tail = self._tails(logits.dtype)
        out = below + mass * frac
        out = torch.where(y < b[1], mass * (1 - left_tail.cdf((b[1] - y).clamp_min(0))), out)
        out = torch.where(y >= b[-2], below + mass * right_tail.cdf((y - b[-2]).clamp_min(0)), out)
        return torch.where(y == torch.inf, 1.0, out).clamp(0, 1)  # the cumulative sum may round past 1

    def icdf(self, logits: torch.Tensor, q: torch.Tensor | float) -> torch.Tensor:
        """Quantile function: the y with cdf(y) = q, for q in (0, 1) (a number, or one level per distribution)."""
        q = torch.as_tensor(q, dtype=logits.dtype, device=logits.device).expand(logits.shape[:-1])
        return self.quantiles(logits, q.unsqueeze(-1)).squeeze(-1)

    def quantiles(self, logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        """Quantiles (..., s) of each distribution (..., K) at its own ``levels`` (..., s) in (0, 1): one
        softmax per distribution however many levels; differentiable in the logits (through the mass
        below each level's bin and in it), so inverse-cdf draws are reparameterised samples."""
        b, w = self._geometry(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        cum = torch.cumsum(p, dim=-1)
        levels = levels.to(p.dtype).contiguous()
        idx = torch.searchsorted(cum, levels).clamp_max(self.num_bins - 1)  # the bin of each level
        mass = p.gather(-1, idx).clamp_min(1e-30)
        below = cum.gather(-1, idx) - mass
        frac = ((levels - below) / mass).clamp(0, 1)
        inside = b[idx] + frac * w[idx]
        left_tail, right_tail = self._tails(logits.dtype)
        # the left tail's cdf runs outward from b[1]: q / mass = 1 - F(t), so t = F^{-1}(1 - frac)
        eps = torch.finfo(p.dtype).eps
        out = torch.where(idx == 0, b[1] - left_tail.icdf((1 - frac).clamp(0, 1 - eps)), inside)
        return torch.where(idx == self.num_bins - 1, b[-2] + right_tail.icdf(frac.clamp(0, 1 - eps)), out)

    # -- moments ---------------------------------------------------------------------------
    def _bin_moments(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """First and second moments of y within each bin, (K,) each; remembered per dtype and device
        (they cost more than the mean of a few queries), recomputed when the borders change."""
        b = self.borders
        key = (dtype, b.device, b.data_ptr(), b._version, self.tails, self.tail_factors)
        cache = self.__dict__.setdefault("_moments_cache", {})
        if key not in cache:
            if len(cache) >= 8:  # stale entries (borders changed, or moved between devices)
                cache.clear()
            with torch.inference_mode(False), torch.no_grad():  # plain tensors, usable anywhere
                cache[key] = self._compute_bin_moments(dtype)
        return cache[key]

    def _compute_bin_moments(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        b, w = self._geometry(dtype)
        centers = (b[:-1] + b[1:]) / 2
        m1, m2 = centers.clone(), centers**2 + w**2 / 12
        left_tail, right_tail = self._tails(dtype)
        m1[0], m1[-1] = b[1] - left_tail.mean(), b[-2] + right_tail.mean()
        m2[0] = b[1] ** 2 - 2 * b[1] * left_tail.mean() + left_tail.second_moment()
        m2[-1] = b[-2] ** 2 + 2 * b[-2] * right_tail.mean() + right_tail.second_moment()
        return m1, m2

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        m1, _ = self._bin_moments(logits.dtype)
        return torch.softmax(logits, dim=-1) @ m1

    def variance(self, logits: torch.Tensor) -> torch.Tensor:
        return self.moments(logits)[1]

    def moments(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance together (one softmax)."""
        m1, m2 = self._bin_moments(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        mean = p @ m1
        return mean, (p @ m2 - mean**2).clamp_min(0)

    # -- decision-making summaries ------------------------------------------------------------
    def mode(self, logits: torch.Tensor) -> torch.Tensor:
        """Location of the highest density: a bin's centre, or the inner border of a tail (the first, on ties)."""
        b, w = self._geometry(logits.dtype)
        log_p = torch.log_softmax(logits, dim=-1)
        log_density = log_p - w.log()
        left_tail, right_tail = self._tails(logits.dtype)
        zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
        # both tail densities peak at their inner border (t = 0)
        log_density[..., 0] = log_p[..., 0] + left_tail.log_density(zero)
        log_density[..., -1] = log_p[..., -1] + right_tail.log_density(zero)
        locations = (b[:-1] + b[1:]) / 2
        locations = torch.cat([b[1:2], locations[1:-1], b[-2:-1]])
        # the first of the highest: densities equal up to rounding (bins of equal density) count as tied
        top = log_density.amax(-1, keepdim=True)
        tolerance = 16 * torch.finfo(torch.float32).eps * top.abs().clamp_min(1)  # logits come from float32
        return locations.to(logits.dtype)[(log_density >= top - tolerance).int().argmax(-1)]

    def entropy(self, logits: torch.Tensor) -> torch.Tensor:
        """Differential entropy: a part of mass p with density p f contributes -p log p + p H(f);
        uniform bins have H = log w."""
        log_p = torch.log_softmax(logits, dim=-1)
        p = log_p.exp()
        inner = -(p * (log_p - self._geometry(p.dtype)[1].log()))
        left_tail, right_tail = self._tails(p.dtype)
        inner[..., 0] = -p[..., 0] * log_p[..., 0] + p[..., 0] * left_tail.entropy()
        inner[..., -1] = -p[..., -1] * log_p[..., -1] + p[..., -1] * right_tail.entropy()
        return inner.sum(-1)

    def sample(self, logits: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws per distribution, shape (n, ...): a bin by its mass, then a point within it."""
        b, w = self._geometry(torch.float64)
        p = torch.softmax(logits.double(), dim=-1).reshape(-1, self.num_bins)
        idx = torch.multinomial(p, n, replacement=True, generator=generator).T  # (n, M)
        u = torch.rand(idx.shape, generator=generator, device=p.device, dtype=torch.float64)
        inside = b[idx] + u * w[idx]
        left_tail, right_tail = self._tails(torch.float64)
        u = u.clamp(max=1 - 1e-16)
        out = torch.where(idx == 0, b[1] - left_tail.icdf(u), inside)
        out = torch.where(idx == self.num_bins - 1, b[-2] + right_tail.icdf(u), out)
        return out.to(logits.dtype).reshape(n, *logits.shape[:-1])

    def expected_excess(self, logits: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
        """E[max(Y - c, 0)], exactly: per bin, the integral of (y - c) times the density above c.

        Only the part above c is integrated, in factored form, so c far below or above the
        distribution (|c| up to about 1e300 in float64) neither cancels nor overflows."""
        b, w = self._geometry(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        c = torch.as_tensor(c, dtype=p.dtype, device=p.device).expand(p.shape[:-1]).unsqueeze(-1)  # (..., 1)
        lo, hi = b[:-1], b[1:]
        start = torch.minimum(torch.maximum(lo, c), hi)  # the part [start, hi] of each bin lies above c
        uniform = p / w * (hi - start) * ((hi + start) / 2 - c)
        left_tail, right_tail = self._tails(p.dtype)
        c = c.squeeze(-1)
        # right tail, Y = b[-2] + T: E[(T - a)+] with a = c - b[-2]; for a < 0 that is E[T] - a
        a = c - b[-2]
        right = torch.where(a > 0, right_tail.excess(a.clamp_min(0)), right_tail.mean() - a)
        # left tail, Y = b[1] - T: E[(k - T)+] with k = b[1] - c, which is k - E[T] + E[(T - k)+] for k > 0
        k = b[1] - c
        left = torch.where(k > 0, k - left_tail.mean() + left_tail.excess(k.clamp_min(0)), torch.zeros_like(k))
        return uniform[..., 1:-1].sum(-1) + p[..., 0] * left + p[..., -1] * right

    def expected_shortfall(self, logits: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
        """E[max(c - Y, 0)], exactly: the mirror image of :meth:`expected_excess`, integrating below c only."""
        b, w = self._geometry(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        c = torch.as_tensor(c, dtype=p.dtype, device=p.device).expand(p.shape[:-1]).unsqueeze(-1)  # (..., 1)
        lo, hi = b[:-1], b[1:]
        end = torch.maximum(torch.minimum(hi, c), lo)  # the part [lo, end] of each bin lies below c
        uniform = p / w * (end - lo) * (c - (lo + end) / 2)
        left_tail, right_tail = self._tails(p.dtype)
        c = c.squeeze(-1)
        # left tail, Y = b[1] - T: E[(T - a)+] with a = b[1] - c; for a < 0 that is E[T] - a
        a = b[1] - c
        left = torch.where(a > 0, left_tail.excess(a.clamp_min(0)), left_tail.mean() - a)
        # right tail, Y = b[-2] + T: E[(k - T)+] with k = c - b[-2], which is k - E[T] + E[(T - k)+] for k > 0
        k = c - b[-2]
        right = torch.where(k > 0, k - right_tail.mean() + right_tail.excess(k.clamp_min(0)), torch.zeros_like(k))
        return uniform[..., 1:-1].sum(-1) + p[..., 0] * left + p[..., -1] * right

    def log_expected_excess(self, logits: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
        """log E[max(Y - c, 0)], exactly and in log space: a logsumexp over bins of log p_k plus the log
        of each bin's excess, so it stays finite (with useful gradients) where the excess underflows."""
        return _log_mean_exp(logits, self._log_gain_terms(_threshold(c, logits), mirrored=False))

    def log_expected_shortfall(self, logits: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
        """log E[max(c - Y, 0)]: :meth:`log_expected_excess` of -Y over -c (bins and tails mirrored)."""
        return _log_mean_exp(logits, self._log_gain_terms(_threshold(c, logits), mirrored=True))

    def _log_gain_terms(self, c: torch.Tensor, mirrored: bool) -> torch.Tensor:
        """Each bin's log excess over ``c`` (..., K), or with ``mirrored`` its log shortfall below ``c``.
        For one constant threshold the terms are remembered: an acquisition search asks for the same
        incumbent many times."""
        key = None
        if c.numel() == 1 and not c.requires_grad:
            # the borders' storage and version too: load_state_dict or an in-place edit gives other terms
            borders = (self.borders.data_ptr(), self.borders._version)
            key = (mirrored, c.dtype, c.device, torch.is_inference_mode_enabled(), float(c), borders)
            remembered = self._terms.get(key)  # one lookup: another thread may clear the dict in between
            if remembered is not None:
                return remembered
        b = self._geometry(c.dtype)[0]
        left_tail, right_tail = self._tails(c.dtype)
        if mirrored:
            terms = _log_excess_terms(-b.flip(0), right_tail, left_tail, -c).flip(-1)
        else:
            terms = _log_excess_terms(b, left_tail, right_tail, c)
        if key is not None:
            if len(self._terms) >= 16:
                self._terms.clear()
            self._terms[key] = terms
        return terms


def _threshold(c: torch.Tensor | float, logits: torch.Tensor) -> torch.Tensor:
    """``c`` with the queries' shape (..., m); a single value (1,) when it is one constant for all queries
    (one dataset's incumbent), so that each bin's term is computed once."""
    c = torch.as_tensor(c, dtype=logits.dtype, device=logits.device).expand(logits.shape[:-1])
    if c.numel() > 1 and not c.requires_grad and bool((c == c.reshape(-1)[0]).all()):
        return c.reshape(-1)[:1]
    return c


def _log_excess_terms(b: torch.Tensor, left_tail: Tail, right_tail: Tail, c: torch.Tensor) -> torch.Tensor:
    """log E[max(Y - c, 0) | Y in bin k] (..., K) for borders ``b`` with the given tails; -inf where the
    bin lies wholly below c."""
    tiny = torch.finfo(b.dtype).tiny
    neg_inf = torch.tensor(-math.inf, dtype=b.dtype, device=b.device)
    cc = c.unsqueeze(-1)
    lo, hi = b[1:-2], b[2:-1]
    w = hi - lo
    # interior bin [lo, hi], uniform: (mid - c) if c <= lo, (hi - c)^2 / (2 w) if c inside, else nothing
    below = torch.log(((lo + hi) / 2 - cc).clamp_min(tiny))
    inside = 2 * torch.log((hi - cc).clamp_min(tiny)) - torch.log(2 * w)
    uniform = torch.where(cc <= lo, below, torch.where(cc < hi, inside, neg_inf))
    # right tail, Y = b[-2] + T: E[(T - a)+] with a = c - b[-2]; for a <= 0 that is E[T] - a
    a = c - b[-2]
    right = torch.where(
        a > 0, right_tail.log_excess(a.clamp_min(0)), torch.log((right_tail.mean() - a).clamp_min(tiny))
    )
    # left tail, Y = b[1] - T: E[(k - T)+] with k = b[1] - c, which is k - E[T] + E[(T - k)+] for k > 0
    k = (b[1] - c).clamp_min(0)
    left_value = k - left_tail.mean() + left_tail.excess(k)
    left = torch.where((k > 0) & (left_value > 0), torch.log(left_value.clamp_min(tiny)), neg_inf)
    return torch.cat([left.unsqueeze(-1), uniform, right.unsqueeze(-1)], dim=-1)


def _log_mean_exp(logits: torch.Tensor, terms: torch.Tensor) -> torch.Tensor:
    """log sum_k softmax(logits)_k exp(terms_k) over the last axis, as logsumexp(logits + terms) -
    logsumexp(logits). When one row of terms serves every query, only the bins where it is finite are
    read (above an incumbent there are few), so the cost is one logsumexp over the logits."""
    if terms.shape[:-1].numel() == 1:
        t = terms.reshape(-1)
        active = (t > -math.inf).nonzero().squeeze(-1)  # bins wholly on the wrong side add exp(-inf) = 0
        weighted = torch.logsumexp(logits.index_select(-1, active) + t[active], dim=-1)
    else:
        weighted = torch.logsumexp(logits + terms, dim=-1)
    return weighted - torch.logsumexp(logits, dim=-1)
