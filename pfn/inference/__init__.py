"""Inference stage: checkpoint -> predictor -> posterior predictive."""

from pfn.inference.predictive import PosteriorPredictive
from pfn.inference.predictor import Predictor, load

__all__ = ["PosteriorPredictive", "Predictor", "load"]
