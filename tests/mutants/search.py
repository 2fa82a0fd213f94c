"""Mutants of the search-conditioned forecasts, the freeze-thaw scheduler and the search pruner."""

SEARCH = ["tests/test_curve_search.py"]

MUTANTS = [
    dict(
        name="budget_not_divided_by_max_epochs",
        file="pfn/curves/search.py",
        old="x[:, -1] = budgets / self.max_epochs",
        new="x[:, -1] = budgets / 100",
        tests=SEARCH,
    ),
    dict(
        name="minimised_values_not_mirrored",
        file="pfn/curves/search.py",
        old="us.append((v[idx] - self._loc) / (self._sign * self._span))",
        new="us.append((v[idx] - self._loc) / self._span)",
        tests=SEARCH,
    ),
    dict(
        name="fit_context_one_observation_too_many",
        file="pfn/curves/search.py",
        old="lo, hi = (mid, hi) if np.minimum(n, mid).sum() <= limit else (lo, mid - 1)",
        new="lo, hi = (mid, hi) if np.minimum(n, mid).sum() <= limit + 1 else (lo, mid - 1)",
        tests=SEARCH,
    ),
    dict(
        name="thinning_drops_the_last_observation",
        file="pfn/curves/search.py",
        old='idx = _thin_indices(e, int(k), "linear") if k > 1 else np.array([len(e) - 1])',
        new="idx = np.arange(int(k)) if k > 1 else np.array([len(e) - 1])",
        tests=SEARCH,
    ),
    dict(
        name="incumbent_is_the_worst_value",
        file="pfn/curves/search.py",
        old="best = max(float((self._sign * v).max()) for v in self.values)",
        new="best = max(float((self._sign * v).min()) for v in self.values)",
        tests=SEARCH,
    ),
    dict(
        name="scheduler_overspends_the_last_step",
        file="pfn/curves/freeze_thaw.py",
        old="epochs = min(chunk, full - done, budget - result.epochs_used)",
        new="epochs = min(chunk, full - done)",
        tests=SEARCH,
    ),
    dict(
        name="scheduler_restarts_paused_runs",
        file="pfn/curves/freeze_thaw.py",
        old="values, states[index] = train(index, epochs, states.get(index))",
        new="values, states[index] = train(index, epochs, None)",
        tests=SEARCH,
    ),
    dict(
        name="pruner_ignores_other_trials",
        file="pfn/curves/pruners.py",
        old="runs = [t for t in [*others, trial] if curves[t.number][0].size]",
        new="runs = [t for t in [trial] if curves[t.number][0].size]",
        tests=SEARCH,
    ),
    dict(
        name="pruner_does_not_shift_steps_from_zero",
        file="pfn/curves/pruners.py",
        old="shift = 1.0 if min(float(curves[t.number][0][0]) for t in runs) <= 0 else 0.0",
        new="shift = 0.0",
        tests=SEARCH,
    ),
    dict(
        name="search_pruner_keeps_diverged_runs",
        file="pfn/curves/pruners.py",
        old="return True  # a NaN or inf report: the run diverged",
        new="pass",
        tests=SEARCH,
    ),
]
