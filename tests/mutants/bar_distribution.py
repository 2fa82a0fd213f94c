"""Mutants of the bar distribution (see scripts/mutation_check.py)."""

BAR = "pfn/model/bar_distribution.py"

MUTANTS = [
    dict(
        name="pareto_tail_scale",
        file="pfn/model/tails.py",
        old="self.s = width / (2 ** (1 / self.shape) - 1)",
        new="self.s = 1.2 * width / (2 ** (1 / self.shape) - 1)",
        tests=["tests/test_bar_distribution.py"],
    ),
    dict(
        name="half_normal_tail_scale",
        file="pfn/model/tails.py",
        old="self.s = width / _HALF_NORMAL_MEDIAN",
        new="self.s = 1.2 * width / _HALF_NORMAL_MEDIAN",
        tests=["tests/test_bar_distribution.py"],
    ),
    dict(
        name="excess_unfactored",  # (hi - c)^2 - (start - c)^2: cancels, and overflows for |c| ~ 1e160
        file=BAR,
        old="uniform = p / w * (hi - start) * ((hi + start) / 2 - c)",
        new="uniform = p / w * ((hi - c) ** 2 - (start - c) ** 2) / 2",
        tests=["tests/test_bar_distribution.py::test_improvements_far_from_the_distribution_do_not_cancel"],
    ),
    dict(
        name="shortfall_unfactored",
        file=BAR,
        old="uniform = p / w * (end - lo) * (c - (lo + end) / 2)",
        new="uniform = p / w * ((c - lo) ** 2 - (c - end) ** 2) / 2",
        tests=["tests/test_bar_distribution.py::test_improvements_far_from_the_distribution_do_not_cancel"],
    ),
    dict(
        name="cdf_at_infinity",  # the cumulative sum's rounding left in: cdf(+inf) = 1 - 1e-16
        file=BAR,
        old="return torch.where(y == torch.inf, 1.0, out).clamp(0, 1)",
        new="return out",
        tests=["tests/test_predictive.py::test_edge_statistics"],
    ),
    dict(
        name="tail_factors_ignored",
        file=BAR,
        old="return TAILS[self.tails](w[0] * left), TAILS[self.tails](w[-1] * right)",
        new="return TAILS[self.tails](w[0]), TAILS[self.tails](w[-1])",
        tests=["tests/test_tail_scales.py"],
    ),
    dict(
        name="tail_factor_narrowing",
        file="pfn/model/tail_scales.py",
        old="found.append(round(max(1.0, factor), 4))",
        new="found.append(round(factor, 4))",
        tests=["tests/test_tail_scales.py"],
    ),
    dict(
        name="tail_datasets_counted_as_targets",
        file="pfn/model/tail_scales.py",
        old="enough = int(inside.any(dim=-1).sum()) >= min_datasets",
        new="enough = int(inside.sum()) >= min_datasets",
        tests=["tests/test_tail_scales.py"],
    ),
    dict(
        name="predictor_default_tails",
        file="pfn/inference/predictor.py",
        old="return PosteriorPredictive(logits, p.output.at_context(self.num_context), loc, scale, self._numpy)",
        new="return PosteriorPredictive(logits, p.output, loc, scale, self._numpy)",
        tests=["tests/test_tail_scales.py"],
    ),
    dict(
        name="tail_scales_not_saved",
        file="pfn/checkpoint.py",
        old='output_config["tail_scales"] = output.tail_scales.to_dict()',
        new="pass",
        tests=["tests/test_tail_scales.py"],
    ),
    dict(
        name="tail_scales_lost_on_resume",
        file="pfn/training/module.py",
        old="self.output.tail_scales = None if scales is None else TailScales.from_dict(scales)",
        new="pass",
        tests=["tests/test_tail_scales.py"],
    ),
]
