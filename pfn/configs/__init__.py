"""Hydra configs of `pfn train` (groups: prior, data, model, trainer, callbacks, logger, experiment)."""
