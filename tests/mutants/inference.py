"""Mutants of the inference stage (see scripts/mutation_check.py): each is a plausible bug that a test must catch."""

PREDICTIVE = "pfn/inference/predictive.py"
PREDICTOR = "pfn/inference/predictor.py"
INPUTS = "pfn/inference/inputs.py"
UNITS_TESTS = [
    "tests/test_predictive.py::test_location_scale_maps_every_statistic",
    "tests/test_inference.py::test_every_statistic_follows_the_units_of_y",
]

MUTANTS = [
    dict(
        name="variance_units",  # the variance scaled like a standard deviation
        file=PREDICTIVE,
        old="return self._out(self._mean_variance_z()[1] * self.scale**2)",
        new="return self._out(self._mean_variance_z()[1] * self.scale)",
        tests=UNITS_TESTS,
    ),
    dict(
        name="sample_units",  # draws left in normalised units
        file=PREDICTIVE,
        old="return self._out(self._y(draws))",
        new="return self._out(draws)",
        tests=UNITS_TESTS,
    ),
    dict(
        name="ucb_units",  # the bound's spread left in normalised units
        file=PREDICTIVE,
        old="mean, std = self._y(mean_z), var_z.sqrt() * self.scale",
        new="mean, std = self._y(mean_z), var_z.sqrt()",
        tests=UNITS_TESTS,
    ),
    dict(
        name="bfloat16_ignored",  # dtype="bfloat16" runs in float32
        file=PREDICTOR,
        old="self.net = net.to(self.device, self.dtype).eval()",
        new="self.net = net.to(self.device, torch.float32 if self.dtype == torch.bfloat16 else self.dtype).eval()",
        tests=["tests/test_inference.py::test_bfloat16_differs_from_float32_by_rounding"],
    ),
    dict(
        name="float64_weights_ignored",  # dtype="float64" runs the network in float32
        file=PREDICTOR,
        old="self.net = net.to(self.device, self.dtype).eval()",
        new="self.net = net.to(self.device, torch.float32 if self.dtype == torch.float64 else self.dtype).eval()",
        tests=["tests/test_inference.py::test_float64_agrees_with_a_float64_forward_pass"],
    ),
    dict(
        name="encode_groups_drop_the_last",  # on a CPU, the last group of datasets is never encoded
        file=PREDICTOR,
        old="for i in range(0, b, group)]",
        new="for i in range(0, b - group, group)]",
        tests=["tests/test_predictor.py::test_cpu_encodes_datasets_in_groups_with_the_same_result"],
    ),
    dict(
        name="one_shot_groups_misordered",  # a one-shot prediction pairs a group's queries with other contexts
        file=PREDICTOR,
        old="cache = p.net.encode_context(x_ctx[rows], y_ctx[rows])",
        new="cache = p.net.encode_context(x_ctx[rows].flip(0), y_ctx[rows].flip(0))",
        tests=[
            "tests/test_predictor.py::test_one_shot_prediction_in_groups_equals_the_cached_one",
            "tests/test_predict_properties.py::test_one_shot_prediction_in_groups_equals_the_cached_one",
        ],
    ),
    dict(
        name="one_shot_keeps_the_whole_cache",  # a one-shot prediction encodes every context before decoding
        file=PREDICTOR,
        old="conditioned = self._condition(x_train, y_train, encode=False)",
        new="conditioned = self._condition(x_train, y_train, encode=True)",
        tests=["tests/test_inference.py::test_one_shot_prediction_of_many_contexts_fits_in_bounded_memory"],
    ),
    dict(
        name="float64_logits_rounded",  # float64 logits cast to float32 on the way out
        file=PREDICTOR,
        old="return torch.float64 if self.dtype == torch.float64 else torch.float32",
        new="return torch.float32",
        tests=["tests/test_inference.py::test_float64_agrees_with_a_float64_forward_pass"],
    ),
    dict(
        name="zero_context_scale",  # with no context, a y scale other than the prior's units
        file="pfn/model/normalization.py",
        old="""        shape = (v.shape[0], 1, *v.shape[2:])
        return v.new_zeros(shape), v.new_ones(shape)
    if scale_invariant:""",
        new="""        shape = (v.shape[0], 1, *v.shape[2:])
        return v.new_zeros(shape), 1.5 * v.new_ones(shape)
    if scale_invariant:""",
        tests=[
            "tests/test_inference.py::test_zero_context_is_the_prior_predictive",
            "tests/test_inference.py::test_zero_context_gp_hyper_matches_the_hyperprior_mixture",
        ],
    ),
    dict(
        name="ei_cancellation",  # minimising EI as E[(Y - c)+] - E[Y - c]: cancels far below the predictive
        file=PREDICTIVE,
        old="else self.bar.expected_shortfall(logits, cc)",
        new="else self.bar.expected_excess(logits, cc) - (self.bar.mean(logits) - cc)",
        tests=[
            "tests/test_predictive.py::test_expected_improvement_far_beyond_the_predictive",
            "tests/test_predictive.py::test_expected_improvement_in_a_far_pareto_tail",
        ],
    ),
    dict(
        name="chunk_memory",  # every prediction's logits held whole, however many queries
        file="pfn/inference/memory.py",
        old="STORED_ELEMENTS = 2**24",
        new="STORED_ELEMENTS = 2**62",
        tests=["tests/test_inference.py::test_many_queries_fit_in_bounded_memory"],
    ),
    dict(
        name="chunk_size_unchecked",  # chunk_size=-1 accepted (it returned zero predictions)
        file=PREDICTOR,
        old="or not isinstance(value, numbers.Integral) or value < 1):",
        new="or not isinstance(value, numbers.Integral)):",
        tests=["tests/test_predictor.py::test_chunk_size_must_be_a_positive_integer"],
    ),
    dict(
        name="float32_before_standardising",  # inputs rounded to float32 before the context mean is taken off
        file=PREDICTOR,
        old="    t = real_tensor(value, name)\n",
        new="    t = real_tensor(value, name).float().double()\n",
        tests=["tests/test_inference.py::test_standardised_inputs_keep_float64_precision"],
    ),
    dict(
        name="absolute_min_scale",  # a context spread below 1e-6 treated as constant whatever the data's units
        file=PREDICTOR,
        old="stats = self.normalization.fit(xt, yt, scale_invariant=True)",
        new="stats = self.normalization.fit(xt, yt, scale_invariant=False)",
        tests=["tests/test_inference.py::test_a_context_spread_tiny_in_absolute_terms_is_not_constant"],
    ),
    dict(
        name="negative_strides_refused",  # NumPy arrays viewed without a copy: negative strides fail
        file=INPUTS,
        old='return torch.from_numpy(np.array(arr, dtype=np.float64, order="C"))',
        new="return torch.as_tensor(arr.astype(np.float64, copy=False))",
        tests=["tests/test_predictor.py::test_any_numeric_array_like_gives_the_same_prediction"],
    ),
    dict(
        name="complex_truncated",  # the imaginary part silently dropped
        file=INPUTS,
        old='if arr.dtype.kind == "c":',
        new="if False:",
        tests=["tests/test_predictor.py::test_non_real_input_names_the_argument"],
    ),
    dict(
        name="sample_count_nan",  # n = nan reaches int(): "cannot convert float NaN to integer"
        file=PREDICTIVE,
        old="if not ok or not math.isfinite(n) or int(n) != n or n < 1:",
        new="if not ok or int(n) != n or n < 1:",
        tests=["tests/test_predictive.py::test_edge_statistics"],
    ),
    dict(
        name="bfloat16_attention_unscaled",  # the written-out attention without 1 / sqrt(Dh)
        file="pfn/model/transformer.py",
        old="scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)",
        new="scores = q @ k.transpose(-1, -2)",
        tests=["tests/test_model.py"],
    ),
    dict(
        name="context_mlp_reads_the_attention_norm",  # encode's MLP normalised by ln1
        file="pfn/model/transformer.py",
        old="        return k, v, ctx + self.mlp(self.ln2(ctx))",
        new="        return k, v, ctx + self.mlp(self.ln1(ctx))",
        tests=["tests/test_model.py"],
    ),
]
