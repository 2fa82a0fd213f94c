"""Reporting an evaluation: the per-context-size table (markdown), the headline summary stored in a shipped
model's header, and plots (NLL against context size, coverage, example predictive bands of 1-D models).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pfn.evaluation.scoring import LEVELS, ContextSizeRow

if TYPE_CHECKING:
    from pfn.evaluation.classification import ClassifierReport
from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import Predictor

#: context sizes drawn in examples.png (1-D models); the largest scored size when none of them is
EXAMPLE_SIZES = (3, 10, 30)

#: an example for the plots: context x and y, a grid, and the predictive mean and 90% interval on it
Example = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class EvaluationReport:
    """Per-context-size results plus averages over context sizes >= 1.

    Attributes:
        rows: the scores per context size.
        num_datasets: held-out datasets per context size.
        num_queries: held-out points per dataset (for sequences: every point after the context).
        reference: the name of the reference compared with (None: none).
        examples: predictive bands for ``examples.png`` (1-D models).
    """

    rows: list[ContextSizeRow]
    num_datasets: int
    num_queries: int
    reference: str | None
    examples: list[Example] = field(default_factory=list, repr=False)

    def _scored(self) -> list[ContextSizeRow]:
        return [r for r in self.rows if r.num_context >= 1] or self.rows

    def _referenced(self) -> list[ContextSizeRow]:
        return [r for r in self._scored() if r.reference_nll is not None]

    @property
    def mean_nll(self) -> float:
        """Mean NLL over the context sizes >= 1 (all of them when there are no others)."""
        return float(np.mean([r.nll for r in self._scored()]))

    @property
    def mean_gap(self) -> float | None:
        """Mean gap to the reference over the context sizes >= 1 it covers (None: no reference)."""
        rows = self._referenced()
        return float(np.mean([r.gap for r in rows])) if rows else None

    @property
    def mean_coverage(self) -> dict[float, float]:
        """Mean coverage of each central interval over the context sizes >= 1."""
        return {lv: float(np.mean([r.coverage[lv] for r in self._scored()])) for lv in LEVELS}

    def summary(self) -> dict[str, Any]:
        """Headline figures, as stored in a shipped checkpoint's metadata."""
        out = {
            "mean_nll": round(self.mean_nll, 4),
            "coverage": {f"{lv:.0%}": round(c, 4) for lv, c in self.mean_coverage.items()},
            "context_sizes": [r.num_context for r in self._scored()],
            "datasets_per_size": self.num_datasets,
            "queries_per_dataset": self.num_queries,
        }
        if self.mean_gap is not None:
            out["mean_gap_to_reference"] = round(self.mean_gap, 4)
            out["reference"] = self.reference
            out["reference_context_sizes"] = [r.num_context for r in self._referenced()]
        return out

    def row_records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready records (rounded), as stored in a shipped model's header."""
        return [
            {"num_context": r.num_context, "nll": round(r.nll, 5), "nll_stderr": round(r.nll_stderr, 5),
             "gap": None if r.gap is None else round(r.gap, 5),
             "gap_stderr": None if r.gap_stderr is None else round(r.gap_stderr, 5),
             "coverage": {f"{lv:.2f}": round(c, 4) for lv, c in r.coverage.items()},
             "coverage_stderr": {f"{lv:.2f}": round(c, 4) for lv, c in r.coverage_stderr.items()}}
            for r in self.rows
        ]  # fmt: skip

    def to_markdown(self) -> str:
        """The table: one row per context size, then the means over sizes >= 1."""
        ref = self.reference is not None
        head = "| context | NLL |" + (f" {self.reference} NLL | gap (nats) |" if ref else "")
        head += "".join(f" {lv:.0%} coverage |" for lv in LEVELS)
        sep = "|---:|---:|" + ("---:|---:|" if ref else "") + "---:|" * len(LEVELS)
        lines = [head, sep]
        for r in self.rows:
            line = f"| {r.num_context} | {r.nll:.4f} ± {r.nll_stderr:.4f} |"
            if ref and r.reference_nll is None:
                line += " — | — |"
            elif ref:
                line += f" {r.reference_nll:.4f} | {r.gap:+.4f} ± {r.gap_stderr:.4f} |"
            line += "".join(f" {r.coverage[lv]:.3f} ± {r.coverage_stderr[lv]:.3f} |" for lv in LEVELS)
            lines.append(line)
        mean = f"| mean (1+) | {self.mean_nll:.4f} |"
        if ref:
            mean += f" {np.mean([r.reference_nll for r in self._referenced()]):.4f} | {self.mean_gap:+.4f} |"
        mean += "".join(f" {c:.3f} |" for c in self.mean_coverage.values())
        lines.append(mean)
        return "\n".join(lines)

    def plot(self, folder: str | Path) -> list[Path]:
        """Coverage curve, NLL against context size, and example predictive bands (1-D models)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        sizes = [r.num_context for r in self.rows]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(sizes, [r.nll for r in self.rows], "o-", label="PFN")
        if self.reference:
            ax.plot(sizes, [np.nan if r.reference_nll is None else r.reference_nll for r in self.rows], "k--",
                    label=self.reference)  # fmt: skip
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("context size")
        ax.set_ylabel("NLL per held-out point")
        ax.legend()
        paths.append(_save(fig, folder / "nll_vs_context.png"))

        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        levels = np.array(LEVELS)
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        ax.plot(levels, [self.mean_coverage[lv] for lv in LEVELS], "o-", label="mean over context sizes")
        ax.set_xlabel("nominal central-interval mass")
        ax.set_ylabel("observed coverage")
        ax.legend()
        paths.append(_save(fig, folder / "coverage.png"))

        if self.examples:
            fig, axes = plt.subplots(1, len(self.examples), figsize=(5 * len(self.examples), 3.6), squeeze=False)
            for ax, (x, y, grid, mean, lo, hi) in zip(axes[0], self.examples, strict=True):
                ax.fill_between(grid, lo, hi, alpha=0.25, label="90% interval")
                ax.plot(grid, mean, label="mean")
                ax.scatter(x, y, s=12, color="C3", zorder=3, label="context")
                ax.set_title(f"{len(x)} context points")
            axes[0][0].legend(fontsize=8)
            paths.append(_save(fig, folder / "examples.png"))
        return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def example_band(predictor: Predictor, x: torch.Tensor, y: torch.Tensor) -> Example:
    """The predictive mean and 90% interval of a 1-D model on a grid over [0, 1], given one context x (n, 1), y (n,)."""
    grid = torch.linspace(0, 1, 200).view(-1, 1)
    predictive = predictor.predict(x, y, grid)
    assert isinstance(predictive, PosteriorPredictive)
    lo, hi = predictive.interval(0.9)
    return x[:, 0].numpy(), y.numpy(), grid[:, 0].numpy(), np.asarray(predictive.mean), np.asarray(lo), np.asarray(hi)


def write_report(report: EvaluationReport | ClassifierReport, folder: str | Path) -> list[Path]:
    """Write ``report.md``, ``summary.json`` and the plots of ``report`` into ``folder``; returns the plots' paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report.to_markdown() + "\n")
    (out / "summary.json").write_text(json.dumps(report.summary(), indent=2) + "\n")
    return report.plot(out)
