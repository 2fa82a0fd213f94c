"""Bar (Riemann) distribution: a proper density with finite tails and a consistent cdf/quantile,
for both tail shapes (half-normal and Pareto)."""

import math

import pytest
import torch

from pfn.model.bar_distribution import BarDistribution


@pytest.fixture(params=["half_normal", "pareto"])
def bar(request):
    y = torch.randn(50_000, generator=torch.Generator().manual_seed(0))
    return BarDistribution.from_samples(y, 64, request.param)


@pytest.fixture
def logits():
    return 2 * torch.randn(4, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def grid(bar, reach=1e7, per_bin=50, per_tail=200_000):
    """Midpoints and widths of a grid aligned with the bin borders: exact inside bins, and in the tails
    geometric out to ``reach`` past the inner borders (a Pareto tail keeps ~1e-20 of its mass beyond)."""
    out = torch.cat([torch.zeros(1, dtype=torch.float64), torch.logspace(-6, math.log10(reach), per_tail)])
    lo, hi = bar.borders[1].item(), bar.borders[-2].item()
    edges = [(lo - out).flip(0)]
    for a, b in zip(bar.borders[1:-2].tolist(), bar.borders[2:-1].tolist(), strict=True):
        edges.append(torch.linspace(a, b, per_bin + 1, dtype=torch.float64)[1:])
    edges.append((hi + out)[1:])
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


def test_excess_and_entropy_match_quadrature(bar, logits):
    y, dy = grid(bar)
    L = logits[:, None, :].expand(4, y.numel(), 64)
    log_dens = bar.log_prob(L, y.expand(4, -1))
    dens = log_dens.exp()
    entropy = -(dens * log_dens * dy).sum(-1)
    assert torch.allclose(bar.entropy(logits), entropy, atol=1e-4)
    for c in (-5.0, -1.0, 0.3, 2.0, 6.0):  # in both tails and the interior
        excess = (dens * (y - c).clamp_min(0) * dy).sum(-1)
        assert torch.allclose(bar.expected_excess(logits, c), excess, atol=1e-5), c


def test_samples_follow_the_cdf(bar, logits):
    draws = bar.sample(logits, 100_000, generator=torch.Generator().manual_seed(0))  # (n, 4)
    for t in (-3.0, -0.5, 0.5, 3.0):
        empirical = (draws <= t).double().mean(0)
        # 5 binomial standard errors: at most 5 * 0.5 / sqrt(1e5) = 0.008
        assert torch.allclose(empirical, bar.cdf(logits, torch.full((4,), t, dtype=torch.float64)), atol=0.008)


def test_pareto_tails_are_heavy():
    """A target a thousand outer widths out costs about 4 log(1000) nats more than one at the border
    under Pareto tails, and hundreds of thousands under half-normal ones."""
    y = torch.randn(50_000, generator=torch.Generator().manual_seed(0))
    light, heavy = (BarDistribution.from_samples(y, 64, tails) for tails in ("half_normal", "pareto"))
    logits = torch.zeros(64, dtype=torch.float64)
    far = heavy.borders[-2] + 1000 * heavy.widths[-1]
    drop_heavy = heavy.log_prob(logits, heavy.borders[-2].double()) - heavy.log_prob(logits, far.double())
    drop_light = light.log_prob(logits, light.borders[-2].double()) - light.log_prob(logits, far.double())
    assert 20 < drop_heavy.item() < 4 * math.log(1000) + 1
    assert drop_light.item() > 1e5
    with pytest.raises(ValueError, match="tails"):
        BarDistribution(heavy.borders, tails="cauchy")
