"""Inference stage: checkpoint -> predictor -> posterior predictive."""

from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import ConditionedPredictor, Predictor, load

__all__ = ["ConditionedPredictor", "PosteriorPredictive", "Predictor", "load"]
