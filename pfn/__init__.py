"""Prior-data fitted networks: one forward pass from observed data to the posterior predictive.

>>> import pfn
>>> predictor = pfn.load("outputs/gp_1d/model.safetensors")
>>> pred = predictor.predict(x_train, y_train, x_test)
>>> pred.mean, pred.quantile([0.05, 0.95]), pred.log_prob(y_test)
"""

from pfn.checkpoint import CheckpointError
from pfn.inference import ConditionedPredictor, PosteriorPredictive, Predictor, load
from pfn.pretrained import list_pretrained

__version__ = "0.1.0"
__all__ = [
    "CheckpointError",
    "ConditionedPredictor",
    "PosteriorPredictive",
    "Predictor",
    "__version__",
    "list_pretrained",
    "load",
]
