"""Bar (Riemann) distribution: a proper density with finite tails and a consistent cdf/quantile."""

import math

import pytest
import torch

from pfn.model.bar_distribution import BarDistribution


@pytest.fixture
def bar():
    return BarDistribution.from_samples(torch.randn(50_000, generator=torch.Generator().manual_seed(0)), 64)


@pytest.fixture
def logits():
    return 2 * torch.randn(4, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def grid(bar, lo=-40.0, hi=40.0, per_bin=50, per_tail=200_000):
    """Midpoints and widths of a grid aligned with the bin borders: exact inside bins, fine in the tails."""
    edges = [torch.linspace(lo, bar.borders[1].item(), per_tail + 1, dtype=torch.float64)]
    for a, b in zip(bar.borders[1:-2].tolist(), bar.borders[2:-1].tolist(), strict=True):
        edges.append(torch.linspace(a, b, per_bin + 1, dtype=torch.float64)[1:])
    edges.append(torch.linspace(bar.borders[-2].item(), hi, per_tail + 1, dtype=torch.float64)[1:])
    e = torch.cat(edges)
    return (e[1:] + e[:-1]) / 2, e.diff()


def test_density_integrates_to_one(bar, logits):
    y, dy = grid(bar)
    dens = bar.log_prob(logits[:, None, :].expand(4, y.numel(), 64), y.expand(4, -1)).exp()
    total = (dens * dy).sum(-1)
    assert torch.allclose(total, torch.ones(4, dtype=torch.float64), atol=1e-6), total


def test_mean_and_variance_match_quadrature(bar, logits):
    y, dy = grid(bar)
    dens = bar.log_prob(logits[:, None, :].expand(4, y.numel(), 64), y.expand(4, -1)).exp()
    m1 = (dens * y * dy).sum(-1)
    m2 = (dens * y * y * dy).sum(-1)
    assert torch.allclose(bar.mean(logits), m1, atol=1e-5)
    assert torch.allclose(bar.variance(logits), m2 - m1**2, atol=1e-4)


def test_log_prob_finite_far_outside_the_borders(bar, logits):
    for far in (1e3, 1e6, 1e15):
        lp = bar.log_prob(logits, torch.full((4,), far, dtype=torch.float64))
        ln = bar.log_prob(logits, torch.full((4,), -far, dtype=torch.float64))
        assert torch.isfinite(lp).all() and torch.isfinite(ln).all()
        assert (lp < -10).all() and (ln < -10).all()


def test_quantile_inverts_cdf(bar, logits):
    y = torch.linspace(-6, 6, 241, dtype=torch.float64)  # spans both tails and the interior
    L = logits[:, None, :].expand(4, y.numel(), 64)
    c = bar.cdf(L, y.expand(4, -1))
    assert (c.diff(dim=-1) >= -1e-12).all()  # monotone
    back = bar.icdf(L, c)
    ok = (c > 1e-9) & (c < 1 - 1e-9)
    assert torch.allclose(back[ok], y.expand(4, -1)[ok], atol=1e-6)


def test_cdf_is_the_integral_of_the_density(bar, logits):
    y, dy = grid(bar)
    dens = bar.log_prob(logits[:1, None, :].expand(1, y.numel(), 64), y[None]).exp()[0]
    for t in (-3.0, -0.2, 1.3, 3.5):
        below = y < t
        integral = (dens * dy)[below].sum() + dens[~below][0] * (t - (y[~below][0] - dy[~below][0] / 2))
        assert math.isclose(integral.item(), bar.cdf(logits[:1], torch.tensor([t])).item(), abs_tol=1e-5)


def test_uniform_logits_reproduce_the_fitted_samples(bar):
    """Borders are quantiles of the samples, so equal bin masses give back their distribution."""
    logits = torch.zeros(64, dtype=torch.float64)
    for q in (0.1, 0.5, 0.9):
        assert abs(bar.icdf(logits, q).item() - torch.distributions.Normal(0, 1).icdf(torch.tensor(q)).item()) < 0.03


def test_invalid_borders_are_refused():
    with pytest.raises(ValueError, match="increasing"):
        BarDistribution(torch.tensor([0.0, 1.0, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="distinct"):
        BarDistribution.from_samples(torch.zeros(1000), 10)
