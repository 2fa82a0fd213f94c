"""The network: set-input transformer and its bar-distribution output."""

from pfn.model.bar_distribution import BarDistribution
from pfn.model.normalization import Normalization
from pfn.model.transformer import PFNTransformer

__all__ = ["BarDistribution", "Normalization", "PFNTransformer"]
