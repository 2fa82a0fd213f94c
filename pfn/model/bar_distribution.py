"""Riemann ("bar") distribution: a histogram over fixed bins with half-normal tails.

The model outputs one logit per bin. Interior bins carry uniform density; the
outermost two bins are replaced by half-normal tails that extend to -inf and
+inf, so the density is positive and the log density finite for every real y.
The tail scale is chosen so the tail's median sits at the outer border, i.e.
the tail has about the spread the outer bin had.

All methods take ``logits`` of shape (..., K) and broadcast over the leading dims.
"""

from __future__ import annotations

import math

import torch
from torch import nn

_HALF_NORMAL_MEDIAN = 0.6744897501960817  # Phi^{-1}(0.75): median of |N(0, 1)|


class BarDistribution(nn.Module):
    """Distribution over real targets given per-bin logits.

    Args:
        borders: K + 1 strictly increasing bin borders.
    """

    def __init__(self, borders: torch.Tensor):
        super().__init__()
        borders = torch.as_tensor(borders, dtype=torch.float32).flatten()
        if borders.numel() < 4:
            raise ValueError(f"borders must hold at least 4 values (3 bins), got {borders.numel()}")
        if not torch.isfinite(borders).all() or not (borders.diff() > 0).all():
            raise ValueError("borders must be finite and strictly increasing")
        self.register_buffer("borders", borders)

    @classmethod
    def from_samples(cls, y: torch.Tensor, num_bins: int) -> BarDistribution:
        """Borders at equally spaced quantiles of samples ``y`` (e.g. many prior targets).

        Each bin holds 1/K of the samples. The outer borders sit at the 0.5/K and 1 - 0.5/K
        quantiles rather than at the extreme samples, so each half-normal tail has its median
        where the samples beyond the inner border have theirs: the tails match the data's.
        """
        y = y.flatten().double()
        y = y[torch.randperm(y.numel(), generator=torch.Generator().manual_seed(0))[: 2**24]]
        levels = torch.linspace(0, 1, num_bins + 1, dtype=torch.float64)
        levels[0], levels[-1] = 0.5 / num_bins, 1 - 0.5 / num_bins
        borders = torch.quantile(y, levels)
        if not (borders.diff() > 0).all():
            raise ValueError(f"prior targets have too few distinct values for {num_bins} bins; use fewer bins")
        return cls(borders.float())

    # -- geometry -------------------------------------------------------------------------
    @property
    def num_bins(self) -> int:
        return self.borders.numel() - 1

    @property
    def widths(self) -> torch.Tensor:
        return self.borders.diff()

    @property
    def tail_scales(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Half-normal scales of the left and right tails."""
        w = self.widths
        return w[0] / _HALF_NORMAL_MEDIAN, w[-1] / _HALF_NORMAL_MEDIAN

    def bin_index(self, y: torch.Tensor) -> torch.Tensor:
        """Index of the bin holding each y; the tails own everything beyond the inner borders."""
        inner = self.borders[1:-1].contiguous()
        return torch.searchsorted(inner, y.contiguous(), right=True)

    # -- density ---------------------------------------------------------------------------
    def log_prob(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Log density of targets ``y`` (...,) under the distributions ``logits`` (..., K)."""
        b = self.borders
        y = y.to(logits.dtype)
        log_p = torch.log_softmax(logits, dim=-1)
        idx = self.bin_index(y)
        log_mass = log_p.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        log_density = log_mass - self.widths.log()[idx]  # uniform inside a bin
        s_left, s_right = self.tail_scales
        left = y < b[1]
        right = y >= b[-2]
        t = torch.where(left, b[1] - y, y - b[-2]).clamp_min(0)
        s = torch.where(left, s_left, s_right)
        tail = log_mass + 0.5 * math.log(2 / math.pi) - s.log() - 0.5 * (t / s) ** 2
        return torch.where(left | right, tail, log_density)

    def nll(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Negative log density, the training loss."""
        return -self.log_prob(logits, y)

    def cdf(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """P(Y <= y)."""
        b = self.borders
        y = y.to(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        cum = torch.cumsum(p, dim=-1) - p  # mass strictly below each bin
        idx = self.bin_index(y)
        below = cum.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        mass = p.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        frac = ((y - b[idx]) / self.widths[idx]).clamp(0, 1)
        s_left, s_right = self.tail_scales
        left_tail = mass * torch.erfc((b[1] - y).clamp_min(0) / (s_left * math.sqrt(2)))
        right_tail = mass * torch.erf((y - b[-2]).clamp_min(0) / (s_right * math.sqrt(2)))
        out = below + mass * frac
        out = torch.where(y < b[1], left_tail, out)
        return torch.where(y >= b[-2], below + right_tail, out)

    def icdf(self, logits: torch.Tensor, q: torch.Tensor | float) -> torch.Tensor:
        """Quantile function: the y with cdf(y) = q, for q in (0, 1)."""
        b = self.borders
        p = torch.softmax(logits, dim=-1)
        q = torch.as_tensor(q, dtype=p.dtype, device=p.device).expand(p.shape[:-1])
        cum = torch.cumsum(p, dim=-1)
        idx = torch.searchsorted(cum, q.unsqueeze(-1).contiguous()).squeeze(-1).clamp_max(self.num_bins - 1)
        mass = p.gather(-1, idx.unsqueeze(-1)).squeeze(-1).clamp_min(1e-30)
        below = cum.gather(-1, idx.unsqueeze(-1)).squeeze(-1) - mass
        frac = ((q - below) / mass).clamp(0, 1)
        inside = b[idx] + frac * self.widths[idx]
        s_left, s_right = self.tail_scales
        # left tail: q = mass * erfc(t / (s sqrt 2));  right tail: q - below = mass * erf(t / (s sqrt 2))
        eps = torch.finfo(p.dtype).eps
        t_left = s_left * math.sqrt(2) * torch.erfinv((1 - frac).clamp(eps, 1 - eps))
        t_right = s_right * math.sqrt(2) * torch.erfinv(frac.clamp(0, 1 - eps))
        out = torch.where(idx == 0, b[1] - t_left, inside)
        return torch.where(idx == self.num_bins - 1, b[-2] + t_right, out)

    # -- moments ---------------------------------------------------------------------------
    def _bin_moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """First and second moments of y within each bin, (K,) each."""
        b, w = self.borders, self.widths
        centers = (b[:-1] + b[1:]) / 2
        m1, m2 = centers.clone(), centers**2 + w**2 / 12
        s_left, s_right = self.tail_scales
        ht = math.sqrt(2 / math.pi)  # E|Z|
        m1[0], m1[-1] = b[1] - s_left * ht, b[-2] + s_right * ht
        m2[0] = b[1] ** 2 - 2 * b[1] * s_left * ht + s_left**2
        m2[-1] = b[-2] ** 2 + 2 * b[-2] * s_right * ht + s_right**2
        return m1, m2

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        m1, _ = self._bin_moments()
        return torch.softmax(logits, dim=-1) @ m1.to(logits.dtype)

    def variance(self, logits: torch.Tensor) -> torch.Tensor:
        m1, m2 = self._bin_moments()
        p = torch.softmax(logits, dim=-1)
        mean = p @ m1.to(p.dtype)
        return (p @ m2.to(p.dtype) - mean**2).clamp_min(0)

    # -- decision-making summaries ------------------------------------------------------------
    def mode(self, logits: torch.Tensor) -> torch.Tensor:
        """Location of the highest density: a bin's centre, or the inner border of a tail."""
        b = self.borders
        log_density = torch.log_softmax(logits, dim=-1) - self.widths.log().to(logits.dtype)
        s_left, s_right = self.tail_scales
        # a tail's density peaks at its inner border: mass * sqrt(2 / pi) / s
        peak = 0.5 * math.log(2 / math.pi)
        log_density[..., 0] = torch.log_softmax(logits, dim=-1)[..., 0] + peak - s_left.log()
        log_density[..., -1] = torch.log_softmax(logits, dim=-1)[..., -1] + peak - s_right.log()
        locations = (b[:-1] + b[1:]) / 2
        locations = torch.cat([b[1:2], locations[1:-1], b[-2:-1]])
        return locations.to(logits.dtype)[log_density.argmax(-1)]

    def entropy(self, logits: torch.Tensor) -> torch.Tensor:
        """Differential entropy: uniform bins give -p log(p / w); a tail of mass p and scale s gives
        -p log p + p (log(s sqrt(pi / 2)) + 1 / 2), the entropy of a half-normal."""
        log_p = torch.log_softmax(logits, dim=-1)
        p = log_p.exp()
        inner = -(p * (log_p - self.widths.log().to(p.dtype)))
        s_left, s_right = self.tail_scales
        half_normal = [torch.log(s * math.sqrt(math.pi / 2)) + 0.5 for s in (s_left, s_right)]
        inner[..., 0] = -p[..., 0] * log_p[..., 0] + p[..., 0] * half_normal[0]
        inner[..., -1] = -p[..., -1] * log_p[..., -1] + p[..., -1] * half_normal[1]
        return inner.sum(-1)

    def sample(self, logits: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws per distribution, shape (n, ...): a bin by its mass, then a point within it."""
        b = self.borders
        p = torch.softmax(logits.double(), dim=-1).reshape(-1, self.num_bins)
        idx = torch.multinomial(p, n, replacement=True, generator=generator).T  # (n, M)
        u = torch.rand(idx.shape, generator=generator, device=p.device, dtype=torch.float64)
        inside = b.double()[idx] + u * self.widths.double()[idx]
        s_left, s_right = self.tail_scales
        # half-normal magnitudes via the inverse cdf of u
        t = math.sqrt(2) * torch.erfinv(u.clamp(max=1 - 1e-16))
        out = torch.where(idx == 0, b[1].double() - s_left.double() * t, inside)
        out = torch.where(idx == self.num_bins - 1, b[-2].double() + s_right.double() * t, out)
        return out.to(logits.dtype).reshape(n, *logits.shape[:-1])

    def expected_excess(self, logits: torch.Tensor, c: torch.Tensor | float) -> torch.Tensor:
        """E[max(Y - c, 0)], exactly: per bin, the integral of (y - c) times the density above c."""
        b, w = self.borders.to(logits.dtype), self.widths.to(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        c = torch.as_tensor(c, dtype=p.dtype, device=p.device).expand(p.shape[:-1]).unsqueeze(-1)  # (..., 1)
        lo, hi = b[:-1], b[1:]
        start = torch.maximum(lo, c)
        uniform = torch.where(hi > c, p / w * ((hi - c) ** 2 - (start - c) ** 2) / 2, torch.zeros_like(p))
        s_left, s_right = (s.to(p.dtype) for s in self.tail_scales)
        sq2, sq2pi = math.sqrt(2), math.sqrt(2 / math.pi)
        c0 = c.squeeze(-1)
        # right tail: Y = b[-2] + s|Z|
        t0 = (c0 - b[-2]).clamp_min(0)
        right = p[..., -1] * (
            s_right * sq2pi * torch.exp(-0.5 * (t0 / s_right) ** 2) + (b[-2] - c0) * torch.erfc(t0 / (s_right * sq2))
        )
        # left tail: Y = b[1] - s|Z|, contributes where Y > c, i.e. |Z| < (b[1] - c) / s
        top = (b[1] - c0).clamp_min(0)
        left = p[..., 0] * (
            (b[1] - c0) * torch.erf(top / (s_left * sq2)) - s_left * sq2pi * (1 - torch.exp(-0.5 * (top / s_left) ** 2))
        )
        return uniform[..., 1:-1].sum(-1) + left + right
