"""The Optuna pruners, importable as ``pfn.pruners``; they live in :mod:`pfn.curves.pruners`."""

from pfn.curves.pruners import LearningCurvePruner, PrunerWarning

__all__ = ["LearningCurvePruner", "PrunerWarning"]
