"""An Optuna sampler that proposes each trial's parameters with a PFN surrogate (:func:`pfn.bo.suggest`).

    import optuna
    from pfn.bo import PFNSampler

    study = optuna.create_study(sampler=PFNSampler(seed=0))
    study.optimize(objective, n_trials=50)

Float and integer parameters, linear or log-scaled, with or without a step, are mapped to the unit
cube (discrete ones as equal cells, one per value) and back; categorical parameters are refused.
Only completed trials are observations: pruned, failed and running ones are ignored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:
    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.search_space import IntersectionSearchSpace
    from optuna.study import Study, StudyDirection
    from optuna.trial import FrozenTrial, TrialState
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("PFNSampler needs optuna: pip install 'pfn[bo]'") from error

from pfn.bo.acquisition import DEFAULT_OUTPUT_WARP, N_CANDIDATES, N_STARTS, STEPS, check_output_warp, suggest
from pfn.inference import Predictor, load
from pfn.optuna_space import from_unit, to_unit


class PFNSampler(optuna.samplers.BaseSampler):
    """Bayesian optimisation with a PFN surrogate: no model is fitted, each suggestion is one
    conditioning pass plus the search for the highest log expected improvement.

    Args:
        model: the PFN (a shipped model's name, a checkpoint path, or a loaded :class:`pfn.Predictor`),
            trained on functions of the unit cube with at least as many features as the search space
            has parameters.
        n_startup_trials: completed trials sampled by ``independent_sampler`` before the model is used.
        seed: seeds the startup sampler and the acquisition search, for reproducible studies.
        independent_sampler: for the startup trials and for parameters outside the shared search
            space (default: ``optuna.samplers.RandomSampler(seed)``).
        n_candidates: random candidates per suggestion (:func:`pfn.bo.maximize_acquisition`).
        n_starts: candidates from which the local ascent starts.
        steps: ascent steps per start.
        output_warp: map the objective values before conditioning (:func:`pfn.bo.warp_outputs`):
            "power" (the default: a Yeo-Johnson transform fitted to them), "rank" (normal scores of
            their ranks) or "none".
        local: refine around the best trial (the default): once more than ``LOCAL_NEIGHBOURS`` trials have
            completed, every suggestion but each ``LOCAL_CYCLE``-th is local (the constants of
            :mod:`pfn.bo.acquisition`; see :func:`pfn.bo.suggest`); False: every suggestion searches the
            whole space.

    Attributes:
        suggest_seconds: wall seconds of each model-based suggestion, in order.
    """

    def __init__(
        self,
        model: str | Path | Predictor = "bo",
        *,
        n_startup_trials: int = 10,
        seed: int | None = None,
        independent_sampler: optuna.samplers.BaseSampler | None = None,
        n_candidates: int = N_CANDIDATES,
        n_starts: int = N_STARTS,
        steps: int = STEPS,
        output_warp: str = DEFAULT_OUTPUT_WARP,
        local: bool = True,
    ) -> None:
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int) or n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be a non-negative integer, got {n_startup_trials!r}")
        self.predictor = model if isinstance(model, Predictor) else load(model)
        if self.predictor.is_classifier:
            raise ValueError("model must be a regression PFN; this one is a classifier")
        self.n_startup_trials = n_startup_trials
        self._rng = np.random.RandomState(seed)
        self._independent = independent_sampler or optuna.samplers.RandomSampler(seed=seed)
        self._search_space = IntersectionSearchSpace()
        self.n_candidates, self.n_starts, self.steps = n_candidates, n_starts, steps
        self.output_warp = check_output_warp(output_warp)
        if not isinstance(local, bool):
            raise ValueError(f"local must be True or False, got {local!r}")
        self.local = local
        self.suggest_seconds: list[float] = []

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._independent.reseed_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        space: dict[str, BaseDistribution] = {}
        for name, distribution in self._search_space.calculate(study).items():
            _check_supported(name, distribution)
            if not distribution.single():
                space[name] = distribution
        if len(space) > self.predictor.num_features:
            raise ValueError(
                f"the search space has {len(space)} parameters, but the model takes at most "
                f"{self.predictor.num_features} (its features); use a model trained for more dimensions"
            )
        return space

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if len(study.directions) > 1:
            raise ValueError("PFNSampler optimises a single objective; this study has several")
        names = list(search_space)
        done = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if all(n in t.params for n in names)
        ]
        if len(done) < max(self.n_startup_trials, 1):
            return {}
        start = time.perf_counter()
        x = torch.tensor(
            [[to_unit(t.params[n], search_space[n]) for n in names] for t in done], dtype=torch.float64
        )  # (n, d)
        y = _finite(np.array([t.value for t in done], dtype=np.float64), study.direction)
        generator = torch.Generator().manual_seed(int(self._rng.randint(2**31 - 1)))
        maximize = study.direction == StudyDirection.MAXIMIZE
        point = suggest(
            self.predictor, x, torch.from_numpy(y), maximize=maximize, generator=generator,
            n_candidates=self.n_candidates, n_starts=self.n_starts, steps=self.steps, output_warp=self.output_warp,
            local=self.local,
        )  # fmt: skip
        params = {n: from_unit(float(u), search_space[n]) for n, u in zip(names, point[0], strict=True)}
        self.suggest_seconds.append(time.perf_counter() - start)
        return params

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        _check_supported(param_name, param_distribution)
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._independent.after_trial(study, trial, state, values)


def _check_supported(name: str, distribution: BaseDistribution) -> None:
    if isinstance(distribution, CategoricalDistribution) and len(distribution.choices) > 1:
        raise ValueError(
            f"PFNSampler supports float and int parameters; {name!r} is categorical "
            f"({len(distribution.choices)} choices): encode it as an int parameter, or use another sampler"
        )
    if not isinstance(distribution, FloatDistribution | IntDistribution | CategoricalDistribution):
        raise ValueError(f"PFNSampler cannot sample parameter {name!r} of type {type(distribution).__name__}")


def _finite(values: np.ndarray, direction: StudyDirection) -> np.ndarray:
    """Objective values with infinities replaced by the worst finite value (an infinite value says
    only that the point is bad). NaN never reaches here: Optuna fails such trials."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    if not finite.any():
        return np.zeros_like(values)
    worst = values[finite].max() if direction == StudyDirection.MINIMIZE else values[finite].min()
    return np.where(finite, values, worst)
