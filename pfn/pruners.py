"""The Optuna pruners, importable as ``pfn.pruners``; they live in :mod:`pfn.curves.pruners`."""

from pfn.curves.pruners import LearningCurvePruner, PrunerWarning, SearchPruner

__all__ = ["LearningCurvePruner", "PrunerWarning", "SearchPruner"]
