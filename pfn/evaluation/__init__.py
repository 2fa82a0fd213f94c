"""Evaluation stage: how close a trained PFN is to a reference posterior."""

from pfn.evaluation.gp_reference import ContextSizeResult, compare_with_exact_gp, format_table

__all__ = ["ContextSizeResult", "compare_with_exact_gp", "format_table"]
