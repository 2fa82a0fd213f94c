"""`PFNRegressor.score` is the coefficient of determination R^2 of its predictive mean, checked on targets
that differ from the predictions by known amounts (scoring the predictions against themselves gives 1 for
almost any formula, so it cannot tell a right R^2 from a wrong one)."""

import numpy as np
import pytest

import pfn
from pfn.sklearn import PFNRegressor


def textbook_r2(y: np.ndarray, prediction: np.ndarray) -> float:
    """1 - SS_res / SS_tot (sums over the scored points)."""
    return 1 - ((y - prediction) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def test_score_is_r2_of_the_predictive_mean_against_the_true_targets(checkpoint_file):
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 2)), rng.normal(size=20)
    Xq = rng.random((9, 2))
    reg = PFNRegressor(model=str(checkpoint_file)).fit(X, y)
    mean = pfn.load(checkpoint_file).predict(X, y, Xq).mean.astype(np.float64)
    # targets = predictions + known errors: R^2 = 1 - sum(e^2) / SS_tot, well away from 1 and from 0
    errors = np.array([0.3, -0.2, 0.5, -0.4, 0.1, 0.0, -0.3, 0.2, -0.2])  # summing to 0, as the spread does
    spread = np.linspace(-1.0, 1.0, 9)
    y_true = mean + spread + errors
    expected = textbook_r2(y_true, mean)
    assert 0.3 < expected < 0.9
    assert reg.score(Xq, y_true) == pytest.approx(expected, rel=1e-6)
    # shifting every target by c adds m c^2 to the residual sum and leaves SS_tot unchanged
    assert reg.score(Xq, y_true + 0.5) == pytest.approx(expected - 9 * 0.25 / ((y_true - y_true.mean()) ** 2).sum())
