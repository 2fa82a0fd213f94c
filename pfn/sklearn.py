"""scikit-learn front ends: ``PFNRegressor().fit(X, y).predict(X, return_std=True)`` and
``PFNClassifier(model="bnn-classifier").fit(X, y).predict_proba(X)``.

"Fitting" a PFN is conditioning on the data: the context is encoded once in ``fit``
and every later prediction reuses it. Both are full scikit-learn estimators (they pass
``check_estimator`` within a PFN's limits) and need scikit-learn >= 1.6.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import numbers
import os
from collections.abc import Sequence
from typing import Literal, cast, overload

import numpy as np
import torch

from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import ConditionedPredictor, Predictor, load
from pfn.model.categorical import Categorical
from pfn.types import ArrayLike

try:  # optional: without scikit-learn the estimators import, and say what they need when fitted
    from sklearn.base import BaseEstimator as _BaseEstimator
    from sklearn.base import ClassifierMixin as _ClassifierMixin
    from sklearn.base import RegressorMixin as _RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data

    _SKLEARN_MISSING: str | None = None
except ImportError as error:  # no scikit-learn, or one older than 1.6 (no validate_data)
    _BaseEstimator, _ClassifierMixin = type("_BaseEstimator", (), {}), type("_ClassifierMixin", (), {})
    _RegressorMixin = type("_RegressorMixin", (), {})
    _SKLEARN_MISSING = str(error)


#: the model PFNRegressor conditions on by default
DEFAULT_REGRESSOR = "tabular-regressor"
#: folds over which feature_reduction="pls" cross-fits the training rows' components
PLS_FOLDS = 5


class PFNRegressor(_RegressorMixin, _BaseEstimator):
    """Regression with a PFN's posterior predictive, as a scikit-learn regressor.

    ``fit(X, y)`` checks the data against the model's limits and encodes it as the PFN's context (no
    gradient steps); :meth:`predict_distribution` is the full posterior predictive at new rows (mean,
    quantiles, intervals, density, samples), :meth:`predict` its mean (and standard deviation with
    ``return_std=True``), :meth:`predict_quantiles` its quantiles and ``score`` the R^2 of its mean.

    A model limits the data it conditions on; each limit is a ``ValueError`` in ``fit``: X must have
    at least ``min_features`` columns, and there may be at most ``max_context`` training points (the
    largest context it was trained on) unless ``subsample=True``. X and y must be finite (impute NaN
    first).

    **Ensembles.** With ``n_estimators`` > 1 the predictive is the mixture (the mean density) of several
    members, each conditioned on the same data with the columns in a random order: a PFN is close to,
    but not exactly, invariant to the order of the columns, and the mixture removes most of what is
    left. The predictive is exactly invariant to the order of the training rows.

    **More features than the model takes** (``d > num_features``), by ``feature_reduction``:

    - ``"pls"`` (default): the model sees up to ``num_features`` partial least squares components of the
      standardised columns: the directions of the columns' covariance with y, each after the earlier ones
      are taken out. They are chosen with y, so a training row's components would show it more related
      to y than a new row's: the training rows' components are cross-fitted instead, each row projected
      on the components fitted to the other folds (5 folds) of the training rows, and new rows on those of
      all of them. A table of only a few informative directions keeps them, where principal components
      (of X alone) can miss them all. Needs at least 3 training rows.
    - ``"pca"``: the leading ``num_features`` principal components of the standardised columns.
    - ``"subsets"``: members that each see ``num_features`` of the columns (by default
      ``2 * ceil(d / num_features)`` members, at most 16), a mixture of the posteriors given feature subsets.

    Args:
        model: a regression checkpoint's path, a shipped model's name, or a loaded
            :class:`~pfn.inference.predictor.Predictor`. Loaded in ``fit`` (a path or name is loaded once
            per process and shared, for as long as the file is unchanged).
        device: "cpu", "cuda" (or "cuda:N") or "mps", for a model given by path or name.
        subsample: with more training points than the model's ``max_context``, condition on a uniform
            random subsample of ``max_context`` points instead of raising ``ValueError``.
        random_state: seed or ``numpy.random.RandomState`` for that subsample and the members' columns.
        n_estimators: ensemble members; None: 1, except for wide tables reduced by "subsets".
        feature_reduction: "pls", "pca" or "subsets", for X with more columns than the model takes.

    Attributes:
        n_features_in_: number of features seen in ``fit``.
        feature_names_in_: column names, when X was a DataFrame with string column names.
        predictor_: the loaded model.
        context_X_, context_y_: the training points the PFN conditions on (after any subsampling), float64.
        projection_: the standardisation and axes ("pls" or "pca") new rows of a wide table are reduced by,
            or None.
        estimators_features_: (members, columns) the columns each member sees, in its order.
        conditioned_: the model with every member's context encoded (one batch).
    """

    def __init__(
        self,
        model: str | os.PathLike | Predictor = DEFAULT_REGRESSOR,
        device: str = "cpu",
        subsample: bool = False,
        random_state: int | np.random.RandomState | None = None,
        n_estimators: int | None = None,
        feature_reduction: str = "pls",
    ):
        self.model = model
        self.device = device
        self.subsample = subsample
        self.random_state = random_state
        self.n_estimators = n_estimators
        self.feature_reduction = feature_reduction

    def fit(self, X: ArrayLike, y: ArrayLike) -> PFNRegressor:
        """Condition the PFN on the training data: X of shape (n, d), y of shape (n,) with real values.

        Raises:
            ValueError: a classification model; X or y malformed, not finite, or beyond the model's limits
                (features, context size; see the class description).
        """
        _require_sklearn("PFNRegressor")
        x_arr: np.ndarray
        x_arr, y_arr = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        predictor = _model(self.model, self.device, classifier=False)
        rng = check_random_state(self.random_state)
        if predictor.max_context is not None and len(x_arr) > predictor.max_context:
            limit = predictor.max_context
            if not self.subsample:
                raise ValueError(
                    f"X has {len(x_arr)} training points, but this model was trained on contexts of at most {limit}; "
                    f"pass at most {limit} points, or PFNRegressor(subsample=True) to condition on a random "
                    f"subsample of {limit}"
                )
            keep = np.sort(rng.choice(len(x_arr), limit, replace=False))
            x_arr, y_arr = x_arr[keep], y_arr[keep]
        self.projection_, x_model, features = _reduction(
            x_arr, y_arr, predictor, self.feature_reduction, self.n_estimators, rng
        )
        self.predictor_ = predictor
        self.context_X_, self.context_y_ = x_arr, y_arr
        self.estimators_features_ = features
        x_members = np.stack([x_model[:, f] for f in features])  # (members, n, columns)
        y_members = np.broadcast_to(y_arr, (len(features), len(y_arr)))
        self.conditioned_: ConditionedPredictor = predictor.condition(x_members, y_members)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "conditioned_")

    def predict_distribution(self, X: ArrayLike) -> PosteriorPredictive:
        """The posterior predictive at X, shape (m,): the mixture of the members' predictives (NumPy statistics)."""
        x_members = _member_inputs(self, X)  # first: NotFittedError before fit
        pred = self.conditioned_.predict(x_members)
        if not isinstance(pred, PosteriorPredictive):  # fitted with a regression model: cannot happen
            raise TypeError("the model predicts classes, not real values")
        members = len(self.estimators_features_)
        logits = pred.logits  # (members, m, K)
        if members > 1:  # the members' mean bin probabilities
            logits = torch.logsumexp(torch.log_softmax(logits.to(torch.float64), dim=-1), dim=0) - math.log(members)
        # every member conditions on the same targets, so they share the map to the user's units
        return PosteriorPredictive(logits.reshape(-1, logits.shape[-1]), pred.bar, pred.loc[0], pred.scale[0], True)

    @overload
    def predict(self, X: ArrayLike, return_std: Literal[False] = False) -> np.ndarray: ...
    @overload
    def predict(self, X: ArrayLike, return_std: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
    @overload
    def predict(self, X: ArrayLike, return_std: bool) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...

    def predict(self, X: ArrayLike, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predictive mean at X, and its standard deviation with ``return_std=True``."""
        pred = self.predict_distribution(X)
        mean = np.asarray(pred.mean)
        return (mean, np.asarray(pred.std)) if return_std else mean

    def predict_quantiles(self, X: ArrayLike, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> np.ndarray:
        """Predictive quantiles at X, shape (m, len(quantiles))."""
        return np.asarray(self.predict_distribution(X).quantile(list(quantiles)))


class PFNClassifier(_ClassifierMixin, _BaseEstimator):
    """Classification with a PFN trained on a classification prior, as a scikit-learn classifier.

    ``fit(X, y)`` checks the data against the model's limits and encodes it as the PFN's context
    (no gradient steps); ``predict_proba`` is the PFN's posterior predictive over the classes seen
    in ``y``. Labels may be anything :func:`numpy.unique` can sort (ints, strings, ...): they are
    coded 0 .. k-1 in sorted order, as ``classes_`` lists them. The model's probabilities of codes
    it was trained for but ``y`` lacks (a 3-class model fitted on 2 classes) are dropped and the
    rest renormalised: they are the predictive given that the label is one of ``classes_``.

    A model limits the data it conditions on; each limit is a ``ValueError`` in ``fit``: X must
    have at least ``min_features`` columns, y at most the model's ``num_classes`` classes (and at
    least 2), and there may be at most ``max_context`` training points (the largest context it was
    trained on) unless ``subsample=True``. X must be finite (impute NaN first).

    **Ensembles.** With ``n_estimators`` > 1 the prediction is the mean of the class probabilities
    of several members, each conditioned on the same data with the classes numbered in a random
    order and the columns in a random order: a PFN is close to, but not exactly, invariant to both,
    and the mean removes most of what is left (with ``n_estimators`` a multiple of ``k!`` for k
    classes, each column order is used with every numbering once: exactly invariant to
    relabelling). The probabilities are exactly invariant to the order of the training rows.

    **More features than the model takes** (``d > num_features``), by ``feature_reduction``:

    - ``"pca"`` (default): the model sees the leading ``num_features`` principal components of the
      training columns, each standardised first (``projection_``). Directions of little variance
      are lost, even where they carry the label.
    - ``"subsets"``: each member sees ``num_features`` of the columns, chosen so that every column is
      used by about the same number of members (by default ``2 * ceil(d / num_features)`` members,
      at most 16): a mixture of the posteriors given feature subsets, not the posterior given all
      features, and less sharp than either when the signal is spread over many columns.

    Args:
        model: a classification checkpoint's path, a shipped model's name, or a loaded
            :class:`~pfn.inference.predictor.Predictor`. Loaded in ``fit`` (a path or name is loaded
            once per process and shared, for as long as the file is unchanged).
        device: "cpu", "cuda" (or "cuda:N") or "mps", for a model given by path or name (a
            ``Predictor`` keeps its own device).
        subsample: with more training points than the model's ``max_context``, condition on a
            random class-stratified subsample of ``max_context`` points (every class kept) instead
            of raising ``ValueError``.
        random_state: seed or ``numpy.random.RandomState`` for that subsample and for the members' class
            and column orders.
        n_estimators: ensemble members; None: 1, except for wide tables reduced by "subsets"
            (``min(16, 2 * ceil(d / num_features))``). One member conditions on the (reduced) data as
            given.
        feature_reduction: "pca" or "subsets", for X with more columns than the model takes.

    Attributes:
        classes_: the labels, sorted; column j of ``predict_proba`` is the probability of ``classes_[j]``.
        n_features_in_: number of features seen in ``fit``.
        feature_names_in_: column names, when X was a DataFrame with string column names.
        predictor_: the loaded model.
        context_X_: the training points the PFN conditions on (after any subsampling), float64.
        context_y_: their class codes: indices into ``classes_``.
        projection_: the standardisation and principal axes wide tables are reduced by ("pca"), or None.
        estimators_features_: (members, columns) the columns each member sees (of X, or of its principal
            components), in its order.
        class_codes_: (members, len(classes_)) the code each member gives each class.
        conditioned_: the model with every member's context encoded (one batch).
    """

    def __init__(
        self,
        model: str | os.PathLike | Predictor | None = None,
        device: str = "cpu",
        subsample: bool = False,
        random_state: int | np.random.RandomState | None = None,
        n_estimators: int | None = None,
        feature_reduction: str = "pca",
    ):
        self.model = model
        self.device = device
        self.subsample = subsample
        self.random_state = random_state
        self.n_estimators = n_estimators
        self.feature_reduction = feature_reduction

    def fit(self, X: ArrayLike, y: ArrayLike) -> PFNClassifier:
        """Condition the PFN on the training data: X of shape (n, d), y of shape (n,) with class labels.

        Raises:
            ValueError: no or a regression model; X or y malformed, not finite, or beyond the model's
                limits (features, classes, context size; see the class description).
        """
        _require_sklearn("PFNClassifier")
        x_arr: np.ndarray
        # 2-d, finite, one label per row (a column vector y warns); sets n_features_in_ and feature_names_in_
        x_arr, y_arr = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y_arr)  # refuses continuous targets
        classes, codes = np.unique(y_arr, return_inverse=True)
        codes, k = codes.reshape(-1), len(classes)
        if k < 2:
            raise ValueError(
                f"y has only one class ({classes.tolist()[0]!r}); a classifier needs samples of at least 2 classes"
            )
        predictor = _model(self.model, self.device, classifier=True)
        k_max = cast(Categorical, predictor.output).num_classes
        if k > k_max:
            raise ValueError(f"y has {k} classes, but this model predicts at most {k_max} classes")
        d, hi = x_arr.shape[1], predictor.num_features
        _check_columns(d, predictor, self.feature_reduction, ("pca", "subsets"))
        pca = d > hi and self.feature_reduction == "pca"
        members = _ensemble_size(self.n_estimators, min(d, hi) if pca else d, hi)
        rng = check_random_state(self.random_state)
        limit = predictor.max_context
        if limit is not None and len(x_arr) > limit:
            if not self.subsample:
                raise ValueError(
                    f"X has {len(x_arr)} training points, but this model was trained on contexts of at most {limit}; "
                    f"pass at most {limit} points, or PFNClassifier(subsample=True) to condition on a "
                    f"class-stratified random subsample of {limit}"
                )
            if limit < k:
                raise ValueError(f"y has {k} classes, more than this model's max_context ({limit}) points")
            keep = _stratified_subsample(codes, limit, rng)
            x_arr, codes = x_arr[keep], codes[keep]
        self.projection_ = _Projection.fit(x_arr, hi) if pca else None
        x_model = x_arr if self.projection_ is None else self.projection_(x_arr)
        d_model = x_model.shape[1]
        if members == 1 and d_model <= hi:  # the data as given
            features, class_codes = np.arange(d_model)[None], np.arange(k)[None]
        else:
            features, class_codes = _ensemble_members(d_model, min(d_model, hi), k, members, rng)
        self.predictor_ = predictor
        self.classes_ = classes
        self.context_X_ = x_arr
        self.context_y_ = codes
        self.estimators_features_ = features
        self.class_codes_ = class_codes
        x_members = np.stack([x_model[:, f] for f in features])  # (members, n, columns)
        y_members = np.take_along_axis(class_codes, np.broadcast_to(codes, (members, len(codes))), 1)
        self.conditioned_: ConditionedPredictor = predictor.condition(x_members, y_members)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "conditioned_")  # set last in fit (validate_data sets n_features_in_ earlier)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log class probabilities at X, shape (m, len(classes_)), columns in the order of ``classes_``."""
        x_members = _member_inputs(self, X)  # first: NotFittedError before fit
        pred = self.conditioned_.predict(x_members)
        if isinstance(pred, PosteriorPredictive):  # fitted with a classifier: cannot happen
            raise TypeError("the model predicts real values, not classes")
        k, members = len(self.classes_), len(self.class_codes_)
        log_proba = torch.log_softmax(pred.logits[..., :k].to(torch.float64), dim=-1)  # (members, m, k) by code
        codes = torch.as_tensor(self.class_codes_)[:, None, :].expand(-1, log_proba.shape[1], -1)
        by_class = log_proba.gather(-1, codes.to(log_proba.device))  # column j: class j's code in each member
        return (torch.logsumexp(by_class, 0) - math.log(members)).cpu().numpy()  # the members' mean probability

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities at X, shape (m, len(classes_)): rows sum to 1, columns follow ``classes_``."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable label at each row of X (an element of ``classes_``)."""
        log_proba = self.predict_log_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(log_proba, axis=1)]


@dataclasses.dataclass(frozen=True)
class _Projection:
    """Columns standardised by ``mean`` and ``scale``, then projected on the principal ``axes`` (d, c)."""

    mean: np.ndarray
    scale: np.ndarray
    axes: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, size: int) -> _Projection:
        """The leading ``size`` principal axes of x's standardised columns (fewer if x has fewer rows);
        each axis signed so that its largest loading is positive (the same data, the same projection)."""
        mean, scale = _standardisation(x)
        _, _, vt = np.linalg.svd((x - mean) / scale, full_matrices=False)
        axes = vt[: min(size, len(vt))].T  # (d, c)
        axes *= np.sign(axes[np.abs(axes).argmax(0), np.arange(axes.shape[1])])
        return cls(mean, scale, axes)

    @classmethod
    def partial_least_squares(
        cls, x: np.ndarray, y: np.ndarray, size: int, rng: np.random.RandomState
    ) -> tuple[_Projection, np.ndarray]:
        """Up to ``size`` PLS components of x's standardised columns with y: the projection of new rows (on the
        components of all rows), and the rows' own components cross-fitted (each row projected on the
        components fitted without its fold of ``PLS_FOLDS``), so that they relate to y as a new row's do."""
        n = len(x)
        if n < 3:
            raise ValueError(
                f"feature_reduction='pls' needs at least 3 training rows to cross-fit its components, got {n}; "
                "use feature_reduction='pca'"
            )
        mean, scale = _standardisation(x)
        z = (x - mean) / scale
        folds = rng.permutation(n) % min(PLS_FOLDS, n)  # fold sizes differ by at most one
        size = min(size, x.shape[1], n - 1 - int(np.bincount(folds).max()))  # every fold's fit can have as many
        cross_fitted = np.empty((n, size))
        for k in np.unique(folds):
            rest = folds != k
            cross_fitted[~rest] = (z[~rest] - z[rest].mean(0)) @ _pls_rotations(z[rest], y[rest], size)
        return cls(mean, scale, _pls_rotations(z, y, size)), cross_fitted

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.axes


def _standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation (1 for a constant column, which stays zero)."""
    scale = x.std(0)
    return x.mean(0), np.where(scale > 0, scale, 1.0)


def _pls_rotations(z: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """(d, size) rotations R of partial least squares with one target (PLS1 by NIPALS): the components of
    rows z (centred by the mean of these z) are (z - mean) @ R. Each weight is the direction of the columns'
    covariance with y once the earlier components are deflated out of the columns; a component with no
    covariance left, and every later one, is a zero column."""
    z = z - z.mean(0)
    yc = y - y.mean()
    weights, loadings = [], []
    for _ in range(size):
        w = z.T @ yc  # (d,): deflated columns stay orthogonal to the earlier components, so y needs no deflation
        norm = float(np.linalg.norm(w))
        if norm <= 1e-10 * float(np.linalg.norm(z) * np.linalg.norm(yc)):  # also norm == 0
            break
        w = w / norm
        t = z @ w
        p = z.T @ t / (t @ t)
        z = z - np.outer(t, p)
        weights.append(w)
        loadings.append(p)
    rotations = np.zeros((z.shape[1], size))
    if weights:
        w_mat, p_mat = np.stack(weights, 1), np.stack(loadings, 1)
        rotations[:, : len(weights)] = w_mat @ np.linalg.inv(p_mat.T @ w_mat)
    return rotations


def _ensemble_size(n_estimators: int | None, d: int, model_features: int) -> int:
    """The number of members: as given, or by default 1 for at most ``model_features`` columns, else
    ``min(16, 2 * ceil(d / model_features))``."""
    if n_estimators is None:
        return 1 if d <= model_features else min(16, 2 * math.ceil(d / model_features))
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, numbers.Integral) or n_estimators < 1:
        raise ValueError(f"n_estimators must be None or an integer >= 1, got {n_estimators!r}")
    return int(n_estimators)


def _feature_subsets(d: int, size: int, members: int, rng: np.random.RandomState) -> np.ndarray:
    """(members, size) column indices, distinct within a member, in random order; each member takes the
    columns used least so far (ties at random), so every column is used by about the same number of members."""
    uses = np.zeros(d)
    subsets = []
    for _ in range(members):
        pick = np.lexsort((rng.random_sample(d), uses))[:size]
        uses[pick] += 1
        subsets.append(rng.permutation(pick))
    return np.stack(subsets)


def _ensemble_members(
    d: int, size: int, k: int, members: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Each member's columns (members, size) and class codes (members, k). With ``members >= k!``, the members
    come in blocks of k! that share their columns and use every class numbering once, so that a multiple of
    k! members is exactly invariant to relabelling; otherwise every member has its own of both."""
    block = math.factorial(k) if math.factorial(k) <= members else 1
    blocks = -(-members // block)
    features = np.repeat(_feature_subsets(d, size, blocks, rng), block, axis=0)[:members]
    if block == 1:
        return features, np.stack([rng.permutation(k) for _ in range(members)])
    every = np.array(list(itertools.permutations(range(k))))
    return features, np.concatenate([every[rng.permutation(block)] for _ in range(blocks)])[:members]


def _model(model: str | os.PathLike | Predictor | None, device: str, classifier: bool) -> Predictor:
    """The model to fit with (a Predictor as given, or one loaded and cached from a path or name), checked
    to predict classes (``classifier``) or real values."""
    name = "PFNClassifier" if classifier else "PFNRegressor"
    if model is None:
        kind = "a classification" if classifier else "a regression"
        raise ValueError(
            f"model is required: {name}(model=...) takes {kind} checkpoint's path, a shipped model's name or a "
            "loaded pfn.Predictor"
        )
    if isinstance(model, Predictor):
        predictor = model
    elif isinstance(model, str | os.PathLike):
        from pfn.pretrained import resolve

        path = resolve(model).resolve()  # FileNotFoundError listing the shipped models
        stat = path.stat()
        predictor = _load_cached(str(path), str(device), stat.st_mtime_ns, stat.st_size)
    else:
        raise ValueError(f"model must be a checkpoint path, a shipped model's name or a pfn.Predictor, got {model!r}")
    if classifier and not isinstance(predictor.output, Categorical):
        raise ValueError(
            f"model {model!r} predicts real values (it was trained on a regression prior); PFNClassifier needs a "
            "model trained on a classification prior, use PFNRegressor for this one"
        )
    if not classifier and isinstance(predictor.output, Categorical):
        raise ValueError(
            f"model {model!r} predicts classes (it was trained on a classification prior); PFNRegressor needs a "
            "model trained on a regression prior, use PFNClassifier for this one"
        )
    return predictor


def _reduction(
    x: np.ndarray,
    y: np.ndarray,
    predictor: Predictor,
    feature_reduction: str,
    n_estimators: int | None,
    rng: np.random.RandomState,
) -> tuple[_Projection | None, np.ndarray, np.ndarray]:
    """For a regressor: the projection of new rows of a wide table (None if not reduced), the training rows as
    the model sees them, and each member's columns (members, columns); checked against the model's limits."""
    d, hi = x.shape[1], predictor.num_features
    _check_columns(d, predictor, feature_reduction, ("pls", "pca", "subsets"))
    projection, x_model = None, x
    if d > hi and feature_reduction == "pls":
        projection, x_model = _Projection.partial_least_squares(x, y, hi, rng)
    elif d > hi and feature_reduction == "pca":
        projection = _Projection.fit(x, hi)
        x_model = projection(x)
    d_model = x_model.shape[1]
    members = _ensemble_size(n_estimators, d_model, hi)
    if members == 1 and d_model <= hi:  # the data as given
        return projection, x_model, np.arange(d_model)[None]
    return projection, x_model, _feature_subsets(d_model, min(d_model, hi), members, rng)


def _check_columns(d: int, predictor: Predictor, feature_reduction: str, known: tuple[str, ...]) -> None:
    """A ValueError unless the model takes tables of ``d`` columns and ``feature_reduction`` is ``known``."""
    if d < predictor.min_features:
        raise ValueError(f"X has {d} features, but this model takes at least {predictor.min_features} features")
    if feature_reduction not in known:
        names = ", ".join(repr(k) for k in known[:-1]) + f" or {known[-1]!r}"
        raise ValueError(f"feature_reduction must be {names}, got {feature_reduction!r}")


def _member_inputs(estimator: PFNRegressor | PFNClassifier, X: ArrayLike) -> np.ndarray:
    """(members, m, columns): the rows of X as a fitted estimator's members see them (projected, columns chosen)."""
    check_is_fitted(estimator)
    x_arr = validate_data(estimator, X, reset=False, dtype=np.float64)
    x_model = x_arr if estimator.projection_ is None else estimator.projection_(x_arr)
    return np.stack([x_model[:, f] for f in estimator.estimators_features_])


def _require_sklearn(name: str) -> None:
    if _SKLEARN_MISSING is not None:
        raise ImportError(f"{name} needs scikit-learn >= 1.6 (pip install 'scikit-learn>=1.6'): {_SKLEARN_MISSING}")


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, device: str, mtime_ns: int, size: int) -> Predictor:
    """A checkpoint loaded once per (file version, device): fitting many estimators (cross-validation,
    a grid search) reads it once. Keyed by modification time and size, so a rewritten file is reloaded."""
    return load(path, device=device)


def _stratified_subsample(codes: np.ndarray, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Sorted indices of ``size`` points drawn without replacement, each class's share as close to its
    share of ``codes`` as whole numbers allow (largest remainders) and every class at least once."""
    counts = np.bincount(codes)
    ideal = counts * size / len(codes)
    quota = np.minimum(counts, np.maximum(1, np.floor(ideal).astype(int)))
    while quota.sum() > size:  # the at-least-one rule overshot: take from the largest quotas
        quota[np.argmax(quota)] -= 1
    while quota.sum() < size:  # hand out the rest by largest remainder among classes with points left
        quota[np.argmax(np.where(quota < counts, ideal - quota, -np.inf))] += 1
    picked = [rng.choice(np.flatnonzero(codes == c), q, replace=False) for c, q in enumerate(quota)]
    return np.sort(np.concatenate(picked))
