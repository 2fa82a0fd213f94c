"""Mutants of differentiable predictions and the log expected improvement (see scripts/mutation_check.py)."""

BO = ["tests/test_differentiable.py"]

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
        old="terms = torch.cat([left.unsqueeze(-1), uniform, right.unsqueeze(-1)], dim=-1)",
        new="terms = torch.cat([left.unsqueeze(-1), uniform, neg_inf.expand_as(right).unsqueeze(-1)], dim=-1)",
        tests=BO,
    ),
    dict(
        name="half_normal_log_excess_series_truncated",
        file="pfn/model/tails.py",
        old="far = -2 * big.log() + torch.log1p(inv2 * (-3 + inv2 * (15 - 105 * inv2)))",
        new="far = -2 * big.log()",
        tests=BO,
    ),
]
