"""PFNClassifier on real and synthetic tables beside standard classifiers: accuracy, log loss, ECE and time.

    python scripts/eval_classifier.py                          # the shipped bnn-classifier, 5 splits per dataset
    python scripts/eval_classifier.py --model outputs/bnn_classifier/model.safetensors --splits 2

Datasets: every classification dataset bundled with scikit-learn (iris, wine, breast cancer, digits) and
synthetic ones (make_classification variants, moons, circles). Each is split 5 times (stratified, seeded) into
a training part of min(500, n / 2) points and a test part of at most 1000; every method sees the same splits.
Methods: PFNClassifier (its defaults: one member; a table with more columns than the model takes is
reduced to its leading principal components; "PFN x4": an ensemble of 4 class numberings and column
orders), logistic regression (on standardised inputs), a random
forest, gradient boosting and a GP classifier (RBF kernel fitted by marginal likelihood, standardised
inputs). Times are fit + predict on one
CPU thread. Writes docs/results/eval_classifier.md: per dataset the mean over splits, then each method's
mean rank over datasets (1 = best).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from results import write_results
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.gaussian_process import GaussianProcessClassifier
from sklearn.gaussian_process.kernels import RBF, ConstantKernel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from split_scores import scores_over_splits

from pfn.evaluation.classification import expected_calibration_error
from pfn.sklearn import PFNClassifier


def tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The datasets, by name: (X, y)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in ("iris", "wine", "breast_cancer", "digits"):
        bunch = getattr(datasets, f"load_{name}")()
        out[name] = (bunch.data.astype(float), bunch.target)
    synthetic = {
        "clf-2c-5f": {"n_classes": 2, "n_features": 5, "n_informative": 3, "n_redundant": 1, "flip_y": 0.05},
        "clf-3c-10f": {"n_classes": 3, "n_features": 10, "n_informative": 5, "n_redundant": 2, "flip_y": 0.1},
        "clf-4c-20f": {"n_classes": 4, "n_features": 20, "n_informative": 6, "n_redundant": 2, "class_sep": 0.8},
        "clf-6c-8f": {"n_classes": 6, "n_features": 8, "n_informative": 6, "n_redundant": 0, "flip_y": 0.02},
    }
    for i, (name, kwargs) in enumerate(synthetic.items()):
        out[name] = datasets.make_classification(n_samples=1000, random_state=i, **kwargs)  # type: ignore[arg-type]
    out["moons"] = datasets.make_moons(n_samples=1000, noise=0.3, random_state=0)
    out["circles"] = datasets.make_circles(n_samples=1000, noise=0.15, factor=0.5, random_state=0)
    return out


def methods(model: str) -> dict[str, Callable[[int, int], Any]]:
    """Estimator factories by name, each given the split's seed and the number of columns."""
    return {
        "PFN": lambda seed, d: PFNClassifier(model=model, subsample=True, random_state=seed),
        "PFN x4": lambda seed, d: PFNClassifier(model=model, subsample=True, random_state=seed, n_estimators=4),
        "logistic regression": lambda seed, d: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        "random forest": lambda seed, d: RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1),
        "gradient boosting": lambda seed, d: HistGradientBoostingClassifier(random_state=seed),
        "GP classifier": lambda seed, d: make_pipeline(
            StandardScaler(), GaussianProcessClassifier(ConstantKernel() * RBF(1.0), random_state=seed)
        ),
    }


def score(estimator: Any, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
    start = time.perf_counter()
    estimator.fit(X[train], y[train])
    probs = estimator.predict_proba(X[test])
    seconds = time.perf_counter() - start
    probs = np.clip(probs, 1e-15, 1)
    probs /= probs.sum(1, keepdims=True)
    labels = np.searchsorted(estimator.classes_, y[test])
    return {
        "accuracy": float((probs.argmax(1) == labels).mean()),
        "log_loss": float(log_loss(labels, probs, labels=range(probs.shape[1]))),
        "ece": expected_calibration_error(probs, labels),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bnn-classifier")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", help="default: all")
    parser.add_argument("--methods", nargs="+", help="default: all")
    parser.add_argument("--results-name", default="eval_classifier")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = tables()
    names = args.datasets or list(data)
    estimators = {k: v for k, v in methods(args.model).items() if not args.methods or k in args.methods}
    results = scores_over_splits(data, names, estimators, score, args.splits, stratified=True)
    write_results(args.results_name, report(results, data, args), threads=1)


def report(results: dict[str, dict[str, dict[str, float]]], data: dict[str, Any], args: argparse.Namespace) -> str:
    methods_ = list(next(iter(results.values())))
    head = "| dataset | n, features, classes | " + " | ".join(methods_) + " |"
    sep = "|---|---:|" + "---:|" * len(methods_)
    blocks = []
    metrics = (("log_loss", "Log loss"), ("accuracy", "Accuracy"), ("ece", "ECE (15 bins)"),
               ("seconds", "Fit + predict, median s"))  # fmt: skip
    for metric, label in metrics:
        lines = [f"**{label}**", "", head, sep]
        for name, by_method in results.items():
            X, y = data[name]
            cells = " | ".join(f"{by_method[m][metric]:.3f}" for m in methods_)
            lines.append(f"| {name} | {len(y)}, {X.shape[1]}, {len(np.unique(y))} | {cells} |")
        blocks.append("\n".join(lines))
    ranks = {m: [] for m in methods_}  # type: dict[str, list[float]]
    acc_ranks = {m: [] for m in methods_}  # type: dict[str, list[float]]
    for by_method in results.values():
        for store, metric, sign in ((ranks, "log_loss", 1), (acc_ranks, "accuracy", -1)):
            values = np.array([sign * by_method[m][metric] for m in methods_])
            order = values.argsort().argsort() + 1.0
            for m, r in zip(methods_, order, strict=True):
                store[m].append(float(r))
    summary = ["| method | mean rank, log loss | mean rank, accuracy |", "|---|---:|---:|"]
    summary += [f"| {m} | {np.mean(ranks[m]):.2f} | {np.mean(acc_ranks[m]):.2f} |" for m in methods_]
    intro = (
        f"Model `{args.model}`; {args.splits} stratified splits per dataset (training part min(500, n/2) points, "
        f"test part at most 1000); means over splits (time: median). Ranks over the {len(results)} datasets."
    )
    return intro + "\n\n" + "\n".join(summary) + "\n\n" + "\n\n".join(blocks)


if __name__ == "__main__":
    main()
