"""Priors over supervised datasets, the data source PFNs are trained on.

Every prior has ``sample(batch_size, num_points, num_features, generator) -> Batch``
with ``x`` (B, N, d) and ``y`` (B, N); a plain function with that signature works too.
"""

from priors.base import Batch, FunctionPrior, Prior, SamplesBatches, as_prior
from priors.bnn import BNNClassificationPrior, BNNPrior
from priors.bo import BOPrior
from priors.gp import GaussianPredictive, GPPrior
from priors.learning_curves import LearningCurvePrior
from priors.mixture import MixturePrior
from priors.run_curves import LearningCurveRunPrior
from priors.search import LearningCurveSearchPrior
from priors.tabular import TabularClassificationPrior, TabularRegressionPrior

__all__ = [
    "BNNClassificationPrior",
    "BNNPrior",
    "BOPrior",
    "Batch",
    "FunctionPrior",
    "GPPrior",
    "GaussianPredictive",
    "LearningCurvePrior",
    "LearningCurveRunPrior",
    "LearningCurveSearchPrior",
    "MixturePrior",
    "Prior",
    "SamplesBatches",
    "TabularClassificationPrior",
    "TabularRegressionPrior",
    "as_prior",
]
