"""Bayesian optimisation with PFN surrogates: one forward pass gives the posterior at every candidate,
with no model fitting between evaluations.

- :func:`suggest`, :func:`maximize_acquisition`: the next point(s) to evaluate in the unit cube, by
  random candidates and a multi-start local ascent along the gradient of the exact log expected improvement
  (pure torch).
- :class:`PFNSampler` (needs ``optuna``): an Optuna sampler on top of :func:`suggest`.
- :class:`PFNModel`, :class:`PFNPosterior`, :class:`PFNExpectedImprovement`,
  :class:`PFNLogExpectedImprovement` (need ``botorch``): a BoTorch model and exact acquisition functions.

The optional integrations are imported only when one of their names is used: ``pip install 'pfn[bo]'``.
"""

from __future__ import annotations

import importlib
from typing import Any

from pfn.bo.acquisition import DEFAULT_OUTPUT_WARP, OUTPUT_WARPS, maximize_acquisition, suggest, warp_outputs

_LAZY = {
    "PFNSampler": "pfn.bo.optuna_sampler",
    "PFNModel": "pfn.bo.botorch_model",
    "PFNPosterior": "pfn.bo.botorch_model",
    "PFNExpectedImprovement": "pfn.bo.botorch_model",
    "PFNLogExpectedImprovement": "pfn.bo.botorch_model",
}

__all__ = ["DEFAULT_OUTPUT_WARP", "OUTPUT_WARPS", "maximize_acquisition", "suggest", "warp_outputs", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pfn.bo' has no attribute {name!r}")
