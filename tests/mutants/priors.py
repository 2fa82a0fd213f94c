"""Mutants of the priors (see scripts/mutation_check.py)."""

PRIORS = "tests/test_priors.py"

MUTANTS = [
    dict(
        name="bnn_depth_per_batch",
        file="priors/bnn.py",
        old="        depth = self.num_layers.sample((b,), generator).long().to(dev)  # (B,)",
        new="        depth = self.num_layers.sample((1,), generator).long().to(dev).expand(b)  # (B,)",
        tests=[PRIORS, "-k", "drawn_per_dataset"],
    ),
    dict(
        name="bnn_width_per_batch",
        file="priors/bnn.py",
        old="        width = self.width.sample((b,), generator).to(dev)  # (B,)",
        new="        width = self.width.sample((1,), generator).to(dev).expand(b)  # (B,)",
        tests=[PRIORS, "-k", "drawn_per_dataset"],
    ),
    dict(
        name="gp_posterior_variance_x1.2",
        file="priors/gp.py",
        old="        variance = torch.maximum(prior_var - v.square().sum(1), noise)",
        new="        variance = 1.2 * torch.maximum(prior_var - v.square().sum(1), noise)",
        tests=["tests/test_gp_exact.py"],
    ),
    dict(
        name="gp_prior_kernel_unchecked",  # GPPrior(kernel="rbf") accepted, fails later in sampling
        file="priors/gp.py",
        old="        if kernel is not None and not isinstance(kernel, Kernel):",
        new="        if False:",
        tests=[PRIORS, "-k", "constructor"],
    ),
    dict(
        name="hyperprior_support_unchecked",  # noise=Uniform(-1, 1) accepted: negative variances
        file="priors/hyperpriors.py",
        old="    if low is not None and (low <= 0 if positive else low < 0):",
        new="    if False:",
        tests=[PRIORS, "-k", "constructor"],
    ),
    dict(
        name="bnn_integer_hyperparameters_unchecked",  # num_layers=1.5 silently means 1
        file="priors/bnn.py",
        old="    if not all(is_real(v) and v >= 1 and v == int(v) for v in values):",
        new="    if not all(is_real(v) for v in values):",
        tests=[PRIORS, "-k", "constructor"],
    ),
    dict(
        name="lc_max_epochs_unchecked",
        file="priors/learning_curves.py",
        old='        self.max_epochs = None if max_epochs is None else check_integer(max_epochs, "max_epochs")',
        new="        self.max_epochs = max_epochs",
        tests=[PRIORS, "-k", "constructor"],
    ),
    dict(
        name="lc_one_point_curve_accepted",  # every rejection round fails, then a RuntimeError
        file="priors/learning_curves.py",
        old="        if length < 2:",
        new="        if length < 1:",
        tests=[PRIORS, "-k", "two_points"],
    ),
    dict(
        name="function_prior_return_unchecked",  # prior.fn returning None: 'NoneType' has no attribute 'x'
        file="priors/base.py",
        old="        if not (isinstance(out, Batch) or pair):",
        new="        if False:",
        tests=["tests/test_train_runs.py", "-k", "user_prior"],
    ),
    dict(
        name="check_real_accepts_nan",  # caught by the property-based tests
        file="priors/checks.py",
        old="    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)",
        new="    return isinstance(value, numbers.Real) and not isinstance(value, bool)",
        tests=["tests/test_prior_properties.py", "-k", "invalid"],
    ),
    dict(
        name="run_curves_not_rescaled_to_their_final_level",
        file="priors/run_curves.py",
        old="clean = torch.where(reach[:, None], y0 + (clean - y0) * ((y_inf - y0) / gained).clamp_max(1e6), clean)",
        new="clean = torch.where(reach[:, None], clean, clean)",
        tests=["tests/test_run_curve_prior.py"],
    ),
    dict(
        name="mixture_of_curve_priors_not_sequential",
        file="priors/mixture.py",
        old="        self.sequential = kinds.pop()",
        new="        self.sequential = False",
        tests=["tests/test_priors.py", "-k", "mixture"],
    ),
    dict(
        name="tabular_regression_noise_not_set_by_the_ratio",  # noise sd 1/sqrt(s) instead of 1/s
        file="priors/tabular.py",
        old="t = f + torch.randn(b, n, generator=generator, device=dev) / ratio",
        new="t = f + torch.randn(b, n, generator=generator, device=dev) / ratio.sqrt()",
        tests=["tests/test_tabular_regression_prior.py"],
    ),
    dict(
        name="tabular_regression_skew_rates_widened",
        file="priors/tabular.py",
        old="rate = 0.2 + 0.8 * torch.rand(b, 1, generator=generator, device=dev)",
        new="rate = 0.1 + 0.9 * torch.rand(b, 1, generator=generator, device=dev)",
        tests=["tests/test_tabular_regression_prior.py"],
    ),
    dict(
        name="tabular_regression_every_feature_relevant",
        file="priors/tabular.py",
        old="z * relevances(b, d, self.irrelevant_prob, generator), 1, generator).squeeze(-1)",
        new="z, 1, generator).squeeze(-1)",
        tests=["tests/test_tabular_regression_prior.py"],
    ),
]
