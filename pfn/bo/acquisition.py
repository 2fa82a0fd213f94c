"""The next point to evaluate: maximise an acquisition function of a PFN's posterior over [0, 1]^d.

Random candidates (uniform, plus perturbations of the best observed points) are scored in one pass
of the fast inference path; the best few start a local ascent on the differentiable path, all starts
in one batch (queries never attend to each other, so the gradient of the summed acquisition is each
start's own gradient). Each start steps along its normalised gradient (projected onto the cube) by
its own step length, which grows after a step that raises the acquisition and shrinks after one that
does not (that step is undone): every evaluation is a forward and backward pass of a few queries, whose
cost is fixed overhead rather than arithmetic, so the search is built to need few of them.

The default acquisition is the exact log expected improvement of the bar distribution
(:meth:`PosteriorPredictive.log_expected_improvement`): finite, with useful gradients, far from the
incumbent, where expected improvement itself underflows to zero.

Once there are enough observations, :func:`suggest` makes two of every three suggestions local
(:func:`local_region`): the model is conditioned on the neighbourhood of the best observation, stretched
to fill the unit cube, so that it resolves differences there that are small beside the spread of all
the values, and the acquisition is maximised in the central third of that neighbourhood.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from pfn.inference import PosteriorPredictive, Predictor
from pfn.inference.predictive import ClassPredictive
from pfn.types import Array, ArrayLike

#: the acquisition search's default effort: random candidates, local-ascent starts, steps per start
N_CANDIDATES, N_STARTS, STEPS = 384, 8, 5
#: a start's step length is multiplied by GROW after a step that raises its acquisition, else by SHRINK
GROW, SHRINK = 1.5, 0.4
#: a local suggestion conditions on the smallest cube around the best observation holding this many others
LOCAL_NEIGHBOURS = 20
#: of every LOCAL_CYCLE suggestions (counted by the number of observations) all but one are local
LOCAL_CYCLE = 3
#: the smallest half-side of a local region, in units of the cube's side
MIN_LOCAL_HALF_SIDE = 1e-3
#: a local suggestion is searched in the cube around the best observation of this share of its region's side
LOCAL_SEARCH_SHARE = 1 / 3

#: an acquisition function: the posterior predictive at m queries -> m values to maximise
Acquisition = Callable[[PosteriorPredictive], Array]
#: maps of the observed values before conditioning (see :func:`warp_outputs`)
OUTPUT_WARPS = ("none", "power", "rank")
#: the warp :func:`suggest` and ``PFNSampler`` use unless told otherwise
DEFAULT_OUTPUT_WARP = "power"
#: the exponents the "power" warp chooses from
POWER_RANGE = (-3.0, 3.0)


class Queryable(Protocol):
    """What the acquisition search queries: a :class:`ConditionedPredictor`, or a view of one."""

    batched: bool
    num_features: int

    def predict(self, x_test: torch.Tensor, differentiable: bool = False) -> PosteriorPredictive | ClassPredictive: ...


class _Box:
    """A conditioned predictor seen through the box [lower, upper] of its unit cube: a query u in
    [0, 1]^d stands for the point ``lower + u * (upper - lower)``."""

    batched = False

    def __init__(self, conditioned: Queryable, lower: torch.Tensor, upper: torch.Tensor):
        d = conditioned.num_features
        lower, upper = torch.as_tensor(lower, dtype=torch.float64), torch.as_tensor(upper, dtype=torch.float64)
        if lower.shape != (d,) or upper.shape != (d,):
            shapes = f"{tuple(lower.shape)} and {tuple(upper.shape)}"
            raise ValueError(f"bounds must be two tensors of shape ({d},), got {shapes}")
        if not (lower >= 0).all() or not (lower < upper).all() or not (upper <= 1).all():
            raise ValueError(f"bounds must satisfy 0 <= lower < upper <= 1, got {lower.tolist()} and {upper.tolist()}")
        self.conditioned, self.num_features = conditioned, d
        self.lower, self.upper, self.width = lower, upper, upper - lower

    def to_cube(self, u: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.lower + u * self.width, self.lower, self.upper)  # no rounding past the box

    def from_cube(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.to(torch.float64) - self.lower) / self.width).clamp(0.0, 1.0)

    def predict(self, x_test: torch.Tensor, differentiable: bool = False) -> PosteriorPredictive | ClassPredictive:
        return self.conditioned.predict(self.to_cube(x_test), differentiable=differentiable)


def check_output_warp(warp: str) -> str:
    """``warp`` if it is one of :data:`OUTPUT_WARPS`, else a ValueError naming ``output_warp``."""
    if warp not in OUTPUT_WARPS:
        raise ValueError(f"output_warp must be one of {', '.join(map(repr, OUTPUT_WARPS))}, got {warp!r}")
    return warp


def warp_outputs(y: torch.Tensor, warp: str) -> torch.Tensor:
    """Observed values mapped by a monotone warp before the model sees them.

    A heavy-tailed objective (a few very bad values, as Branin or Rosenbrock give) squeezes the values
    near the optimum into a sliver of the model's output range; each warp but ``"none"`` spreads them.

    - ``"none"`` leaves the values as they are (the model standardises them).
    - ``"power"`` standardises them, then applies the Yeo-Johnson transform whose exponent maximises
      the Gaussian likelihood of the result (Yeo and Johnson 2000; searched in :data:`POWER_RANGE`): a
      long tail of bad values is pulled in, and the values near the optimum keep their spacing
      relative to each other (the map is smooth), so the model still sees how much better a point is.
    - ``"rank"`` replaces each value by the normal score of its rank, ``Phi^-1((rank - 1/2) / n)``,
      tied values sharing their mean rank: a Gaussian copula of the observations. Magnitudes are lost
      (an improvement is measured in ranks).

    Every map is increasing, so the order of the values, the incumbent and the direction of
    improvement are kept.
    """
    if check_output_warp(warp) == "none" or len(y) == 0:
        return y
    if warp == "power":
        return _power_warp(y)
    order = torch.argsort(y, stable=True)
    ranks = torch.empty_like(y)
    ranks[order] = torch.arange(1, len(y) + 1, dtype=y.dtype)
    _, groups = torch.unique(y, return_inverse=True)  # tied values share the mean of their ranks
    mean_rank = torch.zeros(int(groups.max()) + 1, dtype=y.dtype).index_add_(0, groups, ranks)
    mean_rank /= torch.bincount(groups).to(y.dtype)
    p = (mean_rank[groups] - 0.5) / len(y)
    return torch.special.ndtri(p)


def _power_warp(y: torch.Tensor) -> torch.Tensor:
    """The Yeo-Johnson transform of the standardised ``y`` (n,) with its maximum-likelihood exponent: the
    best of a grid over POWER_RANGE, then of a 40x finer grid around it, then the vertex of the parabola
    through the best fine point and its neighbours."""
    spread = y.std() if len(y) > 1 else y.new_zeros(())
    if not spread > 0:  # constant values: nothing to transform
        return y - y.mean()
    z = (y - y.mean()) / spread
    lam = torch.linspace(*POWER_RANGE, 61, dtype=y.dtype)
    for width in (0.1, 0.005):  # the previous grid's step, then the fine grid's
        i = int(_yeo_johnson_loglik(z, lam).argmax())
        lam = torch.linspace(float(lam[i]) - width, float(lam[i]) + width, 41, dtype=y.dtype)
    loglik = _yeo_johnson_loglik(z, lam)
    i = min(max(int(loglik.argmax()), 1), len(lam) - 2)
    left, mid, right = loglik[i - 1 : i + 2].tolist()
    curvature = left - 2 * mid + right
    shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0  # in fine steps, within one of lam[i]
    best = lam[i] + max(min(shift, 1.0), -1.0) * (lam[1] - lam[0])
    return _yeo_johnson(z, best[None])[0]


def _yeo_johnson(z: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """The Yeo-Johnson transform of z (n,) with each exponent of lam (k,): (k, n). Each side of 0 is a
    Box-Cox transform of 1 + |z|, with exponent lam above 0 and 2 - lam below (mirrored)."""
    lam = lam[:, None]
    up, down = torch.log1p(z.clamp_min(0)), torch.log1p((-z).clamp_min(0))
    return torch.where(z >= 0, _box_cox_of_log(up, lam), -_box_cox_of_log(down, 2 - lam))


def _box_cox_of_log(u: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """``(exp(lam u) - 1) / lam``, the Box-Cox transform of ``exp(u)``; ``u`` itself where lam is 0."""
    zero = lam.abs() < 1e-12
    return torch.where(zero, u, torch.expm1(lam * u) / torch.where(zero, 1.0, lam))


def _yeo_johnson_loglik(z: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """The Gaussian profile log-likelihood of z (n,) after the transform with each exponent of lam (k,):
    ``-n/2 log(variance) + (lambda - 1) sum(sign(z) log(1 + |z|))`` (the second term is the log-Jacobian)."""
    variance = _yeo_johnson(z, lam).var(dim=-1, unbiased=False)
    loglik = -0.5 * len(z) * torch.log(variance) + (lam - 1) * (z.sign() * torch.log1p(z.abs())).sum()
    return torch.nan_to_num(loglik, nan=-torch.inf)


def maximize_acquisition(
    conditioned: Queryable,
    acquisition: Acquisition,
    *,
    n_candidates: int = N_CANDIDATES,
    n_starts: int = N_STARTS,
    steps: int = STEPS,
    step_size: float = 0.05,
    anchors: torch.Tensor | None = None,
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, float]:
    """The point of the unit cube (or of the box ``bounds`` inside it) where ``acquisition`` is highest,
    found by random candidates then a multi-start local ascent along the gradient.

    Args:
        conditioned: a predictor conditioned on the observations (one dataset, torch inputs).
        acquisition: maps the predictive at m points to m values (e.g. ``lambda p: p.log_expected_improvement(b)``).
        n_candidates: random candidates scored in one pass; half are perturbations of ``anchors`` when given.
        n_starts: best candidates from which the local ascent starts.
        steps: ascent steps per start (0: the best candidate is returned). Each step moves a start by its
            step length along its normalised gradient (components pointing out of the cube dropped); a
            step that raises the acquisition is kept and the length multiplied by ``GROW``, one that does
            not is undone and the length multiplied by ``SHRINK``.
        step_size: every start's first step length, in units of the cube's side (of the box's sides with ``bounds``).
        anchors: (k, d) points whose neighbourhoods are searched (e.g. the best points observed so far).
        bounds: ``(lower, upper)``, each (d,), with 0 <= lower < upper <= 1: search only this box. The
            search runs in the box's own coordinates, so candidates, perturbations and steps scale with its sides.
        generator: the random source, for reproducible suggestions.

    Returns:
        ``(x, value)``: the point (d,), float64, and its acquisition value.
    """
    if conditioned.batched:
        raise ValueError("maximize_acquisition needs a predictor conditioned on one dataset, not a batch")
    if bounds is not None:
        box = _Box(conditioned, *bounds)
        inside = None if anchors is None else box.from_cube(anchors)
        u, found = maximize_acquisition(
            box, acquisition, n_candidates=n_candidates, n_starts=n_starts, steps=steps, step_size=step_size,
            anchors=inside, generator=generator,
        )  # fmt: skip
        return box.to_cube(u), found
    if isinstance(n_starts, bool) or not isinstance(n_starts, int) or n_starts < 1:
        raise ValueError(f"n_starts must be a positive integer, got {n_starts!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size!r}")
    x, scores = best_candidates(conditioned, acquisition, n_candidates, n_starts, anchors, generator)
    if steps == 0:
        return x[0], float(scores[0])

    # x (starts, d): each start's best point so far
    value, grad = _value_and_gradient(conditioned, acquisition, x)
    length = torch.full((len(x), 1), float(step_size), dtype=torch.float64)
    for _ in range(steps):
        trial = (x + length * _ascent_direction(x, grad)).clamp(0.0, 1.0)
        trial_value, trial_grad = _value_and_gradient(conditioned, acquisition, trial)
        better = trial_value > value
        x[better], value[better], grad[better] = trial[better], trial_value[better], trial_grad[better]
        length = torch.where(better[:, None], length * GROW, length * SHRINK)
    i = int(value.argmax())
    return x[i], float(value[i])


def best_candidates(
    conditioned: Queryable,
    acquisition: Acquisition,
    n_candidates: int,
    n_starts: int,
    anchors: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``n_starts`` best of ``n_candidates`` random points (see :func:`_candidates`), best first:
    points (starts, d) and their acquisition values (starts,), NaN counted as -inf."""
    candidates = _candidates(conditioned.num_features, n_candidates, anchors, generator)  # (n, d)
    with torch.no_grad():
        scores = torch.as_tensor(acquisition(_predict(conditioned, candidates))).double()  # (n,)
    scores = torch.nan_to_num(scores, nan=-torch.inf)
    top = scores.topk(min(n_starts, len(scores))).indices
    return candidates[top].clone(), scores[top]


def _value_and_gradient(
    conditioned: Queryable, acquisition: Acquisition, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The acquisition at each row of ``x`` (m, d) and its gradient (m, d); NaN values count as -inf,
    NaN gradients as 0."""
    x = x.detach().clone().requires_grad_(True)
    value = torch.as_tensor(acquisition(_predict(conditioned, x, differentiable=True)))  # (m,)
    if not value.requires_grad:
        raise ValueError(
            "acquisition must compute its values from the predictive with torch operations, so that they can be "
            "differentiated with respect to the queries (or pass steps=0 to use the random candidates only)"
        )
    (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)  # None: the values do not depend on x
    grad = torch.zeros_like(x) if grad is None else torch.nan_to_num(grad, 0.0, 0.0, 0.0)
    return torch.nan_to_num(value.detach().double(), nan=-torch.inf), grad


def _ascent_direction(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Unit-length gradients (m, d) with the components that would leave the cube dropped (zero where none is left)."""
    g = torch.where(((x <= 0) & (grad < 0)) | ((x >= 1) & (grad > 0)), torch.zeros_like(grad), grad)
    norm = g.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, g / norm.clamp_min(torch.finfo(g.dtype).tiny), torch.zeros_like(g))


def suggest(
    predictor: Predictor,
    x_train: ArrayLike,
    y_train: ArrayLike,
    *,
    q: int = 1,
    maximize: bool = True,
    acquisition: Callable[[PosteriorPredictive, float], Array] | None = None,
    n_candidates: int = N_CANDIDATES,
    n_starts: int = N_STARTS,
    steps: int = STEPS,
    output_warp: str = DEFAULT_OUTPUT_WARP,
    local: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The next ``q`` points to evaluate, in the unit cube, given observations ``(x_train, y_train)``.

    Args:
        predictor: a regression PFN for functions on [0, 1]^d (e.g. ``pfn.load("bo")``).
        x_train: (n, d) observed inputs in [0, 1]^d; n may be 0 (a random point is returned).
        y_train: (n,) observed values (noisy values are fine: the PFN's predictive is for observations).
        q: points to return; after the first, each is chosen with the earlier ones added to the
            observations at their predicted mean (greedy "kriging believer" fantasies).
        maximize: improve towards larger values (else smaller).
        acquisition: ``f(predictive, best) -> values`` to maximise, with ``best`` the best value
            observed in the direction of ``maximize``; default: the exact log expected improvement.
        n_candidates: random candidates scored in one pass (see :func:`maximize_acquisition`).
        n_starts: best candidates from which the local ascent starts.
        steps: ascent steps per start.
        output_warp: map the observed values before conditioning (see :func:`warp_outputs`): "power"
            (the default: a Yeo-Johnson transform fitted to them; on the benchmark of
            ``scripts/bench_bo.py``, with local suggestions, as good as "none" and better than "rank"),
            "rank" (normal scores of their ranks) or "none". The acquisition then works on the warped values.
        local: refine around the best observation (the default): with n observations, n > LOCAL_NEIGHBOURS
            (20) and n not a multiple of LOCAL_CYCLE (3), the suggestion is local (:func:`local_region`):
            the model is conditioned on the observations in a cube around the best one, mapped onto the
            unit cube (their values warped afresh), and the acquisition is maximised in the cube's
            central third (:data:`LOCAL_SEARCH_SHARE`). False: every suggestion searches the whole cube
            with every observation.
        generator: the random source, for reproducible suggestions.

    When there are more observations than the model's ``max_context``, the context holds the best
    quarter of that many and a random sample of the rest.

    Returns:
        (q, d) float64 tensor of points in [0, 1]^d.
    """
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise ValueError(f"q must be a positive integer, got {q!r}")
    if predictor.is_classifier:
        raise ValueError("suggest needs a regression model; this predictor is a classifier")
    if not isinstance(local, bool):
        raise ValueError(f"local must be True or False, got {local!r}")
    x, y = _observations(predictor, x_train, y_train)
    y = warp_outputs(y, output_warp)
    d = x.shape[1]
    chosen = []
    search = dict(n_candidates=n_candidates, n_starts=n_starts, steps=steps, generator=generator)
    for _ in range(q):
        if len(y) == 0:
            chosen.append(torch.rand(d, generator=generator, dtype=torch.float64))
            continue
        conditioned = None
        if local and len(y) > LOCAL_NEIGHBOURS and len(y) % LOCAL_CYCLE != 0:
            x_new = _local_suggestion(predictor, x, y, maximize, acquisition, output_warp, search)
        else:
            xc, yc = _select_context(x, y, predictor.max_context, maximize, generator)
            conditioned = predictor.condition(xc, yc)
            x_new = _maximize(conditioned, xc, yc, maximize, acquisition, None, search)
        if q > 1:  # believe the model: the fantasised value is the predicted mean
            if conditioned is None:
                conditioned = predictor.condition(*_select_context(x, y, predictor.max_context, maximize, generator))
            with torch.no_grad():
                y_new = torch.as_tensor(_predict(conditioned, x_new[None]).mean).double()
            x, y = torch.cat([x, x_new[None]]), torch.cat([y, y_new])
        chosen.append(x_new)
    return torch.stack(chosen)


def local_region(
    x: torch.Tensor, y: torch.Tensor, maximize: bool, neighbours: int = LOCAL_NEIGHBOURS
) -> tuple[torch.Tensor, float, torch.Tensor]:
    """The neighbourhood of the best observation that a local suggestion of :func:`suggest` conditions on.

    It is the cube centred at the best observation whose half-side is the distance (the largest
    coordinate difference) to its ``neighbours``-th nearest other observation, at least
    :data:`MIN_LOCAL_HALF_SIDE` and at most 0.5, cut to the unit cube. It shrinks as the observations
    gather around the best one, so the model, seeing it stretched to the unit cube, resolves ever finer
    differences there. The acquisition is then maximised only in its central third (the cube around the
    best observation of a third of the region's side, :data:`LOCAL_SEARCH_SHARE`): towards the region's
    faces the model has seen no observations beyond, and would take the unexplored outside for promise.

    Args:
        x: (n, d) observations in the unit cube; y: (n,) their values.
        maximize: whether the best observation is the largest value (else the smallest).
        neighbours: how many other observations the region holds (more where several are equally far).

    Returns:
        ``(center, half_side, inside)``: the best observation (d,), the region's half-side, and which
        observations lie in the region (n,), bool.
    """
    center = x[int(y.argmax() if maximize else y.argmin())]
    distance = (x - center).abs().amax(dim=1)  # (n,)
    half = float(distance.sort().values[min(neighbours, len(distance) - 1)])
    half = min(max(half, MIN_LOCAL_HALF_SIDE), 0.5)
    return center, half, distance <= half


def _local_suggestion(
    predictor: Predictor,
    x: torch.Tensor,
    y: torch.Tensor,
    maximize: bool,
    acquisition: Callable[[PosteriorPredictive, float], Array] | None,
    output_warp: str,
    search: dict,
) -> torch.Tensor:
    """The best point of the central third of :func:`local_region`, by a model conditioned on the region
    alone, mapped onto the unit cube (d,)."""
    center, half, inside = local_region(x, y, maximize)
    lower, upper = (center - half).clamp(0.0, 1.0), (center + half).clamp(0.0, 1.0)
    width = upper - lower  # (d,), each side at least MIN_LOCAL_HALF_SIDE
    xc, yc = _select_context(
        (x[inside] - lower) / width, warp_outputs(y[inside], output_warp), predictor.max_context, maximize,
        search["generator"],
    )  # fmt: skip
    bounds = (
        ((center - half * LOCAL_SEARCH_SHARE).clamp(0.0, 1.0) - lower) / width,
        ((center + half * LOCAL_SEARCH_SHARE).clamp(0.0, 1.0) - lower) / width,
    )
    u = _maximize(predictor.condition(xc, yc), xc, yc, maximize, acquisition, bounds, search)
    return (lower + width * u).clamp(0.0, 1.0)


def _maximize(
    conditioned: Queryable,
    xc: torch.Tensor,
    yc: torch.Tensor,
    maximize: bool,
    acquisition: Callable[[PosteriorPredictive, float], Array] | None,
    bounds: tuple[torch.Tensor, torch.Tensor] | None,
    search: dict,
) -> torch.Tensor:
    """The point (d,) where the acquisition of the model conditioned on ``(xc, yc)`` is highest, searched
    from the five best observations (and inside ``bounds`` when given)."""
    acq = _acquisition_at(acquisition, float(yc.max() if maximize else yc.min()), maximize)
    order = yc.argsort(descending=maximize)
    point, _ = maximize_acquisition(conditioned, acq, anchors=xc[order[:5]], bounds=bounds, **search)
    return point


def _acquisition_at(
    acquisition: Callable[[PosteriorPredictive, float], Array] | None, best: float, maximize: bool
) -> Acquisition:
    """The acquisition with the incumbent ``best`` bound (default: the exact log expected improvement)."""
    if acquisition is None:
        return lambda p: p.log_expected_improvement(best, maximize=maximize)
    return lambda p: acquisition(p, best)


def _predict(conditioned: Queryable, x: torch.Tensor, differentiable: bool = False) -> PosteriorPredictive:
    prediction = conditioned.predict(x, differentiable=differentiable)
    if not isinstance(prediction, PosteriorPredictive):
        raise ValueError("Bayesian optimisation needs a regression model; this predictor is a classifier")
    return prediction


def _observations(predictor: Predictor, x_train: ArrayLike, y_train: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, d) and y (n,) as float64 tensors, checked: shapes, finite values, the unit cube, the model's width."""
    x = torch.as_tensor(x_train, dtype=torch.float64)
    y = torch.as_tensor(y_train, dtype=torch.float64)
    if x.ndim != 2:
        raise ValueError(f"x_train must have shape (n, d), got {tuple(x.shape)}")
    if y.shape != x.shape[:1]:
        raise ValueError(f"y_train must have shape ({x.shape[0]},), one value per row of x_train, got {tuple(y.shape)}")
    d = x.shape[1]
    if not predictor.min_features <= d <= predictor.num_features:
        raise ValueError(
            f"x_train has {d} features (dimensions), but this model takes {predictor.min_features} to "
            f"{predictor.num_features}; use a model trained for more dimensions"
        )
    if not torch.isfinite(x).all():
        raise ValueError("x_train contains NaN or inf")
    if not torch.isfinite(y).all():
        raise ValueError("y_train contains NaN or inf: leave failed evaluations out")
    if len(x) and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"x_train must lie in the unit cube [0, 1]^{d} (got values from {x.min().item():g} to "
            f"{x.max().item():g}); map each input's range to [0, 1]"
        )
    return x, y


def _select_context(
    x: torch.Tensor, y: torch.Tensor, limit: int | None, maximize: bool, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``limit`` observations: all when they fit, else the best quarter and a random sample of the rest."""
    if limit is None or len(y) <= limit:
        return x, y
    order = y.argsort(descending=maximize)
    n_best = limit // 4
    rest = order[n_best:][torch.randperm(len(order) - n_best, generator=generator)[: limit - n_best]]
    keep = torch.cat([order[:n_best], rest])
    return x[keep], y[keep]


def _candidates(d: int, n: int, anchors: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
    """(n, d) points of the unit cube: uniform, and half of them near ``anchors`` when given, at
    distances from 0.001 to 0.2 of the cube's side (log-uniform), so both fine and coarse moves are tried."""
    if n < 1:
        raise ValueError(f"n_candidates must be a positive integer, got {n!r}")
    points = torch.rand(n, d, generator=generator, dtype=torch.float64)
    if anchors is not None and len(anchors) and n > 1:
        local = n // 2
        base = anchors.to(torch.float64)[torch.arange(local) % len(anchors)]
        spread = 10 ** (-3 + 2.3 * torch.rand(local, 1, generator=generator, dtype=torch.float64))
        noise = torch.randn(local, d, generator=generator, dtype=torch.float64)
        points[:local] = (base + spread * noise).clamp(0.0, 1.0)
    return points
