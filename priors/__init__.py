"""Priors over supervised datasets, the data source PFNs are trained on."""

from priors.base import Batch, FunctionPrior, Prior, SamplesBatches
from priors.gp import GaussianPredictive, GPPrior

__all__ = ["Batch", "FunctionPrior", "GPPrior", "GaussianPredictive", "Prior", "SamplesBatches"]
