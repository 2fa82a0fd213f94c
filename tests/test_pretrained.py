"""Shipped models: each loads by name, predicts, and reproduces its card's figures within noise."""

import math

import numpy as np
import pytest

import pfn
from pfn.evaluation.evaluate import evaluate, prior_of

SHIPPED = [m["name"] for m in pfn.list_pretrained()]


def test_shipped_models_are_listed_with_their_fidelity():
    for entry in pfn.list_pretrained():
        assert entry["evaluation"]["rows"], entry["name"]
        assert entry["size_mb"] < 25  # small enough for git


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_by_name_and_predicts(name):
    predictor = pfn.load(name)
    d = predictor.num_features
    x = np.random.default_rng(0).random((12, d))
    if predictor.is_classifier:
        probs = predictor.predict(x, np.arange(12) % 3, x[:4]).probs
        assert np.isfinite(probs).all() and np.allclose(probs.sum(-1), 1, atol=1e-5)
        return
    pred = predictor.predict(x, np.linspace(0.1, 0.6, 12), x[:4])
    assert np.isfinite(pred.mean).all()


@pytest.mark.parametrize("name", SHIPPED)
def test_card_figures_are_reproduced_on_a_small_sample(name):
    """A fresh evaluation (other datasets: another seed) agrees with the card per context size
    within 4 standard errors of the difference."""
    predictor = pfn.load(name)
    card = {r["num_context"]: r for r in predictor.config["evaluation"]["rows"]}
    sizes = [n for n in (5, 20, 50) if n in card]
    report = evaluate(predictor, prior_of(predictor), sizes, num_datasets=96, seed=777)
    for row in report.rows:
        ref = card[row.num_context]
        se = math.hypot(row.nll_stderr, ref["nll_stderr"])
        assert abs(row.nll - ref["nll"]) < 4 * se, (row.num_context, row.nll, ref["nll"], se)
        if ref.get("gap") is not None:
            se_gap = math.hypot(row.gap_stderr, ref["gap_stderr"])
            assert abs(row.gap - ref["gap"]) < 4 * se_gap + 1e-3, (row.num_context, row.gap, ref["gap"])


@pytest.mark.skipif(not {"lc", "lc-wide"} <= set(SHIPPED), reason="needs the shipped lc and lc-wide")
def test_lc_wide_misses_real_curves_less_badly_than_lc():
    """On the 40 bundled real learning curves (digits MLPs, 100 epochs), after 5 epochs: the mean
    log-likelihood of the final accuracy under lc-wide beats lc's by more than 0.3 nats (measured
    0.75, paired standard error 0.21), because LC-PFN's prior rarely lets a curve keep rising."""
    import json
    from pathlib import Path

    from pfn import curves

    data = json.loads((Path(__file__).parent.parent / "scripts" / "data" / "real_curves.json").read_text())
    prefixes = [c["values"][:5] for c in data["epoch_wise"]]
    finals = [c["values"][-1] for c in data["epoch_wise"]]

    def mean_log_lik(model):
        forecasts = curves.extrapolate(prefixes, max_epochs=100, model=model)
        return np.mean([f.log_prob(v)[-1] for f, v in zip(forecasts, finals, strict=True)])

    assert mean_log_lik("lc-wide") > mean_log_lik("lc") + 0.3


@pytest.mark.skipif("lc-real" not in SHIPPED, reason="needs the shipped lc-real")
@pytest.mark.parametrize("kinds", [("epoch", "iteration"), ("sample",)])
def test_default_curve_model_is_calibrated_on_held_out_real_runs(kinds):
    """The default curve model's 90% intervals for the final value, from the first quarter of each held-out real
    curve of the corpus (accuracy and R^2, runs on datasets no model, prior or calibration was fitted on), hold it
    about 90% of the time: within four binomial standard errors, 4 sqrt(0.9 * 0.1 / n) (0.078 for the 234 epoch-
    and iteration-wise curves, 0.096 for the 156 sample-wise ones, forecast on the log budget axis). Measured:
    0.957 and 0.840 with the stored calibration; without it 0.940 and 0.545 (the sample-wise curves end higher than
    the model expects). The 50% intervals are checked only for not undercovering (measured 0.624 and 0.455)."""
    import gzip
    import json
    from pathlib import Path

    from pfn import curves

    path = Path(__file__).parent.parent / "scripts" / "data" / "curve_corpus.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        corpus = json.load(f)["curves"]
    held = [c for c in corpus if c["split"] == "heldout" and c["kind"] in kinds and c["metric"] in ("accuracy", "r2")]
    assert len(held) == (234 if "epoch" in kinds else 156)
    cut = [max(2, round(0.25 * len(c["values"]))) for c in held]

    def coverage(level: float, calibration="auto") -> float:
        forecasts = curves.extrapolate(
            [c["values"][:n] for c, n in zip(held, cut, strict=True)],
            epochs=[c["budgets"][:n] for c, n in zip(held, cut, strict=True)],
            max_epochs=[c["budgets"][-1] for c in held],
            budget_scale="log" if kinds == ("sample",) else "linear",
            calibration=calibration,
        )
        intervals = (f.interval(level) for f in forecasts)
        return float(np.mean([lo[0] <= c["values"][-1] <= hi[0] for c, (lo, hi) in zip(held, intervals, strict=True)]))

    tolerance = 4 * math.sqrt(0.9 * 0.1 / len(held))
    assert abs(coverage(0.9) - 0.9) < tolerance
    assert coverage(0.5) > 0.5 - 4 * math.sqrt(0.5 * 0.5 / len(held))
    if kinds == ("sample",):  # the model alone undercovers these by far
        assert coverage(0.9, calibration=None) < 0.9 - tolerance
