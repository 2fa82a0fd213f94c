"""What a model's predictions are compared with: the prior's own exact posterior predictive, where the prior
declares one (``prior.exact_posterior``: GPs with fixed hyperparameters), and for other regression priors
(GPs with hyperpriors, BNNs) a GP fitted to each context by maximum marginal likelihood
(:class:`~pfn.evaluation.gp_baseline.FittedGP`), the standard non-PFN method: a negative gap means the PFN
is better. Sequences (learning curves) and classifiers get no reference.
"""

from __future__ import annotations

from typing import Protocol, cast

import torch

from pfn.evaluation.gp_baseline import FittedGP
from pfn.inference.predictor import Predictor
from priors.base import Predictive, SamplesBatches, exact_posterior, is_sequential

#: the name of the marginal-likelihood GP reference in reports
FITTED_GP = "GP ML-II"


class Reference:
    """A reference predictive, named ``name`` in reports, for contexts of at least ``min_context`` points."""

    name: str
    min_context: int = 0

    def nll(self, x_ctx: torch.Tensor, y_ctx: torch.Tensor, x_qry: torch.Tensor, y_qry: torch.Tensor) -> torch.Tensor:
        """The reference's negative log-likelihood of each query target ``y_qry`` (B, m) given the context."""
        raise NotImplementedError


class HasPosteriorPredictive(Protocol):
    """A prior with an exact posterior predictive (:meth:`priors.base.Prior.posterior_predictive`)."""

    def posterior_predictive(self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor) -> Predictive:
        """The exact posterior predictive at ``x_test`` given the context ``(x_train, y_train)``."""
        ...


class ExactPosterior(Reference):
    """The exact posterior predictive of a prior that declares one (``prior.exact_posterior``)."""

    def __init__(self, prior: HasPosteriorPredictive, name: str):
        self.prior, self.name = prior, name

    def nll(self, x_ctx: torch.Tensor, y_ctx: torch.Tensor, x_qry: torch.Tensor, y_qry: torch.Tensor) -> torch.Tensor:
        return -self.prior.posterior_predictive(x_ctx, y_ctx, x_qry).log_prob(y_qry)


class MarginalLikelihoodGP(Reference):
    """A Matern-5/2 ARD GP fitted to each context by maximum marginal likelihood (from 2 context points)."""

    name = FITTED_GP
    min_context = 2

    def nll(self, x_ctx: torch.Tensor, y_ctx: torch.Tensor, x_qry: torch.Tensor, y_qry: torch.Tensor) -> torch.Tensor:
        return -FittedGP(x_ctx, y_ctx).predict(x_qry).log_prob(y_qry.double())


def reference_for(predictor: Predictor, prior: SamplesBatches) -> Reference | None:
    """The reference ``predictor`` is compared with on ``prior``: the prior's exact posterior when it declares
    one, else the marginal-likelihood GP for a regression model of exchangeable points, else none."""
    name = exact_posterior(prior)
    if name is not None:
        return ExactPosterior(cast(HasPosteriorPredictive, prior), name)
    if not is_sequential(prior) and not predictor.is_classifier:
        return MarginalLikelihoodGP()
    return None
