"""Scoring a classifier on held-out prior datasets: log loss, accuracy and calibration (expected calibration
error) per context size, with the same held-out splits as regression models (:func:`evaluate` dispatches here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pfn.evaluation.scoring import held_out_split
from pfn.inference.predictive import ClassPredictive
from pfn.inference.predictor import Predictor
from priors.base import SamplesBatches

#: equal-width confidence bins of the expected calibration error
ECE_BINS = 15


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: the share-weighted mean over equal-width confidence bins of |accuracy - confidence|,
    for class probabilities ``probs`` (m, k) and true labels (m,)."""
    confidence, predicted = probs.max(1), probs.argmax(1)
    correct = (predicted == labels).astype(float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def calibrated_ece(probs: np.ndarray, bins: int = ECE_BINS, draws: int = 20, seed: int = 0) -> float:
    """The ECE a perfectly calibrated classifier gets on these queries: the mean ECE of ``probs`` (m, k) against
    labels drawn from ``probs`` themselves (consistency resampling). ECE is positive even then, by the
    sampling noise of each bin's accuracy; a classifier's ECE is only meaningful above this floor."""
    rng = np.random.default_rng(seed)
    cumulative = probs.cumsum(1)
    errors = []
    for _ in range(draws):
        u = rng.random(len(probs)) * cumulative[:, -1]
        labels = np.minimum((cumulative < u[:, None]).sum(1), probs.shape[1] - 1)
        errors.append(expected_calibration_error(probs, labels, bins))
    return float(np.mean(errors))


@dataclass
class ClassifierRow:
    """The scores at one context size: mean log loss per query (and its standard error over datasets),
    accuracy, ECE pooled over all queries, and the ECE a calibrated classifier would get on them
    (:func:`calibrated_ece`)."""

    num_context: int
    nll: float
    nll_stderr: float
    accuracy: float
    ece: float
    ece_floor: float


@dataclass
class ClassifierReport:
    """Per-context-size rows of a classifier, with means over context sizes >= 1; the same interface as
    :class:`~pfn.evaluation.report.EvaluationReport` (table, summary, header records, plots)."""

    rows: list[ClassifierRow]
    num_datasets: int
    num_queries: int
    reference: str | None = None

    def _scored(self) -> list[ClassifierRow]:
        return [r for r in self.rows if r.num_context >= 1] or self.rows

    def _mean(self, name: str) -> float:
        return float(np.mean([getattr(r, name) for r in self._scored()]))

    def summary(self) -> dict[str, Any]:
        """Headline figures, as stored in a shipped checkpoint's metadata."""
        return {
            "mean_nll": round(self._mean("nll"), 4),
            "accuracy": round(self._mean("accuracy"), 4),
            "ece": round(self._mean("ece"), 4),
            "ece_floor": round(self._mean("ece_floor"), 4),
            "context_sizes": [r.num_context for r in self._scored()],
            "datasets_per_size": self.num_datasets,
            "queries_per_dataset": self.num_queries,
        }

    def row_records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready records (rounded), as stored in a shipped model's header."""
        return [
            {"num_context": r.num_context, "nll": round(r.nll, 5), "nll_stderr": round(r.nll_stderr, 5),
             "accuracy": round(r.accuracy, 4), "ece": round(r.ece, 4), "ece_floor": round(r.ece_floor, 4)}
            for r in self.rows
        ]  # fmt: skip

    def to_markdown(self) -> str:
        """The table: one row per context size, then the means over sizes >= 1."""
        lines = ["| context | log loss | accuracy | ECE | ECE if calibrated |", "|---:|---:|---:|---:|---:|"]
        for r in self.rows:
            lines.append(
                f"| {r.num_context} | {r.nll:.4f} ± {r.nll_stderr:.4f} | {r.accuracy:.3f} | {r.ece:.3f} "
                f"| {r.ece_floor:.3f} |"
            )
        lines.append(
            f"| mean (1+) | {self._mean('nll'):.4f} | {self._mean('accuracy'):.3f} | {self._mean('ece'):.3f} "
            f"| {self._mean('ece_floor'):.3f} |"
        )
        return "\n".join(lines)

    def plot(self, folder: str | Path) -> list[Path]:
        """Log loss and ECE against context size."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from pfn.evaluation.report import _save

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sizes = [r.num_context for r in self.rows]
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
        axes[0].plot(sizes, [r.nll for r in self.rows], "o-")
        axes[0].set_ylabel("log loss per held-out point")
        axes[1].plot(sizes, [r.ece for r in self.rows], "o-", label="model")
        axes[1].plot(sizes, [r.ece_floor for r in self.rows], "--", color="grey", label="if calibrated")
        axes[1].legend()
        axes[1].set_ylabel(f"expected calibration error ({ECE_BINS} bins)")
        for ax in axes:
            ax.set_xscale("symlog", linthresh=1)
            ax.set_xlabel("context size")
        return [_save(fig, folder / "classification.png")]


def evaluate_classifier(
    predictor: Predictor,
    prior: SamplesBatches,
    context_sizes: list[int],
    num_datasets: int,
    num_queries: int,
    seed: int,
    num_features: int,
) -> ClassifierReport:
    """Log loss, accuracy and ECE of a classifier at each context size on held-out datasets of ``prior``."""
    rows = []
    for n in context_sizes:
        gen = torch.Generator().manual_seed(seed + n)
        x_ctx, y_ctx, x_qry, y_qry = held_out_split(prior, n, num_datasets, num_queries, num_features, 0, gen)
        pred = predictor.predict(x_ctx, y_ctx, x_qry)
        assert isinstance(pred, ClassPredictive)
        nll = -torch.as_tensor(pred.log_prob(y_qry)).double()  # (B, m)
        probs = np.asarray(torch.as_tensor(pred.probs).double()).reshape(-1, pred.num_classes)
        labels = y_qry.reshape(-1).long().numpy()
        per_dataset = nll.mean(1)
        rows.append(
            ClassifierRow(
                num_context=n,
                nll=float(nll.mean()),
                nll_stderr=float(per_dataset.std() / math.sqrt(num_datasets)),
                accuracy=float((probs.argmax(1) == labels).mean()),
                ece=expected_calibration_error(probs, labels),
                ece_floor=calibrated_ece(probs, seed=seed + n),
            )
        )
    return ClassifierReport(rows, num_datasets, num_queries)
