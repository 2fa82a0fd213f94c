"""Mutants of classification: the tabular prior, PFNClassifier's ensembles, the NUTS reference and the
classifier scores (see scripts/mutation_check.py)."""

MUTANTS = [
    dict(
        name="tabular_classes_not_renumbered",
        file="priors/tabular.py",
        old="y = order.gather(-1, label)",
        new="y = label",
        tests=["tests/test_tabular_prior.py"],
    ),
    dict(
        name="tabular_one_class_too_few",
        file="priors/tabular.py",
        old="k = torch.randint(self.min_classes, c + 1,",
        new="k = torch.randint(self.min_classes, c,",
        tests=["tests/test_tabular_prior.py"],
    ),
    dict(
        name="tabular_irrelevant_features_used",
        file="priors/tabular.py",
        old=" * (torch.rand(b, 1, d, generator=generator, device=dev) >= irrelevant_prob)",
        new="",
        tests=["tests/test_tabular_prior.py"],
    ),
    dict(
        name="ensemble_codes_not_undone",
        file="pfn/sklearn.py",
        old="by_class = log_proba.gather(-1, codes.to(log_proba.device))",
        new="by_class = log_proba",
        tests=["tests/test_sklearn_classifier.py"],
    ),
    dict(
        name="ensemble_mean_of_log_probabilities",
        file="pfn/sklearn.py",
        old="return (torch.logsumexp(by_class, 0) - math.log(members)).cpu().numpy()",
        new="return torch.log_softmax(by_class.mean(0), -1).cpu().numpy()",
        tests=["tests/test_sklearn_classifier.py"],
    ),
    dict(
        name="pca_unstandardised",
        file="pfn/sklearn.py",
        old="return x.mean(0), np.where(scale > 0, scale, 1.0)",
        new="return x.mean(0), np.ones_like(scale)",
        tests=["tests/test_sklearn_classifier.py"],
    ),
    dict(
        name="pca_not_applied_when_predicting",
        file="pfn/sklearn.py",
        old="x_model = x_arr if estimator.projection_ is None else estimator.projection_(x_arr)",
        new="x_model = x_arr[:, : estimator.estimators_features_.shape[1]]",
        tests=["tests/test_sklearn_classifier.py"],
    ),
    dict(
        name="nuts_linear_prior_too_wide",
        file="pfn/evaluation/nuts.py",
        old="f = x @ w * w_scale / math.sqrt(d)",
        new="f = x @ w * w_scale",
        tests=["tests/test_nuts_reference.py"],
    ),
    dict(
        name="nuts_argmax_counts_own_class",
        file="pfn/evaluation/nuts.py",
        old="log_cdf = jnp.where(jnp.eye(k, dtype=bool)[..., None], 0.0, log_cdf)",
        new="log_cdf = log_cdf",
        tests=["tests/test_nuts_reference.py"],
    ),
    dict(
        name="ece_unweighted_bins",
        file="pfn/evaluation/classification.py",
        old="error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())",
        new="error += abs(correct[inside].mean() - confidence[inside].mean()) / bins",
        tests=["tests/test_sklearn_classifier.py"],
    ),
    dict(
        name="regressor_ensemble_averages_logits",  # the members' logits averaged: not their mixture
        file="pfn/sklearn.py",
        old="logits = torch.logsumexp(torch.log_softmax(logits.to(torch.float64), dim=-1), dim=0) - math.log(members)",
        new="logits = logits.mean(0)",
        tests=["tests/test_sklearn_regressor.py", "-k", "not estimator_checks"],
    ),
    dict(
        name="regressor_subsample_takes_the_first_rows",
        file="pfn/sklearn.py",
        old="keep = np.sort(rng.choice(len(x_arr), limit, replace=False))",
        new="keep = np.arange(limit)",
        tests=["tests/test_sklearn_regressor.py", "-k", "not estimator_checks"],
    ),
    dict(
        name="regressor_members_see_the_same_columns",
        file="pfn/sklearn.py",
        old="    return projection, x_model, _feature_subsets(d_model, min(d_model, hi), members, rng)",
        new="    return projection, x_model, np.repeat(np.arange(min(d_model, hi))[None], members, 0)",
        tests=["tests/test_sklearn_regressor.py", "-k", "not estimator_checks"],
    ),
    dict(
        name="regressor_pls_components_in_sample",  # the training rows projected on their own components
        file="pfn/sklearn.py",
        old="cross_fitted[~rest] = (z[~rest] - z[rest].mean(0)) @ _pls_rotations(z[rest], y[rest], size)",
        new="cross_fitted[~rest] = z[~rest] @ _pls_rotations(z, y, size)",
        tests=["tests/test_sklearn_regressor.py"],
    ),
    dict(
        name="regressor_pls_columns_not_deflated",  # every component the first one
        file="pfn/sklearn.py",
        old="        z = z - np.outer(t, p)\n",
        new="        z = z - 0 * np.outer(t, p)\n",
        tests=["tests/test_sklearn_regressor.py"],
    ),
]
