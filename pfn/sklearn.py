"""A scikit-learn style front end: ``PFNRegressor(model="gp").fit(X, y).predict(X, return_std=True)``.

"Fitting" a PFN is conditioning on the data: the context is encoded once in ``fit``
and every later prediction reuses it. No scikit-learn install is needed; the
estimator follows its conventions (``get_params``/``set_params``, trailing-underscore
attributes, ``score`` as R^2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np

from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import ConditionedPredictor, Predictor, load
from pfn.types import ArrayLike


class PFNRegressor:
    """Regression with a PFN's posterior predictive.

    Args:
        model: a pretrained model's name, a checkpoint path, or a loaded :class:`Predictor`.
        device: "cpu", "cuda" or "mps".
    """

    def __init__(self, model: str | Predictor = "gp", device: str = "cpu"):
        self.model = model
        self.device = device

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"model": self.model, "device": self.device}

    def set_params(self, **params: Any) -> PFNRegressor:
        for key, value in params.items():
            if key not in ("model", "device"):
                raise ValueError(f"PFNRegressor has no parameter {key!r}; it has 'model' and 'device'")
            setattr(self, key, value)
        return self

    def fit(self, X: ArrayLike, y: ArrayLike) -> PFNRegressor:
        """Condition the PFN on the training data (X of shape (n, d) or (n,), y of shape (n,))."""
        self.predictor_ = self.model if isinstance(self.model, Predictor) else load(self.model, device=self.device)
        X = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = 1 if X.ndim == 1 else X.shape[1]
        self.conditioned_: ConditionedPredictor = self.predictor_.condition(X, np.asarray(y, dtype=np.float64))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "conditioned_"):
            raise RuntimeError("this PFNRegressor is not fitted yet: call fit(X, y) first")

    def predict_distribution(self, X: ArrayLike) -> PosteriorPredictive:
        """The full posterior predictive at X (its statistics are NumPy arrays)."""
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        d = 1 if X.ndim == 1 else X.shape[1]
        if d != self.n_features_in_:
            raise ValueError(f"X has {d} features, but PFNRegressor was fitted with {self.n_features_in_}")
        pred = self.conditioned_.predict(X)
        if not isinstance(pred, PosteriorPredictive):
            raise ValueError("PFNRegressor needs a regression model; this one is a classifier")
        return pred

    @overload
    def predict(self, X: ArrayLike, return_std: Literal[False] = False) -> np.ndarray: ...
    @overload
    def predict(self, X: ArrayLike, return_std: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
    @overload
    def predict(self, X: ArrayLike, return_std: bool) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...

    def predict(self, X: ArrayLike, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predictive mean at X, and its standard deviation with ``return_std=True``."""
        pred = self.predict_distribution(X)  # fitted on NumPy arrays: its statistics are NumPy arrays
        mean = np.asarray(pred.mean)
        return (mean, np.asarray(pred.std)) if return_std else mean

    def predict_quantiles(self, X: ArrayLike, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> np.ndarray:
        """Predictive quantiles at X, shape (m, len(quantiles))."""
        return np.asarray(self.predict_distribution(X).quantile(list(quantiles)))

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Coefficient of determination R^2 of the predictive mean."""
        y = np.asarray(y, dtype=np.float64)
        residual = ((y - self.predict(X)) ** 2).sum()
        return float(1 - residual / ((y - y.mean()) ** 2).sum())
