"""The BoTorch adapter (pfn/bo/botorch_model.py): PFNModel's posterior is the PFN's predictive, its gradients,
the exact (log) expected improvement, reparameterised samples, optimize_acqf inside bounds, a small BO loop,
conditioning and fantasies, and clear errors."""

import pytest
import torch

pytest.importorskip("botorch")
from botorch.acquisition import (  # noqa: E402
    ExpectedImprovement,
    LogExpectedImprovement,
    ProbabilityOfImprovement,
    UpperConfidenceBound,
    qLogExpectedImprovement,
)
from botorch.acquisition.objective import ScalarizedPosteriorTransform  # noqa: E402
from botorch.optim import optimize_acqf  # noqa: E402
from botorch.sampling.normal import SobolQMCNormalSampler  # noqa: E402

import pfn  # noqa: E402
import pfn.inference.predictor as predictor_module  # noqa: E402
from pfn.bo import botorch_model  # noqa: E402
from pfn.bo.botorch_model import PFNExpectedImprovement, PFNLogExpectedImprovement, PFNModel  # noqa: E402
from pfn.model import PFNTransformer  # noqa: E402
from pfn.model.categorical import Categorical  # noqa: E402

BOUNDS = torch.tensor([[-5.0, 0.0, 10.0], [5.0, 2.0, 20.0]], dtype=torch.float64)
H = 1e-5  # central finite-difference step, as a fraction of each input's range


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The shipped models are small: one thread is fastest, and spares a busy machine (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def predictor():
    return pfn.load("gp-hyper", dtype="float64")  # 3 features, up to 100 observations, x and y standardised


def _in_bounds(u):
    """Points of the unit cube mapped into BOUNDS."""
    return BOUNDS[0] + (BOUNDS[1] - BOUNDS[0]) * u


def _unit(n, *batch, seed):
    """(*batch, n, 3) random points of [0.1, 0.9]^3."""
    return 0.1 + 0.8 * torch.rand(*batch, n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def data():
    u = _unit(12, seed=0)
    return u, torch.sin(5 * u).sum(-1, keepdim=True)  # observed inputs in the unit cube (n, 3), values (n, 1)


@pytest.fixture(scope="module")
def model(predictor, data):
    u, y = data
    return PFNModel(_in_bounds(u), y, predictor, BOUNDS)


@pytest.fixture(scope="module")
def reference(predictor, data):
    """The predictor itself, conditioned on the same observations in the unit cube."""
    u, y = data
    return predictor.condition(u, y[:, 0])


# -- the posterior is the PFN's predictive ------------------------------------------------------
@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_posterior_is_the_pfns_predictive(model, reference, batch):
    u = _unit(2, *batch, seed=1)  # (*batch, q = 2, 3)
    X = _in_bounds(u)
    post = model.posterior(X)
    assert post.mean.shape == post.variance.shape == (*batch, 2, 1)
    assert post.mean.dtype == torch.float64
    want = reference.predict(u.reshape(-1, 3))
    torch.testing.assert_close(post.mean.reshape(-1), want.mean, rtol=0, atol=1e-10)
    torch.testing.assert_close(post.variance.reshape(-1), want.variance, rtol=0, atol=1e-10)
    differentiable = model.posterior(X.clone().requires_grad_(True))  # the differentiable path: the same numbers
    assert differentiable.mean.requires_grad
    torch.testing.assert_close(differentiable.mean.detach(), post.mean, rtol=0, atol=1e-10)
    noisy = model.posterior(X, observation_noise=True)  # the PFN's predictive already is for noisy observations
    torch.testing.assert_close(noisy.variance, post.variance, rtol=0, atol=0)


def test_bounds_map_to_the_unit_interval_of_a_model_in_its_priors_units():
    gp = pfn.load("gp", dtype="float64")  # 1 feature on [0, 1], x not standardised: the map matters
    g = torch.Generator().manual_seed(0)
    u, u_test = torch.rand(8, 1, generator=g, dtype=torch.float64), torch.rand(5, 1, generator=g, dtype=torch.float64)
    y = torch.sin(6 * u)
    bounds = torch.tensor([[2.0], [4.0]], dtype=torch.float64)
    post = PFNModel(2 + 2 * u, y, gp, bounds).posterior(2 + 2 * u_test)
    want = gp.condition(u, y[:, 0]).predict(u_test)
    torch.testing.assert_close(post.mean[:, 0], want.mean, rtol=0, atol=1e-10)
    torch.testing.assert_close(post.variance[:, 0], want.variance, rtol=0, atol=1e-10)


def test_differentiable_queries_beyond_one_call_are_split(model, reference, monkeypatch):
    """With a limit of 3 differentiable queries per call (on both sides), 10 queries take four calls."""
    limit = 3 * model.predictor.net.num_bins
    monkeypatch.setattr(botorch_model, "STORED_ELEMENTS", limit)
    monkeypatch.setattr(predictor_module, "STORED_ELEMENTS", limit)
    X = _in_bounds(_unit(1, 10, seed=15))
    with pytest.raises(ValueError, match="queries per call"):  # the predictor's own limit is in force
        reference.predict(_unit(10, seed=15), differentiable=True)
    Xg = X.clone().requires_grad_(True)
    mean = model.posterior(Xg).mean
    torch.testing.assert_close(mean.detach(), model.posterior(X).mean, rtol=0, atol=1e-12)
    mean.sum().backward()
    monkeypatch.undo()
    torch.testing.assert_close(Xg.grad, _gradient(lambda X: model.posterior(X).mean[..., 0, 0], X), rtol=1e-9, atol=0)


def test_scalarized_posterior_transform(model):
    X = _in_bounds(_unit(3, seed=2))
    post = model.posterior(X)
    flipped = model.posterior(X, posterior_transform=ScalarizedPosteriorTransform(torch.tensor([-2.0]), offset=1.0))
    torch.testing.assert_close(flipped.mean, 1 - 2 * post.mean)
    torch.testing.assert_close(flipped.variance, 4 * post.variance)
    base = torch.randn(5, 3, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(flipped.rsample(torch.Size([5]), base), 1 - 2 * post.rsample(torch.Size([5]), base))


# -- gradients ----------------------------------------------------------------------------------
def _finite_difference(f, X):
    """Points are independent, so shifting input j of every point at once gives d f_i / d x_ij."""
    fd = torch.empty_like(X)
    for j in range(X.shape[-1]):
        h = H * (BOUNDS[1, j] - BOUNDS[0, j])
        up, down = X.clone(), X.clone()
        up[..., j] += h
        down[..., j] -= h
        with torch.no_grad():
            fd[..., j] = ((f(up) - f(down)) / (2 * h)).unsqueeze(-1)
    return fd


def _gradient(f, X):
    X = X.clone().requires_grad_(True)
    f(X).sum().backward()
    return X.grad


@pytest.mark.parametrize("what", ["posterior mean", "PFNLogEI", "PFNLogEI far from the incumbent", "PFNEI minimize"])
def test_gradients_agree_with_finite_differences(model, data, what):
    best = float(data[1].max())
    f = {
        "posterior mean": lambda X: model.posterior(X).mean[..., 0, 0],
        "PFNLogEI": PFNLogExpectedImprovement(model, best),
        "PFNLogEI far from the incumbent": PFNLogExpectedImprovement(model, best + 20),
        "PFNEI minimize": PFNExpectedImprovement(model, float(data[1].min()), maximize=False),
    }[what]
    X = _in_bounds(_unit(1, 6, seed=3))  # (6, 1, 3)
    grad, fd = _gradient(f, X), _finite_difference(f, X)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert (grad - fd).norm() / fd.norm() <= 1e-3


# -- exact expected improvement -----------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:ExpectedImprovement has known numerical issues")
@pytest.mark.parametrize("maximize", [True, False])
def test_pfn_ei_is_the_bar_distributions_exact_ei(model, reference, data, maximize):
    u = _unit(1, 64, seed=4)
    X = _in_bounds(u)
    best = float(data[1].max() if maximize else data[1].min())
    ei = PFNExpectedImprovement(model, best, maximize=maximize)(X)
    assert ei.shape == (64,)
    want = reference.predict(u[:, 0]).expected_improvement(best, maximize=maximize)
    torch.testing.assert_close(ei, want, rtol=1e-12, atol=1e-14)
    # not BoTorch's Gaussian EI from the same mean and variance
    gaussian = ExpectedImprovement(model, best, maximize=maximize)(X)
    assert ((ei - gaussian).abs() / ei).median() > 0.1
    # log EI is log EI where EI is not tiny
    log_ei = PFNLogExpectedImprovement(model, best, maximize=maximize)(X)
    keep = ei > 1e-6
    assert keep.sum() > 10
    torch.testing.assert_close(log_ei[keep].exp(), ei[keep], rtol=1e-9, atol=0)


def test_log_ei_stays_finite_where_ei_underflows():
    gp = pfn.load("gp", dtype="float64")  # half-normal tails: the expected improvement far out underflows to 0
    model = PFNModel(
        torch.tensor([[0.2], [0.5], [0.9]], dtype=torch.float64),
        torch.tensor([[0.1], [-0.2], [0.3]], dtype=torch.float64),
        gp,
    )
    X = torch.rand(5, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    post = model.posterior(X)
    best = float((post.mean + 1e4 * post.variance.sqrt()).max())
    assert (PFNExpectedImprovement(model, best)(X) == 0).all()
    assert torch.isfinite(PFNLogExpectedImprovement(model, best)(X)).all()


def test_q_greater_than_one_points_to_sequential(model, data):
    with pytest.raises(ValueError, match="sequential=True"):
        PFNLogExpectedImprovement(model, float(data[1].max()))(_in_bounds(_unit(2, 4, seed=5)))


# -- samples ------------------------------------------------------------------------------------
def test_rsample_matches_the_posterior_moments(model):
    post = model.posterior(_in_bounds(_unit(1, 4, seed=6)))  # (4, 1, 1)
    n = 20_000
    base = torch.randn(n, 4, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    draws = post.rsample(torch.Size([n]), base_samples=base)
    assert draws.shape == (n, 4, 1, 1)
    centred = draws - post.mean
    se_mean = (post.variance / n).sqrt()
    se_variance = (((centred**4).mean(0) - post.variance**2) / n).sqrt()  # of the sample variance
    assert (centred.mean(0).abs() <= 4 * se_mean).all()
    assert ((centred**2).mean(0) - post.variance).abs().le(4 * se_variance).all()


def test_rsample_is_the_inverse_cdf_at_the_base_samples(model):
    X = _in_bounds(_unit(3, 2, seed=7))  # (2, 3, 3)
    levels = [1e-6, 0.01, 0.2, 0.5, 0.77, 0.999, 1 - 1e-6]  # the first and last in the tails (mass > 1e-5 each)
    base = torch.special.ndtri(torch.tensor(levels, dtype=torch.float64)).reshape(7, 1, 1, 1).expand(7, 2, 3, 1)
    draws = model.posterior(X).rsample(torch.Size([7]), base_samples=base)
    quantiles = model.predictive(X).quantile(levels)  # (2, 3, 7), the bar distribution's own icdf
    torch.testing.assert_close(draws[..., 0], quantiles.permute(2, 0, 1), rtol=1e-10, atol=1e-10)


def test_botorch_samplers_share_base_samples_across_t_batches_not_points(model):
    X = _in_bounds(_unit(1, seed=16)).expand(3, 2, 3)  # 3 t-batches of q = 2 copies of one point
    samples = SobolQMCNormalSampler(torch.Size([64]), seed=0)(model.posterior(X))
    assert samples.shape == (64, 3, 2, 1)
    # the same draws in every t-batch (comparable acquisition values), up to the rounding of a batched forward pass
    torch.testing.assert_close(samples, samples[:, :1].expand_as(samples), rtol=0, atol=1e-9)
    assert (samples[:, :, 0] != samples[:, :, 1]).any()  # independent draws at the q points


def test_rsample_is_differentiable(model):
    base = torch.randn(3, 5, 1, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def f(X):  # the mean of three draws at each point, with fixed base samples
        return model.posterior(X).rsample(torch.Size([3]), base_samples=base)[..., 0, 0].mean(0)

    X = _in_bounds(_unit(1, 5, seed=8))
    grad, fd = _gradient(f, X), _finite_difference(f, X)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert (grad - fd).norm() / fd.norm() <= 1e-3


# -- optimize_acqf ------------------------------------------------------------------------------
ACQUISITIONS = {
    "PFNLogEI": lambda m, best: PFNLogExpectedImprovement(m, best),
    "PFNEI": lambda m, best: PFNExpectedImprovement(m, best),
    "LogEI": lambda m, best: LogExpectedImprovement(m, best),
    "UCB": lambda m, best: UpperConfidenceBound(m, beta=2.0),
    "PI": lambda m, best: ProbabilityOfImprovement(m, best),
    "qLogEI": lambda m, best: qLogExpectedImprovement(m, best),
}


@pytest.mark.parametrize("name", sorted(ACQUISITIONS))
def test_optimize_acqf_stays_inside_bounds(model, data, name):
    torch.manual_seed(0)
    acqf = ACQUISITIONS[name](model, float(data[1].max()))
    x, value = optimize_acqf(acqf, BOUNDS, q=1, num_restarts=4, raw_samples=64, options={"maxiter": 50})
    assert x.shape == (1, 3) and torch.isfinite(value)
    assert ((x >= BOUNDS[0]) & (x <= BOUNDS[1])).all()


def test_sequential_batch_of_distinct_points_inside_bounds(model, data):
    torch.manual_seed(0)
    acqf = PFNLogExpectedImprovement(model, float(data[1].max()))
    x, _ = optimize_acqf(acqf, BOUNDS, q=3, num_restarts=4, raw_samples=64, sequential=True, options={"maxiter": 50})
    assert x.shape == (3, 3)
    assert ((x >= BOUNDS[0]) & (x <= BOUNDS[1])).all()
    assert torch.cdist(x, x).add(torch.eye(3)).min() > 1e-3
    assert acqf.X_pending is None  # optimize_acqf restores the pending points it found


def test_pending_points_join_the_context_at_their_predicted_mean(model, data):
    best = float(data[1].max())
    pending = _in_bounds(_unit(2, seed=9))
    acqf = PFNLogExpectedImprovement(model, best, X_pending=pending)
    believer = model.condition_on_observations(pending, model.posterior(pending).mean)
    X = _in_bounds(_unit(1, 8, seed=10))
    torch.testing.assert_close(acqf(X), PFNLogExpectedImprovement(believer, best)(X), rtol=0, atol=0)
    assert (acqf(pending.unsqueeze(-2)) < PFNLogExpectedImprovement(model, best)(pending.unsqueeze(-2))).all()


def _objective(x):
    """A smooth function on [0, 1]^2 to maximise: its maximum, -0.1215, is near (0.55, 0.25)."""
    return -4 * ((x - torch.tensor([0.7, 0.25], dtype=x.dtype)) ** 2).sum(-1) + 0.2 * torch.sin(6 * x[..., 0])


def test_a_short_bo_loop_improves_on_random_search(predictor):
    unit_square = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    bo_best, random_best = [], []
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        X = torch.rand(5, 2, generator=g, dtype=torch.float64)
        Y = _objective(X).unsqueeze(-1)
        torch.manual_seed(seed)
        for _ in range(8):
            acqf = PFNLogExpectedImprovement(PFNModel(X, Y, predictor), Y.max())
            x, _ = optimize_acqf(acqf, unit_square, q=1, num_restarts=4, raw_samples=64, options={"maxiter": 50})
            X, Y = torch.cat([X, x]), torch.cat([Y, _objective(x).unsqueeze(-1)])
        assert Y[5:].max() > Y[:5].max()
        bo_best.append(float(Y.max()))
        random_best.append(float(_objective(torch.rand(13, 2, generator=g, dtype=torch.float64)).max()))
    assert sum(bo_best) > sum(random_best)


# -- conditioning and fantasies -----------------------------------------------------------------
def test_condition_on_observations_is_a_model_of_all_the_data(model, predictor, data):
    u, y = data
    X_new, Y_new = _in_bounds(_unit(3, seed=11)), torch.randn(3, 1, generator=torch.Generator().manual_seed(0))
    conditioned = model.condition_on_observations(X_new, Y_new.double())
    direct = PFNModel(torch.cat([_in_bounds(u), X_new]), torch.cat([y, Y_new.double()]), predictor, BOUNDS)
    X = _in_bounds(_unit(4, seed=12))
    torch.testing.assert_close(conditioned.posterior(X).mean, direct.posterior(X).mean, rtol=0, atol=0)
    torch.testing.assert_close(conditioned.posterior(X).variance, direct.posterior(X).variance, rtol=0, atol=0)
    assert not torch.allclose(conditioned.posterior(X).mean, model.posterior(X).mean)


def test_fantasize_gives_one_model_per_fantasy(model, predictor, data):
    u, y = data
    X_new = _in_bounds(_unit(2, 3, seed=13))  # a batch of 3 sets of 2 points
    fantasy = model.fantasize(X_new, SobolQMCNormalSampler(torch.Size([4]), seed=0))
    assert fantasy.batch_shape == (4, 3) and fantasy.train_X.shape == (4, 3, 14, 3)
    X = _in_bounds(_unit(5, seed=14))
    post = fantasy.posterior(X)
    assert post.mean.shape == (4, 3, 5, 1)
    X_more = _in_bounds(_unit(5, 2, 4, 3, seed=15))  # a test batch beyond the model's: (2, 4, 3, 5, 3)
    post_more = fantasy.posterior(X_more)
    assert post_more.mean.shape == (2, 4, 3, 5, 1)
    for i, j in [(0, 0), (2, 1), (3, 2)]:  # one fantasy: the model of the observations plus that fantasy's values
        Y_ij = torch.cat([y, fantasy.train_Y[i, j, 12:]])
        one = PFNModel(torch.cat([_in_bounds(u), X_new[j]]), Y_ij, predictor, BOUNDS)
        torch.testing.assert_close(post.mean[i, j], one.posterior(X).mean, rtol=0, atol=1e-12)
        for lead in range(2):
            torch.testing.assert_close(post_more.mean[lead, i, j], one.posterior(X_more[lead, i, j]).mean)


# -- clear errors -------------------------------------------------------------------------------
def test_bad_observations_raise_errors_naming_the_argument(predictor, data):
    u, y = data
    X = _in_bounds(u)
    with pytest.raises(ValueError, match="train_X has d = 4 input dimensions.*takes 1 to 3"):
        PFNModel(torch.rand(12, 4, dtype=torch.float64), y, predictor)
    with pytest.raises(ValueError, match="train_Y contains NaN"):
        PFNModel(X, torch.where(torch.arange(12).unsqueeze(-1) == 3, torch.nan, y), predictor, BOUNDS)
    with pytest.raises(ValueError, match=r"train_X has values outside bounds in input dimension\(s\) \[1\]"):
        PFNModel(X + torch.tensor([0.0, 2.0, 0.0], dtype=torch.float64), y, predictor, BOUNDS)
    with pytest.raises(ValueError, match="train_X has 101 observations.*at most 100"):
        PFNModel(torch.rand(101, 3, dtype=torch.float64), torch.rand(101, 1, dtype=torch.float64), predictor)
    with pytest.raises(ValueError, match="train_Y must have shape"):
        PFNModel(X, y[:-1], predictor, BOUNDS)
    with pytest.raises(ValueError, match="bounds must"):
        PFNModel(X, y, predictor, BOUNDS[:, :2])
    classifier = pfn.Predictor(PFNTransformer(num_features=3, num_bins=4, d_model=16, n_layers=1, n_heads=2, d_ff=16),
                               Categorical(4), {})  # fmt: skip
    with pytest.raises(ValueError, match="model must be a regression PFN"):
        PFNModel(X, y, classifier, BOUNDS)
