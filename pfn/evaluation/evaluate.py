"""How close a trained PFN is to the truth: NLL per context size, calibration, and the gap to a
reference: the prior's exact posterior where it has one (GPs with fixed hyperparameters); for other
regression priors (GPs with hyperpriors, BNNs) a GP fitted to each context by maximum marginal likelihood,
the standard non-PFN method (a negative gap means the PFN is better).

    pfn evaluate gp                      # a shipped model, by name
    pfn evaluate outputs/gp_1d/model.safetensors --datasets 512 --out eval/

Held-out datasets come from the model's own prior, built from the experiment config that the
checkpoint names: only a name of one of the package's experiments is accepted (or of one in a config
directory the user passes with ``--config-dir``), never a path or code taken from the file.

The parts: :mod:`pfn.evaluation.scoring` (context sizes, splits, NLL and coverage),
:mod:`pfn.evaluation.reference` (what the model is compared with) and :mod:`pfn.evaluation.report`
(table, summary, plots); :func:`evaluate` runs them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from pfn.configs import check_experiment, experiment_prior
from pfn.evaluation.classification import ClassifierReport, evaluate_classifier
from pfn.evaluation.reference import reference_for
from pfn.evaluation.report import EXAMPLE_SIZES, EvaluationReport, Example, example_band
from pfn.evaluation.scoring import (
    ContextSizeRow,
    check_counts,
    context_sizes_for,
    held_out_split,
    interval_hits,
    pointwise_nll,
    score_row,
)
from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import Predictor
from priors.base import SamplesBatches

__all__ = ["EvaluationReport", "evaluate", "prior_of"]


def evaluate(
    predictor: Predictor,
    prior: SamplesBatches,
    context_sizes: Sequence[int] | None = None,
    num_datasets: int = 256,
    num_queries: int = 50,
    seed: int = 1234,
    num_features: int | None = None,
) -> EvaluationReport | ClassifierReport:
    """Score ``predictor`` on held-out datasets from ``prior`` (seeded: every call sees the same data).

    For each context size n: the mean NLL of ``num_queries`` held-out targets per dataset, the
    share of them inside the central 50/90/95% intervals and, if ``prior`` declares an exact posterior
    predictive (``prior.exact_posterior``), that reference's NLL and the gap; for other regression priors, the
    same against a marginal-likelihood GP fit (``FittedGP``, from 2 context points). Priors of sequences
    (``prior.sequential``: learning curves) are scored on whole sequences of the trained length: the first n
    points are the context and every later point is a query, as the curve API uses them.

    ``context_sizes`` default to :data:`~pfn.evaluation.scoring.CONTEXT_SIZES` clipped to the model's range
    (:func:`~pfn.evaluation.scoring.context_sizes_for`); sizes outside it, fewer than 2 datasets or no queries
    raise ``ValueError``. A classifier is scored by log loss, accuracy and expected calibration error instead
    (:func:`~pfn.evaluation.classification.evaluate_classifier`, no reference).

    Args:
        predictor: the model.
        prior: the prior to draw held-out datasets from (the model's own: :func:`prior_of`).
        context_sizes: the context sizes to score.
        num_datasets: held-out datasets per context size.
        num_queries: held-out points per dataset (unused for sequences).
        seed: seed of the held-out data.
        num_features: input dimensions of the held-out functions (default: the model's width); fewer
            are zero-padded as in training, e.g. to score a Bayesian-optimisation model per dimension.
    """
    context_sizes = context_sizes_for(predictor, prior, context_sizes)
    check_counts(num_datasets, num_queries)
    d = predictor.num_features if num_features is None else num_features
    if isinstance(d, bool) or not isinstance(d, int) or not predictor.min_features <= d <= predictor.num_features:
        raise ValueError(
            f"num_features must be an integer from {predictor.min_features} to {predictor.num_features} "
            f"(the model's inputs), got {num_features!r}"
        )
    if predictor.is_classifier:
        return evaluate_classifier(predictor, prior, context_sizes, num_datasets, num_queries, seed, d)
    reference = reference_for(predictor, prior)
    length = int(predictor.config.get("training", {}).get("num_points", 0))
    rows: list[ContextSizeRow] = []
    examples: list[Example] = []
    for n in context_sizes:
        gen = torch.Generator().manual_seed(seed + n)
        x_ctx, y_ctx, x_qry, y_qry = held_out_split(prior, n, num_datasets, num_queries, d, length, gen)
        pred = predictor.predict(x_ctx, y_ctx, x_qry)
        assert isinstance(pred, PosteriorPredictive)
        reference_nll = None
        if reference is not None and n >= reference.min_context:
            reference_nll = reference.nll(x_ctx, y_ctx, x_qry, y_qry)
        rows.append(score_row(n, pointwise_nll(pred, y_qry), reference_nll, interval_hits(pred, y_qry)))
        if d == 1 and n in EXAMPLE_SIZES or (d == 1 and n in context_sizes[-1:] and not examples):
            examples.append(example_band(predictor, x_ctx[0], y_ctx[0]))
    name = None if reference is None else reference.name
    return EvaluationReport(rows, num_datasets, num_queries, name, examples[:3])


def prior_of(
    predictor: Predictor, experiment: str | None = None, config_dir: str | os.PathLike[str] | None = None
) -> SamplesBatches:
    """The prior a model was trained on, composed from an experiment config.

    ``experiment`` (default: the one the checkpoint names) must be one of the package's experiments,
    or of ``config_dir``, a folder of configs the user names explicitly: a name read from a file never
    selects a config anywhere else (see :func:`pfn.configs.check_experiment`).

    Args:
        predictor: the model, whose header may name its experiment.
        experiment: the experiment whose prior to compose (default: the model's).
        config_dir: a folder of the user's own configs holding ``experiment/<name>.yaml``.
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
