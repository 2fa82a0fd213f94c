"""`pfn evaluate`: NLL, calibration and gap to the exact GP, as numbers, a table, and plots."""

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import pfn
import pfn.evaluation
from pfn.checkpoint import save_checkpoint
from pfn.cli import main as cli_main
from pfn.configs import check_experiment, experiment_names, experiment_prior, shipped_experiments
from pfn.evaluation.evaluate import evaluate, prior_of
from pfn.evaluation.scoring import LEVELS, context_sizes_for
from pfn.model import BarDistribution, PFNTransformer
from priors import GPPrior, Prior


def untrained_gp_model(tmp_path):
    """Zero output head: predicts the prior marginal, whose calibration and NLL are known."""
    prior = GPPrior()
    y = prior.sample(2048, 50, 1, torch.Generator().manual_seed(0)).y
    net = PFNTransformer(1, 100, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    bar = BarDistribution.from_samples(y, 100)
    path = save_checkpoint(
        tmp_path / "m.safetensors", net, bar, prior=prior.describe(), training={"experiment": "gp_1d"}
    )
    return pfn.load(path), prior


def test_report_numbers_table_and_plots(tmp_path):
    predictor, prior = untrained_gp_model(tmp_path)
    report = evaluate(predictor, prior, context_sizes=[0, 5, 20], num_datasets=200, num_queries=30)
    # predicting the marginal N(0, 0.2) everywhere: NLL about 0.5 log(2 pi e 0.2) = 0.614, and
    # calibrated intervals; the exact GP is better once there is context
    for row in report.rows:
        # 5 standard errors over datasets (points within a GP dataset are correlated, so this is wide)
        assert abs(row.nll - 0.5 * math.log(2 * math.pi * math.e * 0.2)) < 5 * row.nll_stderr
        for lv in LEVELS:
            assert abs(row.coverage[lv] - lv) < 5 * row.coverage_stderr[lv]
            # the targets of one GP draw miss together: wider than for 200 x 30 independent targets
            assert row.coverage_stderr[lv] > math.sqrt(lv * (1 - lv) / (200 * 30))
    # without context the exact answer is the marginal itself: the bars (100 of them, tails matched
    # to the samples' tails) cost under 0.01 nats; with context the exact GP is far better
    assert abs(report.rows[0].gap) < 0.01 and report.rows[2].gap > 0.1
    table = report.to_markdown()
    assert table.count("\n") == 5 and "exact GP NLL" in table
    assert report.summary()["reference"] == "exact GP"
    names = sorted(p.name for p in report.plot(tmp_path / "plots"))
    assert names == ["coverage.png", "examples.png", "nll_vs_context.png"]


def test_prior_is_composed_from_the_named_experiment(tmp_path):
    predictor, _ = untrained_gp_model(tmp_path)
    prior = prior_of(predictor)
    assert isinstance(prior, GPPrior) and prior.describe() == GPPrior().describe()
    np.testing.assert_allclose(prior.kernel_matrix(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1)).item(), 0.1)


def test_marginal_likelihood_gp_recovers_known_hyperparameters():
    """On a GP with known Matern-5/2 hyperparameters and 60 context points, the ML-II fit finds the
    lengthscale (median within 20%) and predicts within 0.1 nats of the exact posterior, which
    no method can beat on average (here by more than 0.02, sampling noise over 64 datasets)."""
    from pfn.evaluation.gp_baseline import FittedGP
    from priors.kernels import Matern52

    prior = GPPrior(kernel=Matern52(lengthscale=0.2, outputscale=1.0), noise=0.01, max_features=2)
    b = prior.sample(64, 110, 2, torch.Generator().manual_seed(0))
    n = 60
    gp = FittedGP(b.x[:, :n], b.y[:, :n])
    fitted = (gp._hyperparameters()[0] * gp.x_scale[:, 0]).median(0).values
    assert torch.allclose(fitted, torch.full((2,), 0.2, dtype=torch.float64), rtol=0.2), fitted
    nll = -gp.predict(b.x[:, n:]).log_prob(b.y[:, n:].double()).mean()
    exact = -prior.posterior_predictive(b.x[:, :n], b.y[:, :n], b.x[:, n:]).log_prob(b.y[:, n:]).mean()
    assert -0.02 < float(nll - exact) < 0.1
    with pytest.raises(ValueError, match="at least 2 context points"):
        FittedGP(b.x[:, :1], b.y[:, :1])


def test_models_without_an_exact_posterior_are_compared_with_the_fitted_gp(tmp_path):
    from priors.hyperpriors import LogUniform
    from priors.kernels import Matern52

    prior = GPPrior(kernel=Matern52(lengthscale=LogUniform(0.1, 1.0)), noise=0.01)
    y = prior.sample(512, 50, 1, torch.Generator().manual_seed(0)).y
    net = PFNTransformer(1, 50, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    path = save_checkpoint(tmp_path / "m.safetensors", net, BarDistribution.from_samples(y, 50), prior=prior.describe())
    report = evaluate(pfn.load(path), prior, context_sizes=[1, 10], num_datasets=32, num_queries=10)
    assert report.reference == "GP ML-II"
    assert report.rows[0].reference_nll is None and report.rows[1].reference_nll is not None
    # the untrained model predicts the marginal; the GP fitted to 10 points is much better
    assert report.rows[1].gap > 0.3 and report.summary()["reference_context_sizes"] == [10]
    assert "| 1 |" in report.to_markdown() and "— | — |" in report.to_markdown()


class DeclaredGP(Prior):
    """A user's prior: GP datasets, with the exact posterior declared under a name of its own."""

    exact_posterior = "my exact posterior"

    def _sample(self, batch_size, num_points, num_features, generator):
        return GPPrior().sample(batch_size, num_points, num_features, generator)

    def posterior_predictive(self, x_train, y_train, x_test):
        return GPPrior().posterior_predictive(x_train, y_train, x_test)


def test_evaluation_asks_the_prior_for_its_reference_and_imports_no_prior_class(tmp_path):
    predictor, gp = untrained_gp_model(tmp_path)
    declared = evaluate(predictor, DeclaredGP(), [0, 5], num_datasets=8, num_queries=5)
    exact = evaluate(predictor, gp, [0, 5], num_datasets=8, num_queries=5)
    assert declared.reference == "my exact posterior" and exact.reference == "exact GP"
    assert [r.gap for r in declared.rows] == [r.gap for r in exact.rows]
    for path in Path(pfn.evaluation.__file__).parent.glob("*.py"):
        imported = re.findall(r"^\s*(?:from|import) (priors\S*)", path.read_text(), flags=re.MULTILINE)
        assert set(imported) <= {"priors.base"}, (path.name, imported)


# -- which configs evaluation may compose ----------------------------------------------------------------


def model_naming(tmp_path, experiment, **training):
    """An untrained 1-D GP model whose header names ``experiment``."""
    net = PFNTransformer(1, 20, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    bar = BarDistribution.from_samples(torch.randn(1000, generator=torch.Generator().manual_seed(0)), 20)
    path = save_checkpoint(tmp_path / "m.safetensors", net, bar, prior=GPPrior().describe(),
                           training={"experiment": experiment, **training})  # fmt: skip
    return pfn.load(path)


def write_experiment(folder, name, body):
    (folder / "experiment").mkdir(parents=True, exist_ok=True)
    (folder / "experiment" / f"{name}.yaml").write_text("# @package _global_\n" + body)


def test_an_experiment_named_by_a_checkpoint_cannot_pick_a_config_outside_the_package(tmp_path):
    """A header naming `../../<somewhere>/evil` would make Hydra load that YAML and instantiate its
    `_target_`s (here: create a folder). Evaluation refuses it before composing anything."""
    import pfn.configs

    evil, pwned = tmp_path / "evil", tmp_path / "pwned"
    write_experiment(evil, "evil", f"prior:\n  noise:\n    _target_: os.makedirs\n    name: {pwned}\n")
    shipped = Path(pfn.configs.__file__).parent / "experiment"
    escape = os.path.relpath(evil / "experiment" / "evil", shipped)
    predictor = model_naming(tmp_path, escape)
    with pytest.raises(ValueError, match=r"the checkpoint names experiment '\.\./.*evil', which is not a known"):
        prior_of(predictor)
    with pytest.raises(ValueError, match="experiment must be one of the package's experiments"):
        experiment_prior(escape)
    assert cli_main(["evaluate", str(tmp_path / "m.safetensors"), "--datasets", "2"]) == 2
    assert not pwned.exists()
    for name in ["", "gp_1d.yaml", "../experiment/gp_1d", "experiment/gp_1d", None, 3]:
        with pytest.raises(ValueError, match="experiment must be one of"):
            check_experiment(name)


def test_a_users_own_experiment_needs_its_config_dir_passed_explicitly(tmp_path):
    write_experiment(tmp_path / "cfg", "mine", "prior:\n  noise: 0.25\n")
    predictor = model_naming(tmp_path, "mine")
    with pytest.raises(ValueError, match="not a known experiment.*--config-dir"):
        prior_of(predictor)
    prior = prior_of(predictor, config_dir=tmp_path / "cfg")
    assert isinstance(prior, GPPrior) and prior.noise.value == 0.25
    assert experiment_names(tmp_path / "cfg") == sorted([*shipped_experiments(), "mine"])
    assert shipped_experiments() == sorted(p.stem for p in (Path(pfn.__file__).parent / "configs/experiment").iterdir())
    with pytest.raises(ValueError, match="config_dir .* is not a directory"):
        prior_of(predictor, config_dir=tmp_path / "nowhere")


# -- which context sizes, datasets and queries evaluation accepts ------------------------------------------


def test_arguments_outside_what_a_model_can_be_scored_on_are_refused(tmp_path):
    predictor, prior = untrained_gp_model(tmp_path)  # no max_context in the header: any size >= 0
    for sizes, match in [([-5], r"context_sizes must be integers in \[0, inf\], got \[-5\]"),
                         ([1.5], r"got \[1\.5\]"), ([], "non-empty"), ([3, 3], "distinct")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            evaluate(predictor, prior, sizes, num_datasets=2, num_queries=2)
    for datasets, queries, match in [(1, 5, "num_datasets must be an integer >= 2"),
                                     (4, 0, "num_queries must be an integer >= 1"),
                                     (2.0, 5, "num_datasets")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            evaluate(predictor, prior, [1], num_datasets=datasets, num_queries=queries)
    capped = model_naming(tmp_path / "capped", "gp_1d", max_context=50)
    with pytest.raises(ValueError, match=r"context_sizes must be integers in \[0, 50\] \(the model was trained"):
        evaluate(capped, prior, [10, 60], num_datasets=2, num_queries=2)
    report = evaluate(capped, prior, [0, 50], num_datasets=2, num_queries=1)
    assert [r.num_context for r in report.rows] == [0, 50]
    assert all(math.isfinite(r.nll) and math.isfinite(r.nll_stderr) for r in report.rows)


def test_default_context_sizes_are_clipped_to_what_each_model_was_trained_on(tmp_path):
    from priors import LearningCurvePrior

    gp = model_naming(tmp_path / "a", "gp_1d", max_context=100)
    assert context_sizes_for(gp, GPPrior()) == [0, 1, 2, 5, 10, 20, 30, 50, 75, 100]
    small = model_naming(tmp_path / "b", "gp_1d", max_context=20)
    assert context_sizes_for(small, GPPrior()) == [0, 1, 2, 5, 10, 20]
    curves = model_naming(tmp_path / "c", "lc", max_context=99, num_points=100)
    assert context_sizes_for(curves, LearningCurvePrior()) == [1, 2, 5, 10, 20, 30, 50, 75, 99]
    with pytest.raises(ValueError, match=r"integers in \[1, 99\].*one to predict, got \[0, 100\]"):
        context_sizes_for(curves, LearningCurvePrior(), [0, 5, 100])


def test_scoring_per_input_dimension():
    """gp-hyper (1-3 inputs) scored on 1-D and 3-D functions of its prior: 20 points pin down a 1-D function
    far better than a 3-D one, so the held-out NLL must be clearly lower in 1-D; widths outside 1-3 are refused."""
    predictor = pfn.load("gp-hyper")
    prior = prior_of(predictor, "gp_hyper")
    one, three = (evaluate(predictor, prior, [20], num_datasets=64, num_queries=20, num_features=d).rows[0]
                  for d in (1, 3))  # fmt: skip
    assert one.nll + 3 * math.hypot(one.nll_stderr, three.nll_stderr) < three.nll
    for bad in (0, 4, 2.0):
        with pytest.raises(ValueError, match="num_features must be an integer from 1 to 3"):
            evaluate(predictor, prior, [5], num_datasets=2, num_queries=2, num_features=bad)


def test_coverage_and_its_standard_error_are_over_datasets():
    """Four datasets of two targets whose hits are (1, 1), (0, 0), (1, 1), (1, 0): coverage 5/8, and the standard
    error of the mean of the per-dataset shares (1, 0, 1, 0.5): sd 0.4787 (by hand, n - 1) over sqrt(4)."""
    from pfn.evaluation.scoring import score_row

    hits = torch.tensor([[True, True], [False, False], [True, True], [True, False]])
    row = score_row(5, torch.zeros(4, 2), None, {0.9: hits})
    assert row.coverage[0.9] == pytest.approx(5 / 8)
    shares = [1.0, 0.0, 1.0, 0.5]
    sd = math.sqrt(sum((s - 0.625) ** 2 for s in shares) / 3)
    assert row.coverage_stderr[0.9] == pytest.approx(sd / 2) == pytest.approx(0.2394, abs=1e-4)
