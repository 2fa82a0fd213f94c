"""Evaluation stage: how close a trained PFN is to the truth (`pfn evaluate`)."""

from pfn.evaluation.evaluate import EvaluationReport, evaluate, prior_of

__all__ = ["EvaluationReport", "evaluate", "prior_of"]
