"""Training stage: the LightningModule and the Hydra entry point."""

from pfn.training.module import PFNModule

__all__ = ["PFNModule"]
