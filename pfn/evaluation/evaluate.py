"""How close a trained PFN is to the truth: NLL per context size, calibration, and the gap to a
reference: the exact GP posterior for fixed-hyperparameter GP priors; for other regression priors
(GPs with hyperpriors, BNNs) a GP fitted to each context by maximum marginal likelihood, the
standard non-PFN method (a negative gap means the PFN is better).

    pfn evaluate gp                      # a shipped model, by name
    pfn evaluate outputs/gp_1d/model.safetensors --datasets 512 --out eval/

Held-out datasets come from the model's own prior, built from the experiment config that the
checkpoint names: only a name of one of the package's experiments is accepted (or of one in a config
directory the user passes with ``--config-dir``), never a path or code taken from the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pfn import configs
from pfn.configs import check_experiment
from pfn.evaluation.gp_baseline import FittedGP
from pfn.inference.predictor import Predictor
from pfn.model.bar_distribution import BarDistribution
from priors.learning_curves import LearningCurvePrior

LEVELS = (0.5, 0.9, 0.95)
CONTEXT_SIZES = (0, 1, 2, 5, 10, 20, 30, 50, 75, 100)
EXAMPLE_SIZES = (5, 20, 50)  # context sizes drawn in examples.png (1-D models)


@dataclass
class ContextSizeRow:
    num_context: int
    nll: float
    nll_stderr: float
    reference_nll: float | None
    gap_stderr: float | None
    coverage: dict[float, float]

    @property
    def gap(self) -> float | None:
        return None if self.reference_nll is None else self.nll - self.reference_nll


@dataclass
class EvaluationReport:
    """Per-context-size results plus averages over context sizes >= 1."""

    rows: list[ContextSizeRow]
    num_datasets: int
    num_queries: int
    reference: str | None
    examples: list = field(default_factory=list, repr=False)

    def _scored(self) -> list[ContextSizeRow]:
        return [r for r in self.rows if r.num_context >= 1] or self.rows

    def _referenced(self) -> list[ContextSizeRow]:
        return [r for r in self._scored() if r.reference_nll is not None]

    @property
    def mean_nll(self) -> float:
        return float(np.mean([r.nll for r in self._scored()]))

    @property
    def mean_gap(self) -> float | None:
        rows = self._referenced()
        return float(np.mean([r.gap for r in rows])) if rows else None

    @property
    def mean_coverage(self) -> dict[float, float]:
        return {lv: float(np.mean([r.coverage[lv] for r in self._scored()])) for lv in LEVELS}

    def summary(self) -> dict:
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

    def to_markdown(self) -> str:
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
            line += "".join(f" {r.coverage[lv]:.3f} |" for lv in LEVELS)
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


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def context_size_range(predictor: Predictor, prior) -> tuple[int, int | None]:
    """The context sizes ``predictor`` can be scored at on ``prior``, inclusive: from 0 (1 for learning
    curves: a curve's first point is its context) up to the largest the model was trained on (None when
    its header does not say), for curves also below the trained curve length, leaving a point to predict."""
    training = predictor.config.get("training", {})
    max_context = training.get("max_context")
    high = int(max_context) if _is_int(max_context) and max_context >= 0 else None
    if isinstance(prior, LearningCurvePrior):
        length = training.get("num_points")
        if not _is_int(length) or length < 2:
            raise ValueError(
                f"scoring a learning-curve model needs the curve length it was trained on (training.num_points "
                f"in its header), got {length!r}"
            )
        return 1, length - 1 if high is None else min(length - 1, high)
    return 0, high


def context_sizes_for(
    predictor: Predictor, prior, context_sizes: Sequence[int] | None = None, name: str = "context_sizes"
) -> list[int]:
    """The context sizes to score: ``context_sizes`` checked against :func:`context_size_range`, or by
    default :data:`CONTEXT_SIZES` clipped to that range (so the default suits every model).

    Raises ``ValueError`` naming the argument (``name``) unless the sizes are distinct integers in range.
    """
    low, high = context_size_range(predictor, prior)
    top = math.inf if high is None else high
    if context_sizes is None:
        return sorted({int(min(max(n, low), top)) for n in CONTEXT_SIZES})
    sizes = list(context_sizes) if isinstance(context_sizes, Sequence) and not isinstance(context_sizes, str) else []
    if not sizes:
        raise ValueError(f"{name} must be a non-empty list of integers, got {context_sizes!r}")
    bad = [n for n in sizes if not _is_int(n) or not low <= n <= top]
    if bad:
        why = "" if high is None else f" (the model was trained on contexts of at most {high} points)"
        if low:
            why += "; a curve needs at least one observed epoch and one to predict"
        raise ValueError(f"{name} must be integers in [{low}, {'inf' if high is None else high}]{why}, got {bad}")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"{name} must be distinct, got {sizes}")
    return [int(n) for n in sizes]


def check_counts(num_datasets, num_queries, names: tuple[str, str] = ("num_datasets", "num_queries")) -> None:
    """Datasets per size: an integer >= 2 (a standard error needs two); queries: an integer >= 1."""
    if not _is_int(num_datasets) or num_datasets < 2:
        raise ValueError(f"{names[0]} must be an integer >= 2 (a standard error needs two), got {num_datasets!r}")
    if not _is_int(num_queries) or num_queries < 1:
        raise ValueError(f"{names[1]} must be an integer >= 1, got {num_queries!r}")


def evaluate(
    predictor: Predictor,
    prior,
    context_sizes: Sequence[int] | None = None,
    num_datasets: int = 256,
    num_queries: int = 50,
    seed: int = 1234,
) -> EvaluationReport:
    """Score ``predictor`` on held-out datasets from ``prior`` (seeded: every call sees the same data).

    For each context size n: the mean NLL of ``num_queries`` held-out targets per dataset, the
    share of them inside the central 50/90/95% intervals and, if ``prior`` has an exact
    ``posterior_predictive``, that reference's NLL and the gap; for other regression priors, the
    same against a marginal-likelihood GP fit (``FittedGP``, from 2 context points). Learning-curve priors are
    scored on whole curves of the trained length: the first n points are the context and every
    later point is a query, as the curve API uses them.

    ``context_sizes`` default to :data:`CONTEXT_SIZES` clipped to the model's range
    (:func:`context_sizes_for`); sizes outside it, fewer than 2 datasets or no queries raise ``ValueError``.
    """
    context_sizes = context_sizes_for(predictor, prior, context_sizes)
    check_counts(num_datasets, num_queries)
    d = predictor.num_features
    has_exact = getattr(prior, "has_fixed_hyperparameters", False)
    sequential = isinstance(prior, LearningCurvePrior)
    fitted_gp = not has_exact and not sequential and isinstance(predictor.output, BarDistribution)
    reference = "exact GP" if has_exact else "GP ML-II" if fitted_gp else None
    rows, examples = [], []
    length = int(predictor.config.get("training", {}).get("num_points", 0))
    for n in context_sizes:
        gen = torch.Generator().manual_seed(seed + n)
        if sequential:  # whole curves of the trained length: the first n points observed, the rest predicted
            batch = prior.sample(num_datasets, length, d, gen)
        else:
            batch = prior.sample(num_datasets, n + num_queries, d, gen)
        x_ctx, y_ctx, x_qry, y_qry = batch.x[:, :n], batch.y[:, :n], batch.x[:, n:], batch.y[:, n:]
        if not sequential:
            perm = torch.randperm(batch.x.shape[1], generator=gen)  # a random split of exchangeable points
            x, y = batch.x[:, perm], batch.y[:, perm]
            x_ctx, y_ctx, x_qry, y_qry = x[:, :n], y[:, :n], x[:, n:], y[:, n:]
        pred = predictor.predict(x_ctx, y_ctx, x_qry)
        nll = -pred.log_prob(y_qry).double()  # (B, m)
        per_dataset = nll.mean(1)
        coverage = {}
        for lv in LEVELS:
            lo, hi = pred.interval(lv)
            coverage[lv] = float(((y_qry >= lo) & (y_qry <= hi)).double().mean())
        ref = gap_se = reference_nll = None
        if has_exact:
            reference_nll = -prior.posterior_predictive(x_ctx, y_ctx, x_qry).log_prob(y_qry)
        elif fitted_gp and n >= 2:
            reference_nll = -FittedGP(x_ctx, y_ctx).predict(x_qry).log_prob(y_qry.double())
        if reference_nll is not None:
            ref = float(reference_nll.mean())
            gap_se = float((per_dataset - reference_nll.mean(1)).std() / math.sqrt(num_datasets))
        rows.append(
            ContextSizeRow(
                n, float(nll.mean()), float(per_dataset.std() / math.sqrt(num_datasets)), ref, gap_se, coverage
            )
        )
        if d == 1 and n in (3, 10, 30) or (d == 1 and n in context_sizes[-1:] and not examples):
            grid = torch.linspace(0, 1, 200).view(-1, 1)
            ex = predictor.predict(x_ctx[0], y_ctx[0], grid)
            lo, hi = ex.interval(0.9)
            examples.append(
                (x_ctx[0, :, 0].numpy(), y_ctx[0].numpy(), grid[:, 0].numpy(), ex.mean.numpy(), lo.numpy(), hi.numpy())
            )
    return EvaluationReport(rows, num_datasets, num_queries, reference, examples[:3])


def prior_of(predictor: Predictor, experiment: str | None = None, config_dir: str | os.PathLike | None = None):
    """The prior a model was trained on, composed from an experiment config.

    ``experiment`` (default: the one the checkpoint names) must be one of the package's experiments,
    or of ``config_dir``, a folder of configs the user names explicitly: a name read from a file never
    selects a config anywhere else (see :func:`pfn.configs.check_experiment`).
    """
    named = predictor.config.get("training", {}).get("experiment")
    experiment = experiment or named
    if not experiment:
        raise ValueError(
            "the checkpoint does not name its experiment; pass the experiment whose prior to evaluate on, "
            "e.g. --experiment gp_1d"
        )
    try:
        check_experiment(experiment, config_dir)
    except ValueError as err:
        source = "the checkpoint names" if experiment == named else "got"
        raise ValueError(f"{source} experiment {experiment!r}, which is not a known experiment: {err}") from None
    return experiment_prior(experiment, config_dir)


def experiment_prior(experiment: str, config_dir: str | os.PathLike | None = None):
    """The prior of one of the package's experiment configs (``pfn train experiment=NAME``), or of
    ``config_dir``'s; any other name is refused."""
    return configs.experiment_prior(experiment, config_dir)
