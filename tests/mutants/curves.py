"""Mutants of the learning-curve API and the Optuna pruner (see scripts/mutation_check.py)."""

CURVES = ["tests/test_curves.py"]
PRUNER = ["tests/test_pruner.py"]
PROPERTIES = ["tests/test_curves_properties.py"]
CALIBRATION = ["tests/test_curve_calibration.py"]
# the refusal of curves that get steadily worse, as extrapolate had it (a ValueError naming values)
CHECK_RANGE = '_check_value_range(values, self.loc, self.span, self.sign, name, "curve")'
REFUSE_DECLINING = f"{CHECK_RANGE} if not gets_steadily_worse(values, direction, bounds) else _number(None, name)"

MUTANTS = [
    # -- the value map ------------------------------------------------------------------------------
    dict(
        name="open_upper_bound_is_the_last_value",
        file="pfn/curves/inputs.py",
        old="hi = float(values.max()) if bounds[1] is None else bounds[1]",
        new="hi = float(values[-1]) if bounds[1] is None else bounds[1]",
        tests=CURVES,
    ),
    dict(
        name="open_upper_bound_widened",
        file="pfn/curves/inputs.py",
        old="hi = float(values.max()) if bounds[1] is None else bounds[1]",
        new="hi = 1.1 * float(values.max()) if bounds[1] is None else bounds[1]",
        tests=CURVES,
    ),
    dict(
        name="infinite_upper_bound_kept_closed",
        file="pfn/curves/checks.py",
        old="upper = None if upper == np.inf else upper",
        new="upper = upper",
        tests=CURVES,
    ),
    dict(
        name="closed_bounds_not_censored",
        file="pfn/curves/forecast.py",
        old="return self._v(np.clip(u, *self._u_range))",
        new="return self._v(u)",
        tests=CURVES,
    ),
    dict(
        name="censored_mean_drops_the_upper_term",
        file="pfn/curves/forecast.py",
        old="mean = mean - np.asarray(self._u.expected_improvement(b), dtype=np.float64)",
        new="mean = mean - 0 * np.asarray(self._u.expected_improvement(b), dtype=np.float64)",
        tests=CURVES,
    ),
    # -- the budget map -----------------------------------------------------------------------------
    dict(
        name="log_budget_ignored",
        file="pfn/curves/inputs.py",
        old='elif self.scale == "log":',
        new="elif False:",
        tests=CURVES,
    ),
    dict(
        name="map_shifted_one_grid_step_down",
        file="pfn/curves/inputs.py",
        old="return (1 + frac * (self.grid - 1)) / self.grid",
        new="return (frac * (self.grid - 1)) / self.grid",
        tests=CURVES,
    ),
    dict(
        name="map_shifted_one_grid_step_up",
        file="pfn/curves/inputs.py",
        old="return (1 + frac * (self.grid - 1)) / self.grid",
        new="return (2 + frac * (self.grid - 1)) / self.grid",
        tests=CURVES,
    ),
    dict(
        name="future_epochs_unchecked",
        file="pfn/curves/inputs.py",
        old="bad = f[(f < lo - tol) | (f > hi + tol)]",
        new="bad = f[(f > hi + tol)]",
        tests=CURVES,
    ),
    dict(
        name="max_points_ignores_the_training_context",
        file="pfn/curves/models.py",
        old="return min(limit, int(context)) if context is not None else limit",
        new="return limit",
        tests=CURVES,
    ),
    dict(
        name="thin_takes_the_later_neighbour",
        file="pfn/curves/inputs.py",
        old="i = np.where((i > 0) & ((i == n) | (targets - left <= right - targets)), i - 1, i)",
        new="i = np.minimum(i, n - 1)",
        tests=CURVES,
    ),
    # -- early stopping -----------------------------------------------------------------------------
    dict(
        name="should_stop_never_stops",
        file="pfn/curves/forecast.py",
        old="stop = np.asarray(probability_of_beating(values, best, max_epochs, **options)) < limit",
        new="stop = np.asarray(probability_of_beating(values, best, max_epochs, **options)) < 0 * limit",
        tests=CURVES,
    ),
    # -- the pruner ---------------------------------------------------------------------------------
    dict(
        name="pruner_uses_the_worst_completed_trial",
        file="pfn/curves/pruners.py",
        old="best = study.best_value",
        new='best = (min if direction == "maximize" else max)(t.value for t in completed)',
        tests=PRUNER,
    ),
    dict(
        name="pruner_uses_the_last_completed_trial",
        file="pfn/curves/pruners.py",
        old="best = study.best_value",
        new="best = completed[-1].value",
        tests=PRUNER,
    ),
    dict(
        name="min_epochs_off_by_one_late",
        file="pfn/curves/pruners.py",
        old="if len(steps) < self.min_epochs:",
        new="if len(steps) <= self.min_epochs:",
        tests=PRUNER,
    ),
    dict(
        name="min_epochs_off_by_one_early",
        file="pfn/curves/pruners.py",
        old="if len(steps) < self.min_epochs:",
        new="if len(steps) < self.min_epochs - 1:",
        tests=PRUNER,
    ),
    dict(
        name="nan_not_pruned",
        file="pfn/curves/pruners.py",
        old="return True  # NaN or inf: a diverged run",
        new="pass",
        tests=PRUNER,
    ),
    dict(
        name="nan_not_pruned_caught_by_properties",
        file="pfn/curves/pruners.py",
        old="return True  # NaN or inf: a diverged run",
        new="pass",
        tests=PROPERTIES,
    ),
    dict(
        name="diverging_trial_not_pruned",
        file="pfn/curves/pruners.py",
        old="if gets_steadily_worse(values, direction, self.bounds):",
        new="if False:",
        tests=PRUNER,
    ),
    dict(
        name="long_runs_not_thinned",
        file="pfn/curves/inputs.py",
        old="kept = _thin_indices(budgets, limit, budget_scale)",
        new="kept = np.arange(len(budgets))",
        tests=PRUNER,
    ),
    dict(
        name="long_runs_not_thinned_caught_by_properties",
        file="pfn/curves/inputs.py",
        old="kept = _thin_indices(budgets, limit, budget_scale)",
        new="kept = np.arange(len(budgets))",
        tests=PROPERTIES,
    ),
    # -- long and declining curves ------------------------------------------------------------------
    dict(
        name="long_curves_not_thinned",
        file="pfn/curves/inputs.py",
        old="kept = _thin_indices(budgets, limit, budget_scale)",
        new="kept = np.arange(len(budgets))",
        tests=CURVES,
    ),
    dict(
        name="long_curves_keep_their_first_points",
        file="pfn/curves/inputs.py",
        old="kept = _thin_indices(budgets, limit, budget_scale)",
        new="kept = np.arange(min(limit, len(budgets)))",
        tests=CURVES,
    ),
    dict(
        name="long_curves_thinned_linearly_on_a_log_budget_scale",
        file="pfn/curves/inputs.py",
        old="kept = _thin_indices(budgets, limit, budget_scale)",
        new='kept = _thin_indices(budgets, limit, "linear")',
        tests=CURVES,
    ),
    dict(
        name="declining_curves_refused",
        file="pfn/curves/inputs.py",
        old=CHECK_RANGE,
        new=REFUSE_DECLINING,
        tests=CURVES,
    ),
    dict(
        name="declining_curves_refused_caught_by_properties",
        file="pfn/curves/inputs.py",
        old=CHECK_RANGE,
        new=REFUSE_DECLINING,
        tests=PROPERTIES,
    ),
    # -- calibration --------------------------------------------------------------------------------
    dict(
        name="calibration_ignores_the_observed_fraction",
        file="pfn/curves/calibration.py",
        old="r = np.clip(np.asarray(fraction, dtype=np.float64), self.cutoffs[0], self.cutoffs[-1])",
        new="r = np.full(np.shape(fraction), self.cutoffs[0])",
        tests=CALIBRATION,
    ),
    dict(
        name="calibration_blocks_reuse_the_first_fractions",  # every block of queries read the first block's fractions
        file="pfn/curves/calibration.py",
        old="group, r[i : i + RECALIBRATE_QUERIES])",
        new="group, r[: len(flat[i : i + RECALIBRATE_QUERIES])])",
        tests=CALIBRATION,
    ),
    dict(
        name="calibration_pit_ignores_the_atom",
        file="pfn/curves/forecast.py",
        old="return 1 - better + rng.uniform() * better",
        new="return 1 - better",
        tests=CALIBRATION,
    ),
    dict(
        name="calibration_not_applied_by_default",
        file="pfn/curves/forecast.py",
        old="recalibration = resolve_calibration(calibration, predictor)",
        new="recalibration = resolve_calibration(None, predictor)",
        tests=CALIBRATION,
    ),
    dict(
        name="calibration_bandwidth_ignored",
        file="pfn/curves/calibration.py",
        old="h = silverman_bandwidth(p) if bandwidth is None else bandwidth",
        new="h = silverman_bandwidth(p)",
        tests=CALIBRATION,
    ),
    # -- the cluster bootstrap of eval_curve_corpus's coverage intervals ------------------------------
    dict(
        name="bootstrap_averages_cluster_means",
        file="scripts/cluster_bootstrap.py",
        old="means = sums[draws].sum(1) / sizes[draws].sum(1)",
        new="means = (sums / sizes)[draws].mean(1)",
        tests=["tests/test_cluster_bootstrap.py"],
    ),
    dict(
        name="bootstrap_resamples_items",
        file="scripts/cluster_bootstrap.py",
        old="_, index = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)",
        new="index = np.arange(len(v))",
        tests=["tests/test_cluster_bootstrap.py"],
    ),
]
