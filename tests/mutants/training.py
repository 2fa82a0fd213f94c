"""Mutants of training runs, the `pfn` CLI and evaluation (see scripts/mutation_check.py)."""

RUNS = "tests/test_train_runs.py"
WARM = "tests/test_warm_start.py"

MUTANTS = [
    dict(
        name="lr_schedule_reset_on_resume",  # a resumed run restarts warm-up and decay from step 0
        file="pfn/training/checkpoint_io.py",
        old="        return super().load_checkpoint(path, map_location=map_location, weights_only=True)",
        new="        checkpoint = super().load_checkpoint(path, map_location=map_location, weights_only=True)\n"
        "        for state in checkpoint.get('lr_schedulers', []):\n"
        "            state.update(last_epoch=0, _step_count=1)\n"
        "        return checkpoint",
        tests=[RUNS, "-k", "learning_rate_schedule"],
    ),
    dict(
        name="run_lock_not_taken",
        file="pfn/training/train.py",
        old="    with RunLock(output_dir) if owner else contextlib.nullcontext():",
        new="    with contextlib.nullcontext():",
        tests=[RUNS, "-k", "in_use"],
    ),
    dict(
        name="every_rank_owns_the_run",  # DDP ranks 1.. would wait on rank 0's lock
        file="pfn/training/run_dir.py",
        old="                return False\n    return True",
        new="                pass\n    return True",
        tests=[RUNS, "-k", "first_process"],
    ),
    dict(
        name="sigterm_not_reported",  # SIGTERM ends training like a finished run that exports nothing
        file="pfn/training/train.py",
        old="        raise interrupted(trainer.global_step, output_dir) from stop",
        new="        raise",
        tests=[RUNS, "-k", "sigterm"],
    ),
    dict(
        name="sigterm_exit_status_0",
        file="pfn/training/train.py",
        old="        sys.exit(EXIT_SIGTERM)",
        new="        sys.exit(0)",
        tests=["tests/test_scale_out.py", "-k", "sigterm"],
    ),
    dict(
        name="fresh_run_replaces_earlier_model",
        file="pfn/training/run_dir.py",
        old="+ ([model] if model.exists() else [])]",
        new="+ []]",
        tests=[RUNS, "-k", "replaces"],
    ),
    dict(
        name="ckpt_path_not_checked",
        file="pfn/training/run_dir.py",
        old="    if ckpt_path is not None:\n        check_lightning_checkpoint(Path(ckpt_path))",
        new="    if False:\n        check_lightning_checkpoint(Path(ckpt_path))",
        tests=[RUNS, "-k", "ckpt_path"],
    ),
    dict(
        name="init_from_weights_not_loaded",  # a warm start trains from random weights (with the source's bins)
        file="pfn/training/warm_start.py",
        old="    net.load_state_dict(source.net.state_dict())",
        new="    pass",
        tests=[WARM, "-k", "step_0"],
    ),
    dict(
        name="init_from_config_unchecked",  # another normalisation or tails start silently; another size crashes
        file="pfn/training/warm_start.py",
        old="    if found:",
        new="    if False:",
        tests=[WARM, "-k", "differs"],
    ),
    dict(
        name="init_from_lost_on_resume",  # a resumed warm-started run exports a model that no longer names its source
        file="pfn/training/module.py",
        old="            checkpoint[INIT_FROM_KEY] = dict(self.init_from)",
        new="            pass",
        tests=[WARM, "-k", "resuming"],
    ),
    dict(
        name="experiment_path_not_validated",  # a checkpoint's header could pick any YAML file to instantiate
        file="pfn/configs/__init__.py",
        old="    if not isinstance(experiment, str) or experiment not in names:",
        new="    if not isinstance(experiment, str):",
        tests=["tests/test_evaluate.py", "-k", "outside_the_package or config_dir"],
    ),
    dict(
        name="evaluate_negative_context_sizes_accepted",
        file="pfn/evaluation/scoring.py",
        old="    bad = [n for n in sizes if not _is_int(n) or not low <= n <= top]",
        new="    bad = [n for n in sizes if not _is_int(n) or not n <= top]",
        tests=["tests/test_evaluate.py", "tests/test_prior_properties.py", "-k", "outside or accepts_exactly"],
    ),
    dict(
        name="cli_context_sizes_unchecked",
        file="pfn/cli.py",
        old='"--context-sizes", type=_count(0),',
        new='"--context-sizes", type=int,',
        tests=["tests/test_cli.py", "-k", "bad_arguments"],
    ),
    dict(
        name="evaluate_counts_unchecked",  # --datasets 1 / --queries 0 print NaN tables
        file="pfn/evaluation/evaluate.py",
        old="    check_counts(num_datasets, num_queries)\n    d = predictor.num_features",
        new="    d = predictor.num_features",
        tests=["tests/test_evaluate.py", "-k", "outside"],
    ),
    dict(
        name="default_context_sizes_not_clipped",  # `pfn evaluate lc` fails with the defaults
        file="pfn/evaluation/scoring.py",
        old="        return sorted({int(min(max(n, low), top)) for n in CONTEXT_SIZES})",
        new="        return list(CONTEXT_SIZES)",
        tests=["tests/test_evaluate.py", "-k", "default_context_sizes"],
    ),
    dict(
        name="fitted_gp_variance_x1.2",  # the reference of BNN and hyperprior models
        file="pfn/evaluation/gp_baseline.py",
        old="        var = (os[:, None] - v.square().sum(-2)).clamp_min(0) + noise[:, None]",
        new="        var = 1.2 * ((os[:, None] - v.square().sum(-2)).clamp_min(0) + noise[:, None])",
        tests=["tests/test_gp_exact.py", "-k", "fitted"],
    ),
    dict(
        name="coverage_stderr_over_points",  # as if every held-out target were an independent draw
        file="pfn/evaluation/scoring.py",
        old="coverage_se = {lv: float(s.std() / math.sqrt(num_datasets)) for lv, s in shares.items()}",
        new="coverage_se = {lv: float(h.double().std() / math.sqrt(h.numel())) for lv, h in hits.items()}",
        tests=["tests/test_evaluate.py"],
    ),
]
