"""Mutants of differentiable predictions and the log expected improvement (see scripts/mutation_check.py)."""

BO = ["tests/test_differentiable.py"]
FRONT = ["tests/test_bo.py"]

MUTANTS = [
    dict(
        name="differentiable_path_detaches_the_queries",
        file="pfn/inference/predictor.py",
        old='xg = x_test.to("cpu", torch.float64).reshape(xq.shape)',
        new='xg = x_test.detach().to("cpu", torch.float64).reshape(xq.shape)',
        tests=BO,
    ),
    dict(
        name="differentiable_statistics_without_grad",
        file="pfn/inference/predictive.py",
        old="                torch.enable_grad(),\n",
        new="                torch.no_grad(),\n",
        tests=BO,
    ),
    dict(
        name="log_ei_drops_the_right_tail",
        file="pfn/model/bar_distribution.py",
        old="return torch.cat([left.unsqueeze(-1), uniform, right.unsqueeze(-1)], dim=-1)",
        new="return torch.cat([left.unsqueeze(-1), uniform, neg_inf.expand_as(right).unsqueeze(-1)], dim=-1)",
        tests=BO,
    ),
    dict(
        name="half_normal_log_excess_series_truncated",
        file="pfn/model/tails.py",
        old="far = -2 * big.log() + torch.log1p(inv2 * (-3 + inv2 * (15 - 105 * inv2)))",
        new="far = -2 * big.log()",
        tests=BO,
    ),
    # -- the BO front end (pfn/bo) --
    dict(
        name="ascent_descends",
        file="pfn/bo/acquisition.py",
        old="trial = (x + length * _ascent_direction(x, grad)).clamp(0.0, 1.0)",
        new="trial = (x - length * _ascent_direction(x, grad)).clamp(0.0, 1.0)",
        tests=FRONT,
    ),
    dict(
        name="ascent_keeps_steps_that_lower_the_value",
        file="pfn/bo/acquisition.py",
        old="better = trial_value > value",
        new="better = trial_value > -torch.inf",
        tests=FRONT,
    ),
    dict(
        name="suggest_ignores_the_direction",
        file="pfn/bo/acquisition.py",
        old="acq = _acquisition_at(acquisition, float(yc.max() if maximize else yc.min()), maximize)",
        new="acq = _acquisition_at(acquisition, float(yc.max()), maximize)",
        tests=FRONT,
    ),
    dict(
        name="context_keeps_the_worst_quarter",
        file="pfn/bo/acquisition.py",
        old="order = y.argsort(descending=maximize)\n    n_best",
        new="order = y.argsort(descending=not maximize)\n    n_best",
        tests=FRONT,
    ),
    dict(
        name="fantasies_not_added",
        file="pfn/bo/acquisition.py",
        old="x, y = torch.cat([x, x_new[None]]), torch.cat([y, y_new])",
        new="pass",
        tests=FRONT,
    ),
    dict(
        name="sampler_uses_pruned_trials",
        file="pfn/bo/optuna_sampler.py",
        old="states=(TrialState.COMPLETE,)",
        new="states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)",
        tests=FRONT,
    ),
    dict(
        name="sampler_maximises_a_minimisation",
        file="pfn/bo/optuna_sampler.py",
        old="maximize = study.direction == StudyDirection.MAXIMIZE",
        new="maximize = True",
        tests=FRONT,
    ),
    dict(
        name="log_parameters_mapped_linearly",
        file="pfn/optuna_space.py",
        old="        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))",
        new="        value = low + u * (high - low)",
        tests=FRONT,
    ),
    dict(
        name="discrete_cells_off_by_half",
        file="pfn/optuna_space.py",
        old="return (round((value - low) / step) + 0.5) / count",
        new="return round((value - low) / step) / count",
        tests=FRONT,
    ),
    dict(
        name="rank_warp_ties_not_averaged",
        file="pfn/bo/acquisition.py",
        old="mean_rank /= torch.bincount(groups).to(y.dtype)",
        new="mean_rank = ranks[torch.argsort(groups)][: len(mean_rank)]",
        tests=FRONT,
    ),
    dict(
        name="power_warp_without_the_jacobian",
        file="pfn/bo/acquisition.py",
        old="(lam - 1) * (z.sign() * torch.log1p(z.abs())).sum()",
        new="0 * (z.sign() * torch.log1p(z.abs())).sum()",
        tests=FRONT,
    ),
    dict(
        name="power_warp_parabola_steps_the_wrong_way",
        file="pfn/bo/acquisition.py",
        old="shift = 0.5 * (left - right) / curvature",
        new="shift = -0.5 * (left - right) / curvature",
        tests=FRONT,
    ),
    dict(
        name="power_warp_only_standardises",
        file="pfn/bo/acquisition.py",
        old="        return _power_warp(y)\n",
        new="        return (y - y.mean()) / y.std()\n",
        tests=FRONT,
    ),
    dict(
        name="sampler_ignores_its_output_warp",
        file="pfn/bo/acquisition.py",
        old="    y = warp_outputs(y, output_warp)\n",
        new="",
        tests=FRONT,
    ),
]
