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


@pytest.mark.parametrize("tails", ["half_normal", "pareto"])
def test_each_tail_has_its_median_at_the_outer_border(tails):
    """By design each tail has the spread of the outer bin it replaces: half its mass lies within one
    outer-bin width of the inner border, so the cdf at the outer borders is p_0 / 2 and 1 - p_K / 2."""
    borders = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0, 6.0])  # outer widths 2 and 4, unequal on purpose
    bar = BarDistribution(borders, tails)
    p = torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15], dtype=torch.float64)
    at = bar.cdf(p.log().expand(2, 5), torch.tensor([-3.0, 6.0], dtype=torch.float64))
    torch.testing.assert_close(at, torch.tensor([0.05, 1 - 0.075], dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("tails", ["half_normal", "pareto"])
def test_tail_densities_match_the_textbook_distributions(tails):
    """The right tail is p_K times a half-normal (sigma = w / Phi^-1(0.75)) or Lomax (shape 3,
    scale w / (2^(1/3) - 1)) density of the distance past b[-2]; the left tail mirrors it (scipy.stats)."""
    from scipy import stats

    borders = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0, 6.0])
    bar = BarDistribution(borders, tails)
    p = torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15], dtype=torch.float64)

    def tail(width):
        if tails == "half_normal":
            return stats.halfnorm(scale=width / stats.norm.ppf(0.75))
        return stats.lomax(3, scale=width / (2 ** (1 / 3) - 1))

    t = torch.tensor([0.01, 0.7, 3.0, 25.0, 400.0], dtype=torch.float64)
    right = bar.log_prob(p.log().expand(5, 5), 2.0 + t)
    left = bar.log_prob(p.log().expand(5, 5), -1.0 - t)
    torch.testing.assert_close(
        right, torch.from_numpy(math.log(0.15) + tail(4.0).logpdf(t.numpy())), rtol=1e-10, atol=0
    )
    torch.testing.assert_close(left, torch.from_numpy(math.log(0.1) + tail(2.0).logpdf(t.numpy())), rtol=1e-10, atol=0)
    # quantiles inside the right tail, where q = 1 - p_K * sf(t) is not rounded to 1
    q = torch.from_numpy(1 - 0.15 * tail(4.0).sf(t.numpy()))
    ok = q < 1 - 1e-9
    torch.testing.assert_close(bar.icdf(p.log().expand(5, 5), q)[ok], (2.0 + t)[ok], rtol=1e-6, atol=1e-9)


def test_cdf_and_log_prob_at_infinity(bar, logits):
    inf = torch.full((4,), math.inf, dtype=torch.float64)
    torch.testing.assert_close(bar.cdf(logits, inf), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(bar.cdf(logits, -inf), torch.zeros(4, dtype=torch.float64))
    assert (bar.log_prob(logits, inf) == -math.inf).all() and (bar.log_prob(logits, -inf) == -math.inf).all()


def test_moments_equal_mean_and_variance(bar, logits):
    mean, var = bar.moments(logits)
    torch.testing.assert_close(mean, bar.mean(logits))
    torch.testing.assert_close(var, bar.variance(logits))


def test_expected_shortfall_matches_quadrature(bar, logits):
    y, dy = grid(bar)
    dens = bar.log_prob(logits[:, None, :].expand(4, y.numel(), 64), y.expand(4, -1)).exp()
    for c in (-5.0, -1.0, 0.3, 2.0, 6.0):
        shortfall = (dens * (c - y).clamp_min(0) * dy).sum(-1)
        assert torch.allclose(bar.expected_shortfall(logits, c), shortfall, atol=1e-5), c


@pytest.mark.parametrize("c", [-1e4, -1e20, -1e300])
def test_improvements_far_from_the_distribution_do_not_cancel(bar, logits, c):
    """With c far below every bin, E[(Y - c)+] = E[Y] - c + E[(c - Y)+] and the shortfall E[(c - Y)+]
    is the left tail's excess beyond b[1] - c (a textbook Lomax / half-normal integral, by quadrature),
    tiny; mirrored for c far above. Subtracting large numbers would give about 1e-12 * |c| instead."""
    from scipy import integrate, stats

    b1, w0 = bar.borders[1].item(), bar.widths[0].item()
    if bar.tails == "pareto":
        tail = stats.lomax(3, scale=w0 / (2 ** (1 / 3) - 1))
    else:
        tail = stats.halfnorm(scale=w0 / stats.norm.ppf(0.75))
    a = b1 - c
    # E[(T - a)+] = integral of the survival function above a; substitute t = a * e^u for huge a
    excess = a * integrate.quad(lambda u: tail.sf(a * math.exp(u)) * math.exp(u), 0, 50, epsabs=0, epsrel=1e-10)[0]
    p0 = torch.softmax(logits, -1)[:, 0]
    torch.testing.assert_close(bar.expected_shortfall(logits, c), p0 * excess, rtol=1e-6, atol=1e-300)
    torch.testing.assert_close(bar.expected_excess(logits, c), bar.mean(logits) - c, rtol=1e-12, atol=0)
    # mirrored: far above, nothing exceeds and the shortfall is the whole distance
    assert (bar.expected_excess(logits, -c) >= 0).all() and (bar.expected_excess(logits, -c) < 1e-6).all()
    torch.testing.assert_close(bar.expected_shortfall(logits, -c), -c - bar.mean(logits), rtol=1e-12, atol=0)


def test_log_improvements_with_one_threshold_or_one_per_query(bar, logits):
    """A threshold shared by every query (one dataset's incumbent) and one threshold per query give each
    query the log of its exact expected excess / shortfall."""
    cs = torch.tensor([-5.0, -1.0, 0.3, 6.0], dtype=torch.float64)  # one per row of logits
    per_query = (bar.log_expected_excess(logits, cs), bar.log_expected_shortfall(logits, cs))
    for i, c in enumerate(cs.tolist()):
        shared = torch.full((4,), c, dtype=torch.float64)
        for j, (log_fn, fn) in enumerate(
            [(bar.log_expected_excess, bar.expected_excess), (bar.log_expected_shortfall, bar.expected_shortfall)]
        ):
            expected = fn(logits, c).log()
            torch.testing.assert_close(log_fn(logits, shared), expected, rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(per_query[j][i], expected[i], rtol=1e-9, atol=1e-12)


def test_log_improvements_follow_borders_loaded_after_a_call():
    """The per-bin terms of a threshold are remembered between calls; loading other borders (a checkpoint's)
    must not leave the old ones in use: the reference is a distribution built with the new borders."""
    logits = torch.randn(4, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    bar, other = BarDistribution(torch.linspace(-3, 3, 11)), BarDistribution(torch.linspace(-2, 5, 11))
    for fn in ("log_expected_excess", "log_expected_shortfall"):
        getattr(bar, fn)(logits, 0.5)  # remembered for 0.5
    bar.load_state_dict(other.state_dict())
    for fn in ("log_expected_excess", "log_expected_shortfall"):
        torch.testing.assert_close(getattr(bar, fn)(logits, 0.5), getattr(other, fn)(logits, 0.5), rtol=0, atol=0)


def test_a_uniform_share_spreads_bins_over_the_whole_range():
    """Borders of the mixture (1 - s) samples + s Uniform(min, max): the number of borders below t is about
    K F_mix(t), with F_mix computed by hand from the samples; s = 0 leaves the quantile borders as they were."""
    y = torch.randn(200_000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    plain = BarDistribution.from_samples(y, 100)
    assert torch.equal(BarDistribution.from_samples(y, 100, uniform_share=0.0).borders, plain.borders)
    lo, hi = float(y.min()), float(y.max())
    for share in (0.1, 0.5):
        inner = BarDistribution.from_samples(y, 100, uniform_share=share).borders[1:-1].double()  # levels 1/K ..
        for t in (-3.5, -2.0, 0.0, 2.5, 4.0):
            f_mix = (1 - share) * float((y <= t).double().mean()) + share * (t - lo) / (hi - lo)
            assert abs(int((inner <= t).sum()) - 100 * f_mix) <= 1.5, (share, t)
    mixed = BarDistribution.from_samples(y, 100, uniform_share=0.1)
    # far out, where the samples alone leave no border, the mixture has several
    assert int((plain.borders > 2.5).sum()) <= 1 and int((mixed.borders > 2.5).sum()) >= 2
    with pytest.raises(ValueError, match="uniform_share"):
        BarDistribution.from_samples(y, 100, uniform_share=1.0)
