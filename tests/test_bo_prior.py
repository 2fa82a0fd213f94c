"""The Bayesian-optimisation prior (priors/bo.py, `prior=bo`, `experiment=bo`): shapes, the input warping, the
reduction to a plain GP, near-interpolating noise-free draws, the marginal of y, the hyperpriors, reproducibility
and argument checks. Tolerances are 4 to 5 standard errors of the Monte Carlo estimate unless said otherwise."""

import json
import math

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from pfn.configs import compose_train_config
from pfn.data import PriorStream
from priors.bo import COMPONENTS, IRRELEVANT_LENGTHSCALE, BOPrior, kumaraswamy_cdf
from priors.gp import GPPrior
from priors.hyperpriors import LogNormal
from priors.kernels import Matern52


def plain_gp(**kwargs) -> BOPrior:
    """The BO prior with warping, trends, MLPs, irrelevant dimensions and the noiseless share off:
    a Matern-5/2 GP with outputscale 1, noise 1e-4 and ARD lengthscales ~ LogNormal(-1 + log(sqrt d), 0.75)."""
    args = dict(weights=[1, 0, 0], kernels=["matern52"], kernel_weights=None, irrelevant_prob=0.0, outputscale=1.0,
                noise=1e-4, noiseless_prob=0.0, warp_prob=0.0)  # fmt: skip
    return BOPrior(**{**args, **kwargs})


def matern52(r):
    s = math.sqrt(5) * r
    return (1 + s + s**2 / 3) * np.exp(-s)


# -- shapes, devices, reproducibility ---------------------------------------------------------


@pytest.mark.parametrize("d", range(1, 9))
def test_shapes_and_finiteness_for_every_dimension(d):
    prior = BOPrior()
    for n in (1, 2, 250):
        batch = prior.sample(16, n, d, torch.Generator().manual_seed(d))
        assert batch.x.shape == (16, n, d) and batch.y.shape == (16, n)
        assert batch.x.dtype == batch.y.dtype == torch.float32
        assert torch.isfinite(batch.y).all()
        assert batch.x.min() >= 0 and batch.x.max() <= 1
    # Every component, and extreme warps, at the largest shape.
    for k in range(3):
        weights = [float(i == k) for i in range(3)]
        batch = BOPrior(weights=weights, warp_prob=1.0).sample(32, 250, d, torch.Generator().manual_seed(k))
        assert torch.isfinite(batch.y).all() and batch.y.std() > 0


def test_same_seed_same_batch_and_tensors_on_the_generators_device():
    prior = BOPrior()
    a = prior.sample(24, 60, 5, torch.Generator().manual_seed(0))
    b = prior.sample(24, 60, 5, torch.Generator().manual_seed(0))
    c = prior.sample(24, 60, 5, torch.Generator().manual_seed(1))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.y, c.y)
    assert prior.samples_on_any_device and prior.input_range == (0.0, 1.0)
    assert a.x.device == a.y.device == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_samples_on_a_gpu_generator():
    batch = BOPrior().sample(32, 250, 8, torch.Generator(device="cuda").manual_seed(0))
    assert batch.x.is_cuda and batch.y.is_cuda and torch.isfinite(batch.y).all()


def test_describe_is_json_and_names_every_component():
    desc = BOPrior().describe()
    json.dumps(desc)
    assert desc["name"] == "BOPrior" and set(desc["components"]) == set(COMPONENTS)
    assert sum(desc["components"].values()) == pytest.approx(1.0)
    assert desc["noise"]["relative_to"] == "outputscale" and desc["bnn"]["name"] == "BNNPrior"


# -- input warping ----------------------------------------------------------------------------


def test_kumaraswamy_warp_is_a_monotone_bijection_of_the_unit_interval():
    g = torch.Generator().manual_seed(0)
    u = torch.linspace(0, 1, 1001, dtype=torch.float64)[None, :]
    # Extreme concentrations (0.05 .. 20): endpoints fixed, values in [0, 1], never decreasing.
    a = torch.exp(torch.empty(200, 1, dtype=torch.float64).uniform_(-3, 3, generator=g))
    b = torch.exp(torch.empty(200, 1, dtype=torch.float64).uniform_(-3, 3, generator=g))
    w = kumaraswamy_cdf(u, a, b)
    assert (w[:, 0] == 0).all() and (w[:, -1] == 1).all()
    assert (w.diff(dim=1) >= 0).all() and (w >= 0).all() and (w <= 1).all()
    # The prior's range (0.2 .. 5, beyond +-2 sd of LogNormal(0, 0.75)): strictly increasing until w rounds to 1
    # in float64 (1 - w can fall below 1e-16 just short of u = 1), and the explicit inverse
    # u = (1 - (1 - w)^(1/b))^(1/a) (computed without cancellation) recovers u wherever 1 - w is resolved, so
    # the warp is a bijection.
    a, b = a.clamp(0.2, 5), b.clamp(0.2, 5)
    w = kumaraswamy_cdf(u, a, b)
    assert (w.diff(dim=1)[w[:, 1:] < 1] > 0).all()
    assert (w[:, 1:-1] < 1).double().mean() > 0.99
    inverse = (-torch.expm1(torch.log1p(-w) / b)).pow(1 / a)
    resolved = 1 - w > 1e-9
    torch.testing.assert_close(inverse[resolved], u.expand(200, -1)[resolved], atol=1e-6, rtol=0)
    # a = b = 1 is the identity.
    torch.testing.assert_close(kumaraswamy_cdf(u, torch.ones(1, 1), torch.ones(1, 1)), u, atol=1e-15, rtol=0)


def test_warp_probability_sets_the_share_of_warped_dimensions():
    n = 4000 * 8
    hp = BOPrior(warp_prob=0.3).sample_hyperparameters(4000, 8, torch.Generator().manual_seed(0))
    warped = ((hp["warp_a"] != 1) | (hp["warp_b"] != 1)).double().mean().item()
    assert abs(warped - 0.3) < 5 * math.sqrt(0.3 * 0.7 / n)
    off = BOPrior(warp_prob=0.0).sample_hyperparameters(100, 8, torch.Generator().manual_seed(0))
    assert (off["warp_a"] == 1).all() and (off["warp_b"] == 1).all()


def test_warping_makes_the_function_f_of_warp_x():
    """With warping on, targets at x equal the unwarped prior's targets at warp(x) (same hyperparameters)."""
    prior = BOPrior(warp_prob=1.0)
    g = torch.Generator().manual_seed(0)
    hp = prior.sample_hyperparameters(64, 3, g)
    x = torch.rand(64, 40, 3, generator=g)
    y_warped = prior.sample_targets(x, torch.Generator().manual_seed(1), hp)
    u = kumaraswamy_cdf(x.double(), hp["warp_a"][:, None, :], hp["warp_b"][:, None, :])
    identity = {**hp, "warp_a": torch.ones_like(hp["warp_a"]), "warp_b": torch.ones_like(hp["warp_b"])}
    y_direct = prior.sample_targets(u, torch.Generator().manual_seed(1), identity)  # u in float64, as inside
    torch.testing.assert_close(y_warped, y_direct, atol=1e-5, rtol=1e-5)


# -- reduction to the plain GP ----------------------------------------------------------------


@pytest.mark.parametrize("x1,x2", [([0.2], [0.5]), ([0.2, 0.7, 0.1, 0.5], [0.5, 0.35, 0.6, 0.1])], ids=["1d", "4d"])
def test_without_warping_and_extras_the_prior_is_the_hyperprior_averaged_gp(x1, x2):
    """E[y1 y2] at two fixed points equals E over the lengthscale hyperprior of the Matern-5/2 correlation (the
    closed form, averaged by Monte Carlo over 10^6 independent draws of the d lengthscales), and E[y1^2] = 1 +
    noise; and the library's GPPrior with that hyperprior gives the same covariance."""
    d, b = len(x1), 40_000
    x = torch.tensor([x1, x2], dtype=torch.float32).expand(b, 2, d).contiguous()
    y = plain_gp().sample_targets(x, torch.Generator().manual_seed(0)).double()
    loc = -1.0 + 0.5 * math.log(d)
    rng = np.random.default_rng(0)
    ls = np.exp(loc + 0.75 * rng.standard_normal((1_000_000, d)))
    delta = np.array(x1) - np.array(x2)
    expected_cov = matern52(np.sqrt(((delta / ls) ** 2).sum(1))).mean()
    # Var(y1 y2) <= E[y1^2 y2^2] <= 3 (Gaussian fourth moments with unit variances).
    se = math.sqrt(3 / b)
    assert abs((y[:, 0] * y[:, 1]).mean().item() - expected_cov) < 5 * se
    assert abs(y[:, 0].square().mean().item() - (1 + 1e-4)) < 5 * math.sqrt(2 / b)
    gp = GPPrior(Matern52(LogNormal(loc, 0.75), outputscale=1.0, ard=True), noise=1e-4, max_features=d)
    y_gp = gp.sample_targets(x, torch.Generator().manual_seed(1)).double()
    assert abs((y_gp[:, 0] * y_gp[:, 1]).mean().item() - expected_cov) < 5 * se


def test_plain_gp_marginal_is_standard_normal():
    """Every y of the plain GP is N(0, 1 + noise) whatever the lengthscale: mass within 1 and 2 standard deviations
    (one point per dataset, so the draws are independent)."""
    b = 20_000
    y = plain_gp().sample(b, 20, 2, torch.Generator().manual_seed(0)).y[:, 7].double() / math.sqrt(1 + 1e-4)
    for k, mass in ((1, 0.682689), (2, 0.954500)):
        got = (y.abs() < k).double().mean().item()
        assert abs(got - mass) < 5 * math.sqrt(mass * (1 - mass) / b), (k, got)


# -- noise ------------------------------------------------------------------------------------


@pytest.mark.parametrize("noiseless_prob", [1.0, 0.2])
def test_duplicated_inputs_differ_by_exactly_the_drawn_noise(noiseless_prob):
    """f is a function of x in every component, so y at a duplicated x differs only by noise:
    (y_i - y_j) / sqrt(2 noise_ratio outputscale) ~ N(0, 1). Noise-free datasets nearly interpolate."""
    prior = BOPrior(noiseless_prob=noiseless_prob)
    g = torch.Generator().manual_seed(0)
    b, half, d = 400, 30, 3
    hp = prior.sample_hyperparameters(b, d, g)
    x = torch.rand(b, half, d, generator=g).repeat(1, 2, 1)
    y = prior.sample_targets(x, g, hp).double()
    noise_var = hp["noise_ratio"] * hp["outputscale"]
    z = (y[:, :half] - y[:, half:]) / (2 * noise_var).sqrt()[:, None]
    m = z.numel()
    assert abs(z.mean().item()) < 5 / math.sqrt(m)
    assert abs(z.var().item() - 1) < 5 * math.sqrt(2 / m)
    noiseless = hp["noise_ratio"] == prior.min_noise
    if noiseless_prob == 1.0:
        assert noiseless.all()
    # Noise-free datasets interpolate: every duplicate pair within 6 noise sds (6 sqrt(2e-6) = 0.0085) of the
    # function's scale, and typically within 1% of the dataset's own spread.
    gap = (y[:, :half] - y[:, half:]).abs().amax(1)
    assert (gap[noiseless] / hp["outputscale"][noiseless].sqrt()).max() < 6 * math.sqrt(2e-6)
    assert (gap / y.std(1))[noiseless].median() < 0.01


def test_noise_ratio_hyperprior_and_noiseless_share():
    b = 20_000
    hp = BOPrior(noiseless_prob=0.2).sample_hyperparameters(b, 2, torch.Generator().manual_seed(0))
    ratio = hp["noise_ratio"]
    share = (ratio == 1e-6).double().mean().item()
    assert abs(share - 0.2) < 5 * math.sqrt(0.2 * 0.8 / b)
    assert ratio.min() >= 1e-6 and ratio.max() <= 0.5
    # The rest is log-uniform on [1e-6, 0.5]: its mean log is the midpoint.
    logs = ratio[ratio > 1e-6].log()
    mid, sd = (math.log(1e-6) + math.log(0.5)) / 2, (math.log(0.5) - math.log(1e-6)) / math.sqrt(12)
    assert abs(logs.mean().item() - mid) < 5 * sd / math.sqrt(logs.numel())


# -- hyperpriors: components, lengthscales, irrelevant dimensions, trends ---------------------


def test_component_and_kernel_shares_follow_the_weights():
    b = 20_000
    hp = BOPrior().sample_hyperparameters(b, 4, torch.Generator().manual_seed(0))
    for values, weights in ((hp["component"], (0.6, 0.25, 0.15)), (hp["kernel"], (0.6, 0.2, 0.2))):
        for k, w in enumerate(weights):
            share = (values == k).double().mean().item()
            assert abs(share - w) < 5 * math.sqrt(w * (1 - w) / b)


@pytest.mark.parametrize("d", [1, 3, 8])
def test_lengthscales_grow_like_sqrt_of_the_relevant_dimensions(d):
    """log lengthscale - 0.5 log d_relevant ~ N(-1, 0.75^2) over the relevant dimensions, so the mean scaled
    squared distance between two uniform points, d_rel / 6 * E[1 / lengthscale^2], is the same in every d."""
    b = 20_000
    hp = BOPrior().sample_hyperparameters(b, d, torch.Generator().manual_seed(d))
    rel = hp["relevant"]
    assert rel.any(-1).all()
    assert (hp["lengthscale"][~rel] == IRRELEVANT_LENGTHSCALE).all()
    d_rel = rel.sum(-1, keepdim=True).double().expand(-1, d)
    v = (hp["lengthscale"].log() - 0.5 * d_rel.log())[rel]
    n = v.numel()
    assert abs(v.mean().item() + 1.0) < 5 * 0.75 / math.sqrt(n)
    assert abs(v.std().item() - 0.75) < 5 * 0.75 / math.sqrt(2 * n)
    if d > 1:  # P(irrelevant) = 0.15, except that one dimension is kept when all d are drawn irrelevant
        expected = 0.15 - 0.15**d / d
        got = (~rel).double().mean().item()
        assert abs(got - expected) < 5 * math.sqrt(0.15 * 0.85 / (b * d))
    else:
        assert rel.all()


def test_irrelevant_dimensions_leave_the_function_unchanged():
    """Moving the irrelevant coordinates changes y by noise only (MLPs and trends ignore them; the GP with
    lengthscale 1e3 moves by at most ~1e-3 of its scale, variance <= 2 * 5/6 * 1e-6 * outputscale): within
    6 sds of sqrt((2e-6 + 2e-6) outputscale) for noise-free datasets."""
    prior = BOPrior(irrelevant_prob=0.5, noiseless_prob=1.0, weights=[1, 1, 1])
    g = torch.Generator().manual_seed(0)
    hp = prior.sample_hyperparameters(300, 4, g)
    assert (~hp["relevant"]).any()
    x = torch.rand(300, 20, 4, generator=g)
    x2 = torch.where(hp["relevant"][:, None, :], x, torch.rand(300, 20, 4, generator=g))  # move irrelevant coords
    y = prior.sample_targets(torch.cat([x, x2], 1), g, hp).double()
    gap = (y[:, :20] - y[:, 20:]).abs().amax(1) / hp["outputscale"].sqrt()
    assert gap.max() < 6 * math.sqrt(4e-6)


def test_trend_has_unit_variance_on_uniform_inputs():
    """The trend is scaled by its analytic moments under U[0, 1]^d: its per-dataset variance averages to 1."""
    prior = BOPrior()
    g = torch.Generator().manual_seed(0)
    for linear in (True, False):
        hp = prior.sample_hyperparameters(2000, 5, g)
        hp["trend_linear"] = torch.full_like(hp["trend_linear"], linear)
        u = torch.rand(2000, 250, 5, generator=g, dtype=torch.float64)
        t = prior._trend(u, hp)
        # Centred and of unit variance: 2000 datasets of 250 points put the standard errors near 0.002 and 0.005.
        assert abs(t.mean().item()) < 0.02
        assert abs(t.var(1).mean().item() - 1) < 0.03


def test_standardised_targets_have_near_gaussian_mass():
    """Standardised by each dataset's own mean and std (what the model does with a full context), the pooled
    targets have nearly the Gaussian's mass within 1, 2 and 3 standard deviations: the GP share is Gaussian,
    trends and MLPs are smooth functions of uniform inputs, so the tails are no heavier than a few per mille.
    Tolerances allow for that model difference, not for sampling error (with 1000 datasets it is below 0.005)."""
    for d in (1, 8):
        batch = BOPrior().sample(1000, 250, d, torch.Generator().manual_seed(d))
        z = (batch.y - batch.y.mean(1, keepdim=True)) / batch.y.std(1, keepdim=True, correction=0)
        for k, mass in ((1, 0.6827), (2, 0.9545)):
            assert abs((z.abs() < k).double().mean().item() - mass) < 0.03, (d, k)
        assert 0.0005 < (z.abs() > 3).double().mean() < 0.01  # Gaussian: 0.0027
        assert (z.abs() > 5).double().mean() < 1e-3


# -- training path ----------------------------------------------------------------------------


def test_experiment_config_and_zero_padded_stream():
    cfg = compose_train_config("bo", ["paths.output_dir=."])
    assert cfg.data.num_points == 250 and cfg.data.max_context == 200 and cfg.data.num_features == 8
    assert cfg.data.min_features == 1 and cfg.model.bins.tails == "pareto"
    assert cfg.model.normalization.x == cfg.model.normalization.y == "standardize"
    prior = instantiate(cfg.prior)
    assert isinstance(prior, BOPrior) and prior.max_features == 8
    stream = PriorStream(prior, 4, 250, 8, 0, 200, seed=0, min_features=1)
    for step in range(6):
        recipe = stream.recipe_at(step)
        batch = stream.batch_at(step)
        d = recipe["num_features"]
        assert batch["x"].shape == (4, 250, 8) and torch.isfinite(batch["y"]).all()
        assert (batch["x"][:, :, d:] == 0).all()


# -- argument checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"weights": [1, 1]}, "weights"),
        ({"weights": [0, 0, 0]}, "weights"),
        ({"weights": [1, -1, 1]}, "weights"),
        ({"weights": "gp"}, "weights"),
        ({"kernels": ["matern52", "cosine"]}, "kernels"),
        ({"kernels": []}, "kernels"),
        ({"kernels": "rbf"}, "kernels"),
        ({"kernel_weights": [1.0]}, "kernel_weights"),
        ({"lengthscale_loc": float("nan")}, "lengthscale_loc"),
        ({"lengthscale_scale": 0.0}, "lengthscale_scale"),
        ({"lengthscale_dim_exponent": -0.5}, "lengthscale_dim_exponent"),
        ({"irrelevant_prob": 1.0}, "irrelevant_prob"),
        ({"irrelevant_prob": -0.1}, "irrelevant_prob"),
        ({"outputscale": 0.0}, "outputscale"),
        ({"noise": -1e-3}, "noise"),
        ({"noise": "small"}, "noise"),
        ({"noiseless_prob": 1.5}, "noiseless_prob"),
        ({"min_noise": 0.0}, "min_noise"),
        ({"warp_prob": True}, "warp_prob"),
        ({"warp_concentration": 0}, "warp_concentration"),
        ({"trend_amplitude": [2.0, 1.0]}, "trend_amplitude"),
        ({"trend_amplitude": 1.0}, "trend_amplitude"),
        ({"linear_trend_prob": 2}, "linear_trend_prob"),
        ({"bnn": "mlp"}, "bnn"),
        ({"max_features": 0}, "max_features"),
        ({"max_features": 2.5}, "max_features"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        BOPrior(**kwargs)


def test_sample_checks_its_arguments():
    with pytest.raises(ValueError, match="num_features"):
        BOPrior(max_features=8).sample(2, 10, 9, torch.Generator())
    with pytest.raises(ValueError, match="num_points"):
        BOPrior().sample(2, 0, 2, torch.Generator())
