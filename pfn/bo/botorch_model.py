"""BoTorch adapter: a PFN as a BoTorch ``Model``, its ``Posterior``, and exact expected-improvement acquisitions.

    from botorch.optim import optimize_acqf
    from pfn.bo.botorch_model import PFNLogExpectedImprovement, PFNModel

    model = PFNModel(train_X, train_Y, bounds=bounds)       # nothing is fitted: the PFN reads the data
    acqf = PFNLogExpectedImprovement(model, best_f=train_Y.max())
    x_next, _ = optimize_acqf(acqf, bounds=bounds, q=1, num_restarts=8, raw_samples=256)

BoTorch's own acquisitions run on :class:`PFNModel` too: the analytic ones (``LogExpectedImprovement``,
``UpperConfidenceBound``, ...) see only the predictive's mean and variance, i.e. a Gaussian with the
PFN's moments; the Monte Carlo ones (``qLogExpectedImprovement``, ...) sample the PFN's own predictive.
The PFN predicts each point given the observations alone, so the posterior over q points is a set of
independent marginals, not a joint distribution: samples at different points are independent. Joint
Monte Carlo batches (q > 1, or pending points in a Monte Carlo acquisition) therefore reward picking
the same point twice. :class:`PFNLogExpectedImprovement` integrates the bar distribution exactly and
chooses a batch of q points greedily (``optimize_acqf(..., q=q, sequential=True)``) with
kriging-believer fantasies.

BoTorch is an optional dependency: ``pip install 'pfn[bo]'``.
"""

from __future__ import annotations

import os
from typing import Any, cast

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

try:
    from botorch.acquisition import AcquisitionFunction
    from botorch.acquisition.objective import PosteriorTransform, ScalarizedPosteriorTransform
    from botorch.models.model import FantasizeMixin, Model
    from botorch.posteriors import Posterior
    from botorch.sampling.base import MCSampler
    from botorch.sampling.get_sampler import GetSampler
    from botorch.sampling.normal import IIDNormalSampler, SobolQMCNormalSampler
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("the BoTorch adapter (pfn.bo.botorch_model) needs botorch: pip install 'pfn[bo]'") from error

from pfn.inference import PosteriorPredictive, Predictor, load
from pfn.inference.memory import STORED_ELEMENTS


# -- the model --------------------------------------------------------------------------------
class PFNModel(Model, FantasizeMixin):
    """A PFN as a single-output BoTorch model: the posterior at ``X`` is the PFN's posterior predictive
    given the observations ``(train_X, train_Y)``, in one forward pass.

    Nothing is fitted: the observations are encoded once (the PFN's context), and conditioning on more
    observations encodes a larger context (:meth:`condition_on_observations`, which BoTorch's
    ``fantasize`` uses). Inputs in ``bounds`` are mapped to [0, 1]^d before the PFN sees them.

    The PFN's predictive is for noisy observations y (its prior includes observation noise, whose
    level it infers from the data), so ``observation_noise`` makes no difference to :meth:`posterior`.

    Args:
        train_X: (n, d) observed inputs inside ``bounds``, or (*batch, n, d) for a batch of models
            (one context each, as ``fantasize`` makes); n may be 0.
        train_Y: (n, 1) or (n,) observed values, or (*batch, n, 1).
        model: the PFN: a loaded :class:`pfn.Predictor`, or a shipped model's name or a checkpoint path
            (then loaded in float64, BoTorch's working precision). It must be a regression model that
            takes d features and, if it works in its prior's x units, inputs in [0, 1].
        bounds: (2, d) lower and upper bound of each input; default the unit cube.
    """

    likelihood = None  # read by BoTorch's fantasize: no GPyTorch likelihood, the noise is in the PFN's predictive

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        model: str | os.PathLike | Predictor = "bo",
        bounds: Tensor | None = None,
    ) -> None:
        super().__init__()
        predictor = model if isinstance(model, Predictor) else load(model, dtype="float64")
        if predictor.is_classifier:
            raise ValueError("model must be a regression PFN; this one is a classifier")
        if predictor.x_range not in (None, (0.0, 1.0)):
            raise ValueError(f"model takes inputs in {predictor.x_range}, but PFNModel maps bounds to [0, 1]")
        train_X, train_Y = _check_observations(train_X, train_Y, predictor)
        self.bounds = _check_bounds(bounds, train_X)
        outside = ((train_X < self.bounds[0]) | (train_X > self.bounds[1])).reshape(-1, train_X.shape[-1]).any(0)
        if outside.any():
            raise ValueError(
                f"train_X has values outside bounds in input dimension(s) {outside.nonzero().flatten().tolist()}; "
                "pass bounds that contain every observation"
            )
        self.predictor, self.train_X, self.train_Y = predictor, train_X, train_Y
        k, (n, d) = self.batch_shape.numel(), train_X.shape[-2:]  # k contexts, one per model in the batch
        self._context = predictor.condition(self._unit(train_X).reshape(k, n, d), train_Y.reshape(k, n))

    @property
    def num_outputs(self) -> int:
        """One output: the PFN predicts a scalar."""
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        """The batch of models, one context each: ``train_X``'s leading dimensions."""
        return self.train_X.shape[:-2]

    def _unit(self, X: Tensor) -> Tensor:
        """X (..., d) mapped from ``bounds`` to [0, 1]^d."""
        lower, upper = self.bounds.to(X)
        return (X - lower) / (upper - lower)

    def predictive(self, X: Tensor) -> PosteriorPredictive:
        """The PFN's full posterior predictive at X (*batch, q, d), of shape ``broadcast(batch, batch_shape) + (q,)``:
        mean, variance, quantiles, cdf, exact (log) expected improvement, ..., in the units of ``train_Y``.

        Differentiable in X when autograd is on and X requires grad (the network's differentiable path);
        otherwise the fast inference path, with the same numbers. All queries go through one prediction
        (several when they exceed what one differentiable prediction may hold).
        """
        d = self.train_X.shape[-1]
        if X.dim() < 2 or X.shape[-1] != d:
            raise ValueError(f"X must have shape (*batch, q, d) with d = {d} input dimensions, got {tuple(X.shape)}")
        q = X.shape[-2]
        batch = torch.broadcast_shapes(X.shape[:-2], self.batch_shape)
        k = self.batch_shape.numel()  # contexts
        lead = batch[: len(batch) - len(self.batch_shape)].numel()  # X's batch beyond the model's: same contexts
        # group the queries by the context they see: (lead, k, q, d) -> (k, lead * q, d)
        x = self._unit(X).expand(*batch, q, d).reshape(lead, k, q, d).transpose(0, 1).reshape(k, lead * q, d)
        differentiable = torch.is_grad_enabled() and X.requires_grad
        bins = self.predictor.net.num_bins
        step = max(1, STORED_ELEMENTS // (k * bins)) if differentiable else max(1, lead * q)
        parts = [
            _regression(self._context.predict(x[:, i : i + step], differentiable))
            for i in range(0, x.shape[1] or 1, step)
        ]
        logits = torch.cat([part.logits for part in parts], dim=1)  # (k, lead * q, K)
        logits = logits.reshape(k, lead, q, bins).transpose(0, 1).reshape(*batch, q, bins)
        loc, scale = (t.reshape(1, k, 1).expand(lead, k, q).reshape(*batch, q) for t in (parts[0].loc, parts[0].scale))
        return PosteriorPredictive(logits, parts[0].bar, loc, scale, numpy=False, differentiable=differentiable)

    def posterior(  # type: ignore[override]  # Model's signature (FantasizeMixin declares a narrower one)
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: PosteriorTransform | None = None,
    ) -> PFNPosterior:
        """The posterior at X (*batch, q, d): a :class:`PFNPosterior`, shape ``broadcast(batch, batch_shape) + (q, 1)``.

        Args:
            X: inputs in the units of ``bounds``.
            output_indices: None or [0] (the one output).
            observation_noise: True or False, the same posterior: the PFN's predictive is already for noisy
                observations. Given noise levels (a tensor) are not supported.
            posterior_transform: None, or a ``ScalarizedPosteriorTransform`` (weight and offset of the one output).
        """
        if output_indices is not None and list(output_indices) != [0]:
            raise ValueError(f"output_indices must be None or [0] (PFNModel has one output), got {output_indices!r}")
        if isinstance(observation_noise, Tensor):
            raise NotImplementedError(
                "observation_noise: PFNModel's predictive already includes the noise the PFN infers from the data; "
                "given noise levels are not supported (pass True or False)"
            )
        weight, offset = 1.0, 0.0
        if isinstance(posterior_transform, ScalarizedPosteriorTransform):
            weights = cast(Tensor, posterior_transform.weights)
            if weights.numel() != 1:
                raise ValueError(f"posterior_transform must have one weight (one output), got {weights.numel()}")
            weight, offset = float(weights), float(posterior_transform.offset)
        elif posterior_transform is not None:
            raise NotImplementedError(
                f"PFNModel supports ScalarizedPosteriorTransform only, got {type(posterior_transform).__name__}"
            )
        return PFNPosterior(self.predictive(X), X, weight, offset)

    def condition_on_observations(self, X: Tensor, Y: Tensor, **kwargs: Any) -> PFNModel:
        """A new PFNModel whose context also holds ``(X, Y)``: nothing is refitted, the PFN reads the larger context.

        Args:
            X: (*batch, n', d) new inputs inside ``bounds``.
            Y: (*batch', n', 1) their values. The batch shapes broadcast with the model's: BoTorch's
                ``fantasize`` passes Y with a leading fantasy dimension and gets a batch of models, one per fantasy.
        """
        if kwargs:
            raise NotImplementedError(f"PFNModel.condition_on_observations takes no options, got {sorted(kwargs)}")
        batch = torch.broadcast_shapes(self.batch_shape, X.shape[:-2], Y.shape[:-2])
        train_X = torch.cat([self.train_X.expand(*batch, -1, -1), X.to(self.train_X).expand(*batch, -1, -1)], -2)
        train_Y = torch.cat([self.train_Y.expand(*batch, -1, -1), Y.to(self.train_Y).expand(*batch, -1, -1)], -2)
        return PFNModel(train_X, train_Y, self.predictor, self.bounds)


def _regression(prediction: Any) -> PosteriorPredictive:
    """A prediction, typed as the regression predictive it is."""
    assert isinstance(prediction, PosteriorPredictive)  # PFNModel refuses classifiers
    return prediction


def _check_observations(train_X: Any, train_Y: Any, predictor: Predictor) -> tuple[Tensor, Tensor]:
    """train_X (*batch, n, d) and train_Y (*batch, n, 1), detached and checked against the predictor."""
    if not isinstance(train_X, Tensor) or train_X.dim() < 2:
        shape = tuple(train_X.shape) if isinstance(train_X, Tensor) else type(train_X).__name__
        raise ValueError(f"train_X must be a tensor of shape (n, d) or (*batch, n, d), got {shape}")
    if isinstance(train_Y, Tensor) and train_X.dim() == 2 and train_Y.dim() == 1:
        train_Y = train_Y.unsqueeze(-1)
    want = (*train_X.shape[:-1], 1)
    if not isinstance(train_Y, Tensor) or train_Y.shape != want:
        shape = tuple(train_Y.shape) if isinstance(train_Y, Tensor) else type(train_Y).__name__
        raise ValueError(f"train_Y must have shape {want}, one value per row of train_X, got {shape}")
    n, d = train_X.shape[-2:]
    if not predictor.min_features <= d <= predictor.num_features:
        takes = f"{predictor.min_features} to {predictor.num_features}"
        raise ValueError(f"train_X has d = {d} input dimensions, but this model takes {takes} (its num_features)")
    for name, t in (("train_X", train_X), ("train_Y", train_Y)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or inf; leave failed evaluations out")
    if predictor.max_context is not None and n > predictor.max_context:
        raise ValueError(
            f"train_X has {n} observations, but this model takes at most {predictor.max_context} (its max_context); "
            "keep the best and a sample of the rest"
        )
    return train_X.detach(), train_Y.detach()


def _check_bounds(bounds: Tensor | None, train_X: Tensor) -> Tensor:
    """(2, d) finite bounds with lower < upper; the unit cube when None."""
    d = train_X.shape[-1]
    if bounds is None:
        return torch.stack([torch.zeros(d), torch.ones(d)]).to(train_X.device, torch.float64)
    if not isinstance(bounds, Tensor) or bounds.shape != (2, d):
        shape = tuple(bounds.shape) if isinstance(bounds, Tensor) else type(bounds).__name__
        raise ValueError(f"bounds must be a tensor of shape (2, {d}) (lower and upper bounds), got {shape}")
    if not torch.isfinite(bounds).all() or not (bounds[0] < bounds[1]).all():
        raise ValueError(f"bounds must be finite with lower < upper in every dimension, got {bounds.tolist()}")
    return bounds.detach()


# -- the posterior ----------------------------------------------------------------------------
class PFNPosterior(Posterior):
    """The PFN's posterior predictive at X (*batch, q, d): a bar distribution over y at each point.

    ``mean`` and ``variance`` are the bar distributions' exact moments, shape (*batch, q, 1), in X's
    dtype. Samples are reparameterised through the inverse cdf: ``y = F^{-1}(Phi(e))`` with ``e`` the
    standard normal base samples BoTorch's samplers draw (``Phi(e)`` is uniform), so they are
    differentiable in X through the predictive's logits. The q points' draws are independent: the PFN
    gives each point's marginal, not their joint distribution.

    Made by :meth:`PFNModel.posterior`; a scalarising posterior transform makes it the posterior of
    ``offset + weight * y``.
    """

    def __init__(self, predictive: PosteriorPredictive, X: Tensor, weight: float = 1.0, offset: float = 0.0):
        self.predictive = predictive
        self.weight, self.offset = weight, offset
        self._device, self._dtype = X.device, X.dtype

    @property
    def device(self) -> torch.device:
        """X's device."""
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        """X's dtype."""
        return self._dtype

    def _out(self, y: Tensor) -> Tensor:
        """y (...) in the posterior's units, device and dtype, with the output axis: (..., 1)."""
        return (self.offset + self.weight * y).unsqueeze(-1).to(self._device, self._dtype)

    @property
    def mean(self) -> Tensor:
        """Predictive mean, (*batch, q, 1)."""
        return self._out(torch.as_tensor(self.predictive.mean))

    @property
    def variance(self) -> Tensor:
        """Predictive variance, (*batch, q, 1)."""
        return (self.weight**2 * torch.as_tensor(self.predictive.variance)).unsqueeze(-1).to(self._device, self._dtype)

    @property
    def base_sample_shape(self) -> torch.Size:
        """One standard normal base sample per point: (*batch, q, 1)."""
        return torch.Size((*self.predictive.shape, 1))

    @property
    def batch_range(self) -> tuple[int, int]:
        """The t-batch dimensions of ``base_sample_shape``: all but (q, 1); samplers share base samples across them."""
        return 0, -2

    def _extended_shape(self, sample_shape: torch.Size = torch.Size()) -> torch.Size:  # noqa: B008
        """The shape of samples: ``sample_shape + (*batch, q, 1)``."""
        return torch.Size(sample_shape) + self.base_sample_shape

    def rsample(self, sample_shape: torch.Size | None = None, base_samples: Tensor | None = None) -> Tensor:
        """Draws (*sample_shape, *batch, q, 1), differentiable in X.

        Args:
            sample_shape: how many draws; default one.
            base_samples: standard normal base samples of shape ``sample_shape + base_sample_shape``
                (default: fresh ones from torch's generator).
        """
        sample_shape = torch.Size([1]) if sample_shape is None else torch.Size(sample_shape)
        if base_samples is None:
            base_samples = torch.randn(self._extended_shape(sample_shape), device=self._device, dtype=self._dtype)
        return self.rsample_from_base_samples(sample_shape, base_samples)

    def rsample_from_base_samples(self, sample_shape: torch.Size, base_samples: Tensor) -> Tensor:
        """Draws ``F^{-1}(Phi(base_samples))`` of each point's predictive F: (*sample_shape, *batch, q, 1)."""
        shape = self._extended_shape(sample_shape)
        if base_samples.shape != shape:
            raise ValueError(f"base_samples must have shape {tuple(shape)}, got {tuple(base_samples.shape)}")
        pred = self.predictive
        logits = pred.logits.double()  # (*batch, q, K), with the graph back to X on the differentiable path
        s = len(sample_shape)
        levels = torch.special.ndtr(base_samples.double()).squeeze(-1)  # (*sample, *batch, q), uniform
        levels = levels.to(logits.device).reshape(-1, *pred.shape).movedim(0, -1)  # (*batch, q, draws)
        z = pred.bar.quantiles(logits, levels)
        y = pred.loc.unsqueeze(-1) + pred.scale.unsqueeze(-1) * z  # (*batch, q, draws)
        return self._out(y.movedim(-1, 0).reshape(*shape[: s + len(pred.shape)]))


@GetSampler.register(PFNPosterior)
def _get_sampler_pfn(posterior: PFNPosterior, sample_shape: torch.Size, *, seed: int | None = None) -> MCSampler:
    """BoTorch's default sampler for a PFN posterior: quasi-random (Sobol) normal base samples, i.i.d.
    ones beyond Sobol's dimension limit (q points at once)."""
    if posterior.base_sample_shape[-2:].numel() > SobolEngine.MAXDIM:
        return IIDNormalSampler(sample_shape=sample_shape, seed=seed)
    return SobolQMCNormalSampler(sample_shape=sample_shape, seed=seed)


# -- exact acquisitions -----------------------------------------------------------------------
class PFNExpectedImprovement(AcquisitionFunction):
    """Expected improvement over ``best_f``, integrated exactly over the PFN's bar-distribution predictive
    (:meth:`PosteriorPredictive.expected_improvement`), not BoTorch's Gaussian approximation.

    One point per t-batch: ``forward(X)`` maps X (b, 1, d) to (b,). For a batch of q points use
    ``optimize_acqf(acqf, bounds, q=q, sequential=True, ...)``: BoTorch then picks the points one at a
    time, each added to the pending points, and pending points join the context with their predicted
    mean as the observed value (greedy sequential "kriging believer" fantasies, not a joint q-EI).

    Args:
        model: the :class:`PFNModel`.
        best_f: the value to improve on (the best observation so far), one number.
        maximize: improvement is y > best_f (else y < best_f).
        X_pending: (p, d) points chosen but not yet observed (see :meth:`set_X_pending`).
    """

    model: PFNModel

    def __init__(
        self, model: PFNModel, best_f: float | Tensor, maximize: bool = True, X_pending: Tensor | None = None
    ) -> None:
        if not isinstance(model, PFNModel):
            raise ValueError(f"model must be a PFNModel, got {type(model).__name__}")
        super().__init__(model)
        best = torch.as_tensor(best_f, dtype=torch.float64).detach()
        if best.numel() != 1 or not torch.isfinite(best).all():
            raise ValueError(f"best_f must be one finite number, got {best_f!r}")
        self.best_f, self.maximize = float(best), maximize
        self.set_X_pending(X_pending)

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        """Points chosen but not yet observed, (p, d): they join the context with their predicted mean as the
        observed value (kriging believer), so the acquisition looks elsewhere. None clears them."""
        super().set_X_pending(X_pending)
        self._believer = self.model
        if self.X_pending is not None:
            with torch.no_grad():
                believed = self.model.posterior(self.X_pending).mean  # (..., p, 1)
            self._believer = self.model.condition_on_observations(self.X_pending, believed)

    def forward(self, X: Tensor) -> Tensor:
        """The acquisition at X (b, 1, d): (b,)."""
        if X.dim() < 3 or X.shape[-2] != 1:
            raise ValueError(
                f"{type(self).__name__} takes one point per t-batch, X of shape (b, 1, d), got {tuple(X.shape)}; "
                "for q points use optimize_acqf(..., q=q, sequential=True), which picks them one at a time"
            )
        return self._value(self._believer.predictive(X)).squeeze(-1).to(X)

    def _value(self, predictive: PosteriorPredictive) -> Tensor:
        return torch.as_tensor(predictive.expected_improvement(self.best_f, maximize=self.maximize))


class PFNLogExpectedImprovement(PFNExpectedImprovement):
    """log of :class:`PFNExpectedImprovement`, computed in log space
    (:meth:`PosteriorPredictive.log_expected_improvement`): finite, with useful gradients, far from the
    incumbent where expected improvement underflows to 0. The acquisition to optimise.

    Same arguments, shapes and batch scheme (q points by ``optimize_acqf(..., sequential=True)``,
    kriging-believer pending points) as :class:`PFNExpectedImprovement`.
    """

    _log = True  # BoTorch's marker for acquisitions in log space

    def _value(self, predictive: PosteriorPredictive) -> Tensor:
        return torch.as_tensor(predictive.log_expected_improvement(self.best_f, maximize=self.maximize))
