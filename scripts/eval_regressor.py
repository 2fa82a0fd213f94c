"""PFNRegressor on real and synthetic tables beside standard regressors: log-likelihood, RMSE, coverage and time.

    python scripts/eval_regressor.py                          # the shipped tabular-regressor, 5 splits per dataset
    python scripts/eval_regressor.py --model outputs/tabular_regressor/model.safetensors --splits 2

Datasets: the regression dataset bundled with scikit-learn (diabetes), two regression tasks made from its
classification tables (a wine's alcohol content from its 12 other measurements; a breast tumour's mean fractal
dimension from the 29 other measurements), and synthetic ones (Friedman's three
functions, the first also with 20 columns of which 15 are noise, a sparse linear model with 20 columns, a linear
model on 30 columns of low effective rank, a sparse uncorrelated design, and a smooth nonlinear function of two
of eight correlated inputs). The targets are standardised once per dataset (so the scores of
different datasets are in comparable units); each is split 5 times (seeded) into a training part of
min(500, n / 2) points and a test part of at most 1000, and every method sees the same splits. Methods:
PFNRegressor (its defaults: one member; a table with more columns than the model takes is reduced to cross-
fitted partial least squares components; "PFN x4": a mixture of 4 members that see the columns in different
orders), a GP
(ARD RBF kernel plus noise, fitted by marginal likelihood with 3 restarts, standardised inputs), Bayesian ridge
regression, a random forest and gradient boosting. Log-likelihood: the mean log density of the test targets
(Gaussian for the GP and Bayesian ridge; none for the forests); coverage: the share of test targets inside the
central 90% interval. Times are fit + predict on one CPU thread. Writes docs/results/eval_regressor.md: per
dataset the mean over splits (time: median), then each method's mean rank over datasets (1 = best), and for the
tables wider than the model PFNRegressor's three feature reductions side by side.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from results import write_results
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import BayesianRidge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from split_scores import scores_over_splits

import pfn
from pfn.sklearn import PFNRegressor

Z90 = 1.6448536269514722  # the standard normal's 95% quantile: a central 90% interval is mean +- Z90 sd


def tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The datasets, by name: (X, y) with y standardised."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    X, y = datasets.load_diabetes(return_X_y=True)
    out["diabetes"] = (X, y)
    wine = datasets.load_wine().data
    out["wine-alcohol"] = (np.delete(wine, 0, axis=1), wine[:, 0])
    tumours = datasets.load_breast_cancer().data
    out["tumour-fractal"] = (np.delete(tumours, 9, axis=1), tumours[:, 9])
    out["friedman1"] = datasets.make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=0)
    out["friedman1-20f"] = datasets.make_friedman1(n_samples=1000, n_features=20, noise=1.0, random_state=6)
    out["friedman2"] = datasets.make_friedman2(n_samples=1000, noise=100.0, random_state=1)
    out["friedman3"] = datasets.make_friedman3(n_samples=1000, noise=0.1, random_state=2)
    X, y = datasets.make_regression(n_samples=1000, n_features=20, n_informative=5, noise=20.0, random_state=3)
    out["linear-20f"] = (X, y)
    out["lowrank-30f"] = datasets.make_regression(
        n_samples=1000, n_features=30, n_informative=10, effective_rank=5, noise=1.0, random_state=7
    )
    out["sparse-uncorrelated"] = datasets.make_sparse_uncorrelated(n_samples=1000, n_features=6, random_state=4)
    rng = np.random.default_rng(5)
    latent = rng.normal(size=(1000, 8))
    X = latent + 0.5 * latent[:, [1, 2, 3, 4, 5, 6, 7, 0]]  # neighbouring columns correlated
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.3 * rng.normal(size=1000)
    out["smooth-8f"] = (X, y)
    return {name: (X.astype(float), (y - y.mean()) / y.std()) for name, (X, y) in out.items()}


def gp(seed: int, d: int) -> Any:
    """A GP with one lengthscale per column, fitted by marginal likelihood on standardised inputs."""
    kernel = ConstantKernel() * RBF(np.ones(d), (1e-2, 1e3)) + WhiteKernel(0.1, (1e-6, 1e1))
    return make_pipeline(
        StandardScaler(), GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=3, random_state=seed)
    )


def methods(model: str) -> dict[str, Callable[[int, int], Any]]:
    """Estimator factories by name, each given the split's seed and the number of columns."""
    return {
        "PFN": lambda seed, d: PFNRegressor(model=model, subsample=True, random_state=seed),
        "PFN x4": lambda seed, d: PFNRegressor(model=model, subsample=True, random_state=seed, n_estimators=4),
        "GP (ML-II)": gp,
        "Bayesian ridge": lambda seed, d: make_pipeline(StandardScaler(), BayesianRidge()),
        "random forest": lambda seed, d: RandomForestRegressor(n_estimators=300, random_state=seed, n_jobs=1),
        "gradient boosting": lambda seed, d: HistGradientBoostingRegressor(random_state=seed),
    }


def reductions(model: str) -> dict[str, Callable[[int, int], Any]]:
    """PFNRegressor with each feature reduction, for tables with more columns than the model takes."""
    return {
        f"PFN, {how}": lambda seed, d, how=how: PFNRegressor(
            model=model, subsample=True, random_state=seed, feature_reduction=how
        )
        for how in ("pls", "pca", "subsets")
    }


def score(estimator: Any, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
    start = time.perf_counter()
    estimator.fit(X[train], y[train])
    y_test = y[test]
    if isinstance(estimator, PFNRegressor):
        pred = estimator.predict_distribution(X[test])
        mean = np.asarray(pred.mean)
        loglik = float(np.mean(pred.log_prob(y_test)))
        lo, hi = (np.asarray(v) for v in pred.interval(0.9))
    elif _has_std(estimator):
        mean, std = estimator.predict(X[test], return_std=True)
        loglik = float(np.mean(-0.5 * ((y_test - mean) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi)))
        lo, hi = mean - Z90 * std, mean + Z90 * std
    else:
        mean, loglik, lo, hi = estimator.predict(X[test]), math.nan, None, None
    seconds = time.perf_counter() - start
    coverage = math.nan if lo is None else float(np.mean((y_test >= lo) & (y_test <= hi)))
    rmse = float(np.sqrt(np.mean((y_test - mean) ** 2)))
    return {"loglik": loglik, "rmse": rmse, "coverage": coverage, "seconds": seconds}


def _has_std(estimator: Any) -> bool:
    last = estimator[-1] if hasattr(estimator, "steps") else estimator
    return isinstance(last, GaussianProcessRegressor | BayesianRidge)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tabular-regressor")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", help="default: all")
    parser.add_argument("--methods", nargs="+", help="default: all")
    parser.add_argument("--results-name", default="eval_regressor")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # lengthscales of irrelevant columns at their bound
    data = tables()
    names = args.datasets or list(data)
    estimators = {k: v for k, v in methods(args.model).items() if not args.methods or k in args.methods}
    results = scores_over_splits(data, names, estimators, score, args.splits, stratified=False)
    text = report(results, data, args)
    model_features = pfn.load(args.model).num_features
    wide = [n for n in names if data[n][0].shape[1] > model_features]
    if wide:
        by_reduction = scores_over_splits(data, wide, reductions(args.model), score, args.splits, stratified=False)
        text += "\n\n" + reduction_report(by_reduction, data)
    write_results(args.results_name, text, threads=1)


def reduction_report(results: dict[str, dict[str, dict[str, float]]], data: dict[str, Any]) -> str:
    """Log-likelihood, RMSE and coverage of each feature reduction on the wide tables."""
    methods_ = list(next(iter(results.values())))
    lines = [
        "**Tables wider than the model: PFNRegressor's feature reductions** (pls: cross-fitted partial least "
        "squares, the default; pca: principal components; subsets: a mixture of members on column subsets)",
        "",
        "| dataset | n, features | " + " | ".join(f"{m}: {k}" for m in methods_ for k in ("LL", "RMSE", "90%")) + " |",
        "|---|---:|" + "---:|" * (3 * len(methods_)),
    ]
    for name, by_method in results.items():
        X, y = data[name]
        cells = " | ".join(_cell(by_method[m][k]) for m in methods_ for k in ("loglik", "rmse", "coverage"))
        lines.append(f"| {name} | {len(y)}, {X.shape[1]} | {cells} |")
    return "\n".join(lines)


def _cell(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


def report(results: dict[str, dict[str, dict[str, float]]], data: dict[str, Any], args: argparse.Namespace) -> str:
    methods_ = list(next(iter(results.values())))
    head = "| dataset | n, features | " + " | ".join(methods_) + " |"
    sep = "|---|---:|" + "---:|" * len(methods_)
    blocks = []
    metrics = (("loglik", "Test log-likelihood (nats per point, standardised targets)"), ("rmse", "RMSE"),
               ("coverage", "90% interval coverage"), ("seconds", "Fit + predict, median s"))  # fmt: skip
    for metric, label in metrics:
        lines = [f"**{label}**", "", head, sep]
        for name, by_method in results.items():
            X, y = data[name]
            cells = " | ".join(_cell(by_method[m][metric]) for m in methods_)
            lines.append(f"| {name} | {len(y)}, {X.shape[1]} | {cells} |")
        blocks.append("\n".join(lines))
    ranks: dict[str, dict[str, list[float]]] = {"loglik": {}, "rmse": {}}
    for metric, sign in (("loglik", -1), ("rmse", 1)):
        for by_method in results.values():
            scored = [m for m in methods_ if not math.isnan(by_method[m][metric])]
            order = np.array([sign * by_method[m][metric] for m in scored]).argsort().argsort() + 1.0
            for m, r in zip(scored, order, strict=True):
                ranks[metric].setdefault(m, []).append(float(r))
    summary = ["| method | mean rank, log-likelihood | mean rank, RMSE |", "|---|---:|---:|"]
    for m in methods_:
        ll = f"{np.mean(ranks['loglik'][m]):.2f}" if m in ranks["loglik"] else "—"
        summary.append(f"| {m} | {ll} | {np.mean(ranks['rmse'][m]):.2f} |")
    intro = (
        f"Model `{args.model}`; {args.splits} splits per dataset (training part min(500, n/2) points, test part at "
        f"most 1000); means over splits (time: median). Ranks over the {len(results)} datasets, the log-likelihood's "
        "among the methods with a predictive density."
    )
    return intro + "\n\n" + "\n".join(summary) + "\n\n" + "\n\n".join(blocks)


if __name__ == "__main__":
    main()
