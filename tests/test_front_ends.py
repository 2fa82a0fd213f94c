"""scikit-learn style regressor and the plotting helper."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import pfn
from pfn.plotting import plot_predictive
from pfn.sklearn import PFNRegressor


def data(seed=0, n=20, d=2):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.normal(size=n)


def test_regressor_matches_the_predictor(checkpoint_file):
    X, y = data()
    Xq, _ = data(1, n=9)
    reg = PFNRegressor(model=str(checkpoint_file)).fit(X, y)
    mean, std = reg.predict(Xq, return_std=True)
    pred = pfn.load(checkpoint_file).predict(X, y, Xq)
    np.testing.assert_allclose(mean, pred.mean, rtol=1e-6)
    np.testing.assert_allclose(std, pred.std, rtol=1e-6)
    q = reg.predict_quantiles(Xq, [0.1, 0.9])
    assert q.shape == (9, 2) and (q[:, 0] < q[:, 1]).all()
    assert reg.get_params()["model"] == str(checkpoint_file)


def test_regressor_errors(checkpoint_file):
    reg = PFNRegressor(model=str(checkpoint_file))
    with pytest.raises(NotFittedError, match="not fitted"):
        reg.predict(np.zeros((2, 2)))
    reg.fit(*data())
    with pytest.raises(ValueError, match="X has 3 features, but PFNRegressor is expecting 2"):
        reg.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Invalid parameter 'lr'"):
        reg.set_params(lr=1)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        reg.fit(np.full((4, 2), np.nan), np.zeros(4))
    with pytest.raises(ValueError, match="X has 60 training points, but this model was trained on contexts of at most"):
        reg.fit(*data(n=60))


def test_plot_draws_mean_and_bands(tmp_path, small_bar):
    from pfn.checkpoint import save_checkpoint
    from pfn.model import PFNTransformer

    net = PFNTransformer(1, 32, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    predictor = pfn.load(save_checkpoint(tmp_path / "m.safetensors", net, small_bar, prior={}))
    x = np.linspace(0, 1, 8)
    ax = plot_predictive(predictor, x, np.sin(6 * x), levels=(0.5, 0.9))
    assert len(ax.collections) == 3  # two bands and the data
    assert len(ax.lines) == 1 and len(ax.lines[0].get_xdata()) == 300
    ax.figure.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
