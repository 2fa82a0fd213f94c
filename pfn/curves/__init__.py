"""Learning-curve extrapolation: the posterior over a training run's future, from its past.

    >>> from pfn import curves
    >>> forecast = curves.extrapolate([0.52, 0.61, 0.66, 0.69], max_epochs=50)
    >>> forecast.median, forecast.interval(0.9)                       # at epoch 50
    >>> curves.probability_of_beating([0.52, 0.61, 0.66, 0.69], best=0.80, max_epochs=50)
    >>> curves.should_stop([0.52, 0.61, 0.66, 0.69], best=0.80, max_epochs=50, threshold=0.05)

The model (``pfn.load("lc-real")`` by default, trained on curves like those of real runs; ``"lc"``
is LC-PFN's narrower prior, ``"lc-wide"`` Domhan et al.'s eleven parametric families) was trained on
curves within [0, 1] (higher is better) over an evenly spaced budget grid. A *curve model* is a
checkpoint whose prior is a learning-curve prior (:data:`CURVE_PRIORS`, or a mixture of them) with
one input feature; the shipped ones are ``lc``, ``lc-real`` and ``lc-wide``. Each curve is mapped into
the model's space and predictions are mapped back:

- **values**: ``u = (v - lower) / (upper - lower)`` for ``direction="maximize"`` and
  ``u = (upper - v) / (upper - lower)`` for ``"minimize"``, so "better" is always "higher u".
  An open bound (``None``, or an infinite bound on its own side: ``(0, inf)`` is ``(0, None)``)
  is taken from the curve itself (its lowest or highest value), which lets losses that are
  unbounded above be extrapolated.
- **closed bounds are respected**: the model predicts noisy observations, which can stray past
  0 and 1. A metric cannot leave its closed bounds, so the forecast is the model's predictive
  *censored* there: the mass beyond a closed bound sits on the bound. Quantiles (and so the
  median and intervals) are the model's clipped to the bounds, the cdf and probabilities follow,
  and the mean is exact; ``std`` is computed by numerical integration of the censored cdf.
  An open side is not censored.
- **budgets**: epochs, optimizer steps or training-set sizes. The first observed budget and
  ``max_epochs`` span the model's grid of ``G`` points (``G = 100`` for the shipped models):
  the first budget sits at model input ``1/G`` and ``max_epochs`` at ``1``, linearly
  (``budget_scale="linear"``) or by their logarithm (``"log"``, for geometrically growing
  budgets). With budgets 1, 2, ..., 100 and ``max_epochs=100`` the input is the epoch / 100,
  the prior's own convention.
- **curve length**: a model forecasts from at most :func:`max_points` observed values, the
  largest context it was trained on (99 for the shipped models: their curves have 100 points,
  of which at least one was always held out). A longer curve (1000 epochs, say) is thinned
  automatically, as :func:`thin` does: the model sees the values at the budgets nearest to
  ``max_points`` budgets spaced evenly on ``budget_scale``, the first and last included.
- **declining curves** (overfitting, a learning-rate spike, an unstable run) are forecast like
  any other; the model, trained on improving curves, reads a decline as a setback rather than a
  trend. :func:`gets_steadily_worse` picks out runs that keep getting worse.

**Whole searches.** :class:`Search` forecasts every configuration of a hyperparameter search from
all its runs' curves at once (a search model, ``"search"``), :func:`freeze_thaw` decides which run to
continue next, and :class:`pfn.curves.pruners.SearchPruner` prunes Optuna trials with it.

**Calibration.** A :class:`Calibration` corrects a model's forecasts with maps learned from
finished runs (quantile recalibration, :mod:`pfn.curves.calibration`); the shipped ``lc-real``
carries one fitted on real runs and applies it by default (``calibration="auto"``; ``None`` gives
the model's own predictive). ``Calibration.fit(runs)`` fits one on a user's own finished runs.

Every finite curve gets a forecast. Every function here raises ``ValueError`` naming the
argument for invalid input: NaN or inf, an empty curve, values outside closed bounds, budgets
that do not increase, a wrong type.
"""

from pfn.curves.calibration import Calibration
from pfn.curves.checks import BUDGET_SCALES, DIRECTIONS
from pfn.curves.forecast import CurveForecast, extrapolate, probability_of_beating, should_stop
from pfn.curves.freeze_thaw import FreezeThawResult, freeze_thaw
from pfn.curves.inputs import gets_steadily_worse, thin
from pfn.curves.models import CURVE_PRIORS, DEFAULT_MODEL, load, max_points
from pfn.curves.search import DEFAULT_SEARCH_MODEL, SEARCH_PRIOR, Search, fit_context, load_search_model

__all__ = [
    "BUDGET_SCALES",
    "Calibration",
    "CURVE_PRIORS",
    "DEFAULT_MODEL",
    "DIRECTIONS",
    "CurveForecast",
    "DEFAULT_SEARCH_MODEL",
    "FreezeThawResult",
    "SEARCH_PRIOR",
    "Search",
    "extrapolate",
    "fit_context",
    "freeze_thaw",
    "gets_steadily_worse",
    "load",
    "load_search_model",
    "max_points",
    "probability_of_beating",
    "should_stop",
    "thin",
]
