"""Data stage: turns a prior into Lightning-ready streams of batches."""

from pfn.data.datamodule import PriorDataModule
from pfn.data.prior_stream import PriorStream

__all__ = ["PriorDataModule", "PriorStream"]
