"""Every prior: shapes, dtypes, determinism, finiteness at extreme hyperparameters, and theory checks."""

import functools
import math

import numpy as np
import pytest
import torch

from pfn.data import PriorStream
from priors import (
    Batch,
    BNNClassificationPrior,
    BNNPrior,
    FunctionPrior,
    GPPrior,
    LearningCurvePrior,
    LearningCurveRunPrior,
    MixturePrior,
    TabularClassificationPrior,
    TabularRegressionPrior,
    as_prior,
)
from priors.base import is_sequential
from priors.hyperpriors import Choice, Gamma, LogNormal, LogUniform, Uniform
from priors.kernels import RBF, Linear, Matern12, Matern32, Matern52, Periodic


def constant_prior(value, batch_size, num_points, num_features, generator):
    x = torch.rand(batch_size, num_points, num_features, generator=generator)
    return Batch(x=x, y=torch.full((batch_size, num_points), float(value)))


PRIORS = {
    "gp_fixed": lambda: GPPrior(),
    "gp_hyper_sum": lambda: GPPrior(
        RBF(LogNormal(-1.5, 0.5), Gamma(2, 2), ard=True) + Periodic(1.0, LogUniform(0.1, 1.0), 0.3) * Linear(0.5),
        noise=LogUniform(1e-4, 0.1), x_distribution="normal", max_features=3,
    ),
    "bnn": lambda: BNNPrior(max_features=3),
    "bnn_argmax": lambda: BNNClassificationPrior(num_classes=4, max_features=3),
    "bnn_threshold": lambda: BNNClassificationPrior(num_classes=3, method="threshold", max_features=3),
    "tabular": lambda: TabularClassificationPrior(num_classes=4, max_features=3),
    "tabular_regression": lambda: TabularRegressionPrior(max_features=3),
    "lc": lambda: LearningCurvePrior(),
    "mixture": lambda: MixturePrior([GPPrior(max_features=3), BNNPrior(max_features=3)], [0.3, 0.7]),
    "function": lambda: FunctionPrior(functools.partial(constant_prior, 2.0), max_features=3),
}  # fmt: skip


@pytest.mark.parametrize("name", PRIORS)
def test_shapes_dtypes_determinism_finiteness(name):
    prior = PRIORS[name]()
    d = min(2, prior.max_features)
    a = prior.sample(6, 25, d, torch.Generator().manual_seed(0))
    b = prior.sample(6, 25, d, torch.Generator().manual_seed(0))
    c = prior.sample(6, 25, d, torch.Generator().manual_seed(1))
    assert a.x.shape == (6, 25, d) and a.y.shape == (6, 25)
    assert a.x.dtype == a.y.dtype == torch.float32
    assert torch.isfinite(a.x).all() and torch.isfinite(a.y).all()
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    if name != "function":
        assert not torch.equal(a.y, c.y)
    assert isinstance(prior.describe(), dict)


@pytest.mark.parametrize(
    "prior",
    [
        GPPrior(RBF(lengthscale=1e3, outputscale=1.0), noise=1e-12),  # rank-one kernel, no noise: needs jitter
        GPPrior(RBF(lengthscale=1e-4, outputscale=1e4), noise=1e-8),
        GPPrior(Matern12(LogUniform(1e-3, 1e3), LogUniform(1e-3, 1e3)), noise=LogUniform(1e-10, 10)),
        GPPrior(Periodic(lengthscale=1e-3, period=1e-3) + Linear(1e3), noise=1e-9),
        BNNPrior(num_layers=3, width=64, activations=["identity"], weight_scale=8.0, noise_std=0.0),
        BNNPrior(weight_scale=LogUniform(1e-4, 1e-3), noise_std=0.0, activations=["sin", "gelu", "sigmoid"]),
        LearningCurvePrior(noise_log_mean=1.0),
    ],
    ids=["gp_rank_one", "gp_tiny_ls", "gp_wide_hyper", "gp_periodic", "bnn_big_weights", "bnn_tiny", "lc_noisy"],
)
def test_no_nan_or_inf_at_extreme_hyperparameters(prior):
    batch = prior.sample(16, 60, 1, torch.Generator().manual_seed(0))
    assert torch.isfinite(batch.y).all()


# -- GP kernels ------------------------------------------------------------------------------


def reference_kernel(name, x1, x2):
    """Textbook formulas with NumPy, hyperparameters as in KERNELS below."""
    diff = x1[:, None, :] - x2[None, :, :]
    if name == "ard_rbf":
        return 0.8 * np.exp(-0.5 * ((diff / np.array([0.2, 0.7])) ** 2).sum(-1))
    r = np.sqrt((diff**2).sum(-1)) / 0.3
    if name == "matern12":
        return 0.5 * np.exp(-r)
    if name == "matern32":
        return 0.5 * (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r)
    if name == "matern52":
        return 0.5 * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)
    periodic = 0.6 * np.exp(-2 * (np.sin(np.pi * np.abs(diff) / 0.4) ** 2).sum(-1) / 0.8**2)
    linear = 0.9 * x1 @ x2.T
    if name == "periodic":
        return periodic
    if name == "linear":
        return linear
    if name == "periodic_plus_linear":
        return periodic + linear
    if name == "periodic_times_matern32":
        return periodic * reference_kernel("matern32", x1, x2)
    raise KeyError(name)


def expand(params, n):
    """The same hyperparameters for n datasets."""
    if isinstance(params, dict):
        return {k: expand(v, n) for k, v in params.items()}
    if isinstance(params, list):
        return [expand(v, n) for v in params]
    return params.expand(n, *params.shape[1:])


KERNELS = {
    "ard_rbf": RBF(lengthscale=0.2, outputscale=0.8, ard=True),
    "matern12": Matern12(0.3, 0.5),
    "matern32": Matern32(0.3, 0.5),
    "matern52": Matern52(0.3, 0.5),
    "periodic": Periodic(0.8, 0.4, 0.6),
    "linear": Linear(0.9),
    "periodic_plus_linear": Periodic(0.8, 0.4, 0.6) + Linear(0.9),
    "periodic_times_matern32": Periodic(0.8, 0.4, 0.6) * Matern32(0.3, 0.5),
}


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_matches_textbook_formula_and_sample_covariance(name):
    """Kernel values equal the formula; 40k draws at fixed inputs have covariance K + noise I
    within 5 standard errors per entry (sd of a sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n))."""
    kernel = KERNELS[name]
    x = torch.tensor([[0.05, 0.1], [0.1, 0.3], [0.3, 0.2], [0.6, 0.9], [0.95, 0.5]], dtype=torch.float64)[None]
    gen = torch.Generator().manual_seed(0)
    params = kernel.sample_params(1, 2, gen)
    if name == "ard_rbf":  # one lengthscale per feature
        params["lengthscale"] = torch.tensor([[0.2, 0.7]], dtype=torch.float64)
    k = kernel(x, x, params)[0]
    np.testing.assert_allclose(k.numpy(), reference_kernel(name, x[0].numpy(), x[0].numpy()), rtol=1e-10, atol=1e-12)

    n, noise = 40_000, 0.05
    prior = GPPrior(kernel, noise=noise, max_features=2)
    hp = {"kernel": expand(params, n), "noise": torch.full((n,), noise, dtype=torch.float64)}
    y = prior.sample_targets(x.float().expand(n, 5, 2), gen, hp).double()
    emp = torch.cov(y.T)
    expected = k + noise * torch.eye(5, dtype=torch.float64)
    sd = ((expected.diag()[:, None] * expected.diag()[None, :] + expected**2) / n).sqrt()
    assert ((emp - expected).abs() < 5 * sd).all(), (emp - expected) / sd


def test_hyperpriors_are_drawn_per_dataset_with_the_right_distribution():
    prior = GPPrior(RBF(lengthscale=LogNormal(-1.0, 0.5), outputscale=Gamma(2.0, 4.0)), noise=Uniform(0.01, 0.1))
    hp = prior.sample_hyperparameters(20_000, 1, torch.Generator().manual_seed(0))
    log_ls = hp["kernel"]["lengthscale"].log().flatten()
    se = 1 / math.sqrt(20_000)
    assert abs(log_ls.mean().item() + 1.0) < 5 * 0.5 * se
    assert abs(log_ls.std().item() - 0.5) < 5 * 0.5 * se
    outputscale = hp["kernel"]["outputscale"]
    assert abs(outputscale.mean().item() - 0.5) < 5 * math.sqrt(2 / 16) * se  # Gamma(2, 4): mean 1/2, var 1/8
    assert abs(outputscale.var().item() - 0.125) < 0.01
    assert hp["noise"].min() >= 0.01 and hp["noise"].max() <= 0.1


def test_choice_frequencies_match_weights():
    draws = Choice([1, 2, 3], weights=[0.2, 0.3, 0.5]).sample((30_000,), torch.Generator().manual_seed(0))
    for value, p in ((1, 0.2), (2, 0.3), (3, 0.5)):
        freq = (draws == value).double().mean().item()
        assert abs(freq - p) < 5 * math.sqrt(p * (1 - p) / 30_000)


@pytest.mark.parametrize(
    "name,input_range,sequential,exact",
    [("gp_fixed", (0.0, 1.0), False, "exact GP"), ("gp_hyper_sum", None, False, None), ("bnn", None, False, None),
     ("bnn_argmax", None, False, None), ("lc", (0.0, 1.0), True, None), ("mixture", None, False, None),
     ("function", None, False, None)],
)  # fmt: skip
def test_what_each_prior_declares_about_itself(name, input_range, sequential, exact):
    """The input domain (recorded in checkpoints), whether datasets are sequences, and the exact reference."""
    from priors.base import exact_posterior, is_sequential
    from priors.base import input_range as declared_range

    prior = PRIORS[name]()
    assert declared_range(prior) == input_range and is_sequential(prior) is sequential
    assert exact_posterior(prior) == exact


@pytest.mark.parametrize("prior_class", [GPPrior, BNNPrior, BNNClassificationPrior])
def test_inputs_follow_x_distribution_and_its_declared_range(prior_class):
    """GP and BNN priors share one input sampler: uniform inputs lie in the declared [0, 1], normal ones do not."""
    uniform = prior_class(x_distribution="uniform", max_features=2)
    normal = prior_class(x_distribution="normal", max_features=2)
    assert uniform.input_range == (0.0, 1.0) and normal.input_range is None
    u = uniform.sample(64, 50, 2, torch.Generator().manual_seed(0)).x
    z = normal.sample(64, 50, 2, torch.Generator().manual_seed(0)).x
    assert u.min() >= 0 and u.max() <= 1 and abs(u.mean() - 0.5) < 0.02
    assert z.min() < 0 and abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    with pytest.raises(ValueError, match=r"x_distribution must be one of \['normal', 'uniform'\]"):
        prior_class(x_distribution="laplace")


def test_a_prior_without_an_exact_posterior_says_so():
    with pytest.raises(NotImplementedError, match="BNNPrior has no exact posterior"):
        BNNPrior().posterior_predictive(torch.zeros(1, 2, 1), torch.zeros(1, 2), torch.zeros(1, 3, 1))


def test_exact_posterior_refuses_hyperpriors():
    with pytest.raises(ValueError, match="fixed hyperparameters"):
        GPPrior(RBF(LogNormal(0, 1))).posterior_predictive(torch.rand(1, 3, 1), torch.rand(1, 3), torch.rand(1, 2, 1))


def test_exact_posterior_works_for_other_kernels():
    """Matérn 5/2 exact posterior: held-out targets standardised by it are N(0, 1)."""
    prior = GPPrior(Matern52(0.2, 1.0), noise=0.05)
    batch = prior.sample(300, 50, 1, torch.Generator().manual_seed(2))
    pred = prior.posterior_predictive(batch.x[:, :40], batch.y[:, :40], batch.x[:, 40:])
    z = (batch.y[:, 40:] - pred.mean) / pred.variance.sqrt()
    assert abs(z.square().mean().item() - 1) < 5 * math.sqrt(2 / z.numel()) * 2


# -- Bayesian neural networks ----------------------------------------------------------------


@pytest.mark.parametrize("activation, factor", [("identity", 1.0), ("relu", 0.5)])
@pytest.mark.parametrize("weight_scale", [0.5, 1.0, 2.0])
def test_bnn_output_variance_follows_the_weight_scale(activation, factor, weight_scale):
    """With W ~ N(0, s^2 / fan_in) and no biases, each layer scales the second moment by s^2
    (identity) or s^2 / 2 (ReLU), so Var f(x) = s^(2(L+1)) factor^L E|x|^2 / d, with E|x|^2 / d = 1/3
    for x ~ U[0, 1]^d. Checked over 20k independent networks to 10% (the estimate's relative
    standard error is about 2% here)."""
    L = 2
    prior = BNNPrior(num_layers=L, width=64, activations=[activation], weight_scale=weight_scale, bias_scale=0.0,
                     noise_std=0.0, x_distribution="uniform", max_features=3)  # fmt: skip
    y = prior.sample(20_000, 2, 3, torch.Generator().manual_seed(0)).y[:, 0].double()
    expected = weight_scale ** (2 * (L + 1)) * factor**L / 3
    assert abs(y.var().item() / expected - 1) < 0.1, (y.var().item(), expected)


def test_bnn_noise_std_is_the_residual_spread():
    """With negligible weights the network output vanishes and y is pure observation noise."""
    flat = BNNPrior(num_layers=1, width=16, weight_scale=1e-6, noise_std=0.2, max_features=2)
    y = flat.sample(2000, 10, 2, torch.Generator().manual_seed(1)).y.double()
    assert abs(y.std().item() - 0.2) < 5 * 0.2 / math.sqrt(2 * y.numel())


def test_bnn_depth_width_and_activation_vary_per_dataset():
    prior = BNNPrior(num_layers=Choice([1, 3]), width=Choice([4, 64]), activations=["tanh", "relu"], max_features=2)
    y = prior.sample(64, 40, 2, torch.Generator().manual_seed(0)).y
    assert len({round(v, 4) for v in y.std(1).tolist()}) == 64


def test_bnn_depth_and_width_are_drawn_per_dataset_with_their_weights():
    """Depth and width read back from each dataset's own network, over 3000 datasets of one batch.

    With identity activations, no biases and no noise, a network is the linear map x @ M_b with M_b the
    product of its depth + 1 weight matrices (3 inputs to 3 outputs). Recovered by least squares from 8
    points: with weight_scale s = 1e4 each matrix multiplies the norm by about s, so log10 |M_b| is about
    4 (depth + 1) (spread about 0.3 decades, so rounding never errs), and M_b has rank 2 when the width is
    2, rank 3 when it is 16 (smallest over largest singular value below 1e-7 for float32 outputs, above
    1e-5 otherwise). Frequencies must match the Choice weights within 5 binomial standard errors; drawn
    once per batch, every dataset would share one depth and one width."""
    prior = BNNPrior(
        num_layers=Choice([1, 2, 3], weights=[0.2, 0.3, 0.5]),
        width=Choice([2, 16]),
        activations=["identity"],
        weight_scale=1e4,
        bias_scale=0.0,
        noise_std=0.0,
        max_features=3,
    )
    n = 3000
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, 3, generator=gen)
    maps = torch.linalg.lstsq(x.double(), prior.random_functions(x, 3, gen).double()).solution  # (n, 3, 3)
    sv = torch.linalg.svdvals(maps)
    depth = (sv[:, 0].log10() / 4).round() - 1
    width = torch.where(sv[:, 2] / sv[:, 0] < 1e-6, 2, 16)
    for values, weights in ((depth, {1: 0.2, 2: 0.3, 3: 0.5}), (width, {2: 0.5, 16: 0.5})):
        assert set(values.tolist()) == set(weights)
        for value, p in weights.items():
            assert abs((values == value).double().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n), value


@pytest.mark.parametrize("method", ["argmax", "threshold"])
def test_bnn_classes_are_valid_and_all_occur(method):
    prior = BNNClassificationPrior(num_classes=5, method=method, max_features=2)
    y = prior.sample(200, 100, 2, torch.Generator().manual_seed(0)).y
    assert set(torch.unique(y).tolist()) == {0.0, 1.0, 2.0, 3.0, 4.0}
    assert torch.equal(y, y.round())
    if method == "threshold":  # thresholds at uniform random quantiles: classes equally likely on average
        freq = torch.stack([(y == c).double().mean() for c in range(5)])
        assert (freq - 0.2).abs().max() < 0.03


# -- learning curves --------------------------------------------------------------------------


def test_learning_curves_stay_in_range_and_end_above_their_start():
    clean, sigma = LearningCurvePrior().sample_curves(5000, 100, torch.Generator().manual_seed(0))
    assert (clean >= 0).all() and (clean <= 1).all()
    assert (clean[:, -1] > clean[:, 0]).all()
    # the prior's typical shapes (measured on LC-PFN's definition with a separate implementation):
    # median of the final value about 0.63, about half the curves monotone
    assert 0.58 < clean[:, -1].median().item() < 0.68
    assert 0.45 < (clean.diff(dim=1) >= 0).all(1).double().mean().item() < 0.57


def test_learning_curve_noise_matches_its_log_normal_prior():
    prior = LearningCurvePrior()
    gen = torch.Generator().manual_seed(1)
    _, sigma = prior.sample_curves(20_000, 50, gen)
    log_sigma = sigma.log()
    se = 1 / math.sqrt(20_000)
    assert abs(log_sigma.mean().item() + 4.0) < 5 * se
    assert abs(log_sigma.std().item() - 1.0) < 5 * se / math.sqrt(2) * 1.5
    # observed minus clean, divided by the curve's sigma, is standard normal
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    batch = prior.sample(2000, 50, 1, g1)
    clean, sigma = prior.sample_curves(2000, 50, g2)
    z = (batch.y.double() - clean) / sigma[:, None]
    assert abs(z.std().item() - 1) < 0.02


def test_learning_curve_inputs_are_scaled_epochs():
    batch = LearningCurvePrior(max_epochs=200).sample(3, 50, 1, torch.Generator().manual_seed(0))
    assert torch.allclose(batch.x[0, :, 0], torch.arange(1, 51) / 200)


def test_a_learning_curve_needs_two_points():
    """A curve is kept only if it ends above where it starts, which one point never does: refused at once
    (not after every rejection round)."""
    with pytest.raises(ValueError, match=r"num_points \(the curve length\) must be at least 2.*got 1"):
        LearningCurvePrior().sample(2, 1, 1, torch.Generator().manual_seed(0))
    assert LearningCurvePrior().sample(2, 2, 1, torch.Generator().manual_seed(0)).y.shape == (2, 2)


def test_dirichlet_weights_make_all_families_usable():
    from priors.learning_curves import FAMILIES

    prior = LearningCurvePrior(families=list(FAMILIES), weights="dirichlet")
    clean, _ = prior.sample_curves(500, 100, torch.Generator().manual_seed(0))
    assert clean.shape == (500, 100) and (clean >= 0).all() and (clean <= 1).all()


def test_slowdown_moves_learning_later_and_leaves_the_default_prior_unchanged():
    """Share of a curve's gain made after its first 10 epochs (of 100), over 4000 curves: without
    slowdown the median is 0.15, with tau up to 10 it is 0.28; the test asks for a gap of 0.08
    (each median's standard error is about 0.005)."""

    def late_share(prior):
        clean, _ = prior.sample_curves(4000, 100, torch.Generator().manual_seed(0))
        return ((clean[:, -1] - clean[:, 9]) / (clean[:, -1] - clean[:, 0])).median().item()

    assert late_share(LearningCurvePrior(max_slowdown=10.0)) > late_share(LearningCurvePrior()) + 0.08
    a, _ = LearningCurvePrior().sample_curves(50, 100, torch.Generator().manual_seed(5))
    b, _ = LearningCurvePrior(max_slowdown=1.0).sample_curves(50, 100, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="max_slowdown"):
        LearningCurvePrior(max_slowdown=0.5)


# -- mixtures and user-defined priors -----------------------------------------------------------


def test_mixture_component_frequencies_match_weights():
    """Each component is a constant prior y = k, so a dataset's component is readable from y.
    Frequencies over 20k datasets lie within 5 binomial standard errors of the weights."""
    comps = [functools.partial(constant_prior, k) for k in range(3)]
    prior = MixturePrior(comps, weights=[1, 2, 7])
    y = prior.sample(20_000, 3, 1, torch.Generator().manual_seed(0)).y[:, 0]
    for k, p in enumerate([0.1, 0.2, 0.7]):
        assert abs((y == k).double().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / 20_000)


def test_mixture_per_batch_uses_one_component_per_batch():
    comps = [functools.partial(constant_prior, k) for k in range(2)]
    prior = MixturePrior(comps, per="batch")
    firsts = []
    for seed in range(200):
        y = prior.sample(8, 2, 1, torch.Generator().manual_seed(seed)).y
        assert (y == y[0, 0]).all()
        firsts.append(y[0, 0].item())
    assert 70 < sum(firsts) < 130  # about half the batches from each component


def test_mixture_bad_weights():
    with pytest.raises(ValueError, match="weights"):
        MixturePrior([GPPrior(), GPPrior()], weights=[1.0])
    with pytest.raises(ValueError, match="weights"):
        MixturePrior([GPPrior(), GPPrior()], weights=[-1.0, 2.0])


def test_mixture_of_curve_priors_is_sequential_and_mixed_kinds_are_refused():
    """A mixture of learning-curve priors is itself sequential (its datasets are scored as curves, the context
    being each curve's first points), with the components' common input range; mixing sequential and
    exchangeable components is an error, since no split suits both."""
    curves = MixturePrior([LearningCurvePrior(), LearningCurveRunPrior()])
    assert is_sequential(curves) and curves.input_range == (0.0, 1.0)
    assert not is_sequential(MixturePrior([GPPrior(), GPPrior()]))
    with pytest.raises(ValueError, match="all sequential"):
        MixturePrior([GPPrior(), LearningCurvePrior()])


def test_function_priors_by_object_partial_and_dotted_path():
    by_path = FunctionPrior("tests.test_priors.constant_prior")
    assert by_path.fn.__qualname__ == "constant_prior" and by_path.name == "tests.test_priors.constant_prior"
    wrapped = as_prior(functools.partial(constant_prior, 1.0))
    assert wrapped.sample(2, 3, 1, torch.Generator()).y.eq(1.0).all()
    with pytest.raises(TypeError, match="sample"):
        as_prior(42)
    with pytest.raises(ValueError, match="dotted path"):
        FunctionPrior("nodots")


# -- constructor arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: GPPrior(kernel="rbf"), "kernel must be a Kernel object"),
        (lambda: GPPrior(max_features=0), "max_features must be an integer >= 1, got 0"),
        (lambda: GPPrior(max_features="3"), "max_features must be an integer >= 1, got '3'"),
        (lambda: GPPrior(noise=Uniform(-1.0, 1.0)), r"noise must be positive.*go down to -1\.0"),
        (lambda: GPPrior(x_distribution=["uniform"]), "x_distribution must be one of"),
        (lambda: RBF(ard="yes"), "ard must be true or false"),
        (lambda: RBF(lengthscale="0.1"), "lengthscale must be a finite number or a Hyperprior"),
        (lambda: Periodic(period=Choice([0.5, 0.0])), "period must be positive"),
        (lambda: Linear(offset=float("inf")), "offset must be a finite number"),
        (lambda: RBF() + "rbf", "kernels must be a non-empty list of Kernel objects"),
        (lambda: BNNPrior(num_layers=0), "num_layers must be an integer >= 1 or a Choice"),
        (lambda: BNNPrior(num_layers=1.5), "num_layers must be an integer >= 1"),
        (lambda: BNNPrior(num_layers=LogUniform(1, 3)), "num_layers must be an integer >= 1"),
        (lambda: BNNPrior(width=Choice([16, 32.5])), "width must be an integer >= 1"),
        (lambda: BNNPrior(activations="tanh"), "activations must be a non-empty list of names"),
        (lambda: BNNPrior(activations=["swish"]), "activations must be a non-empty list of names"),
        (lambda: BNNPrior(noise_std=-0.1), "noise_std must be non-negative"),
        (lambda: BNNPrior(bias_scale=-1), "bias_scale must be non-negative"),
        (lambda: BNNPrior(weight_scale=None), "weight_scale must be a finite number or a Hyperprior"),
        (lambda: BNNClassificationPrior(num_classes=1), "num_classes must be an integer >= 2"),
        (lambda: BNNClassificationPrior(num_classes=2.5), "num_classes must be an integer >= 2"),
        (lambda: BNNClassificationPrior(method="softmax"), "method must be one of"),
        (lambda: LearningCurvePrior(families="pow3"), "families must be a non-empty list of names"),
        (lambda: LearningCurvePrior(families=[]), "families must be a non-empty list of names"),
        (lambda: LearningCurvePrior(noise_log_mean=float("nan")), "noise_log_mean must be a finite number"),
        (lambda: LearningCurvePrior(noise_log_std=0), "noise_log_std must be a finite number > 0"),
        (lambda: LearningCurvePrior(weights="softmax"), "weights must be one of"),
        (lambda: LearningCurvePrior(max_epochs=0), "max_epochs must be an integer >= 1"),
        (lambda: LearningCurvePrior(max_tries=2.0), "max_tries must be an integer >= 1"),
        (lambda: MixturePrior([]), "priors must be a non-empty list"),
        (lambda: MixturePrior([GPPrior(), 42]), r"priors\[1\]: a prior must have a sample"),
        (lambda: MixturePrior([GPPrior(), GPPrior()], weights=["a", "b"]), "weights must be 2 non-negative"),
        (lambda: MixturePrior([GPPrior()], per="step"), "per must be one of"),
        (lambda: FunctionPrior(42), "fn must be a callable or a dotted path"),
        (lambda: FunctionPrior("tests.test_priors.nothing_here"), "has no attribute 'nothing_here'"),
        (lambda: FunctionPrior("no_such_package.fn"), "cannot import module 'no_such_package'"),
        (lambda: FunctionPrior(constant_prior, max_features=0), "max_features must be an integer >= 1"),
        (lambda: FunctionPrior(constant_prior, samples_on_any_device="no"), "samples_on_any_device must be true"),
        (lambda: Choice([]), "Choice values must be a non-empty list"),
        (lambda: Choice([1, 2], weights=[1]), "Choice weights must be 2 non-negative numbers"),
        (lambda: Uniform(0, float("nan")), "Uniform high must be a finite number"),
        (lambda: LogUniform(0, 1), "LogUniform low must be a finite number > 0"),
        (lambda: LogNormal(0, -1), "LogNormal scale must be a finite number > 0"),
        (lambda: Gamma(0, 1), "Gamma concentration must be a finite number > 0"),
    ],
)
def test_constructor_arguments_are_checked_by_name(build, match):
    """Every prior, kernel and hyperprior refuses a bad argument at once with a ValueError naming it
    (not later, inside sampling, with an error about something else)."""
    with pytest.raises(ValueError, match=match):
        build()


def test_stream_pads_unused_features_with_zeros():
    stream = PriorStream(GPPrior(max_features=4), 4, 10, 4, 0, 5, seed=0, min_features=1)
    dims = set()
    for _, batch in zip(range(30), stream, strict=False):
        active = int((batch["x"].abs().sum((0, 1)) > 0).sum())
        assert (batch["x"][..., active:] == 0).all()
        dims.add(active)
    assert dims == {1, 2, 3, 4}
