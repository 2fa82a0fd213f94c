"""Learning-curve models: loading, checking that a checkpoint is a curve model, and its limits."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pfn.inference.predictor import Predictor
from pfn.inference.predictor import load as _load_predictor

#: the priors of single learning curves (``config["prior"]["name"]`` of a curve model's checkpoint); a curve model
#: is trained on one of them or on a MixturePrior of them
CURVE_PRIORS = ("LearningCurvePrior", "LearningCurveRunPrior")
#: the shipped model used when none is given: trained on the real-run curve prior (experiment=lc_real), the best
#: calibrated on the held-out real curves of scripts/eval_curve_corpus.py
DEFAULT_MODEL = "lc-real"
_MODELS: dict[tuple[str, str], Predictor] = {}  # (kind, name or path) -> the loaded model


# -- models -------------------------------------------------------------------------------------
def _shipped_curve_models() -> list[str]:
    from pfn.checkpoint import read_config
    from pfn.pretrained import available, pretrained_dir

    names = []
    for name in available():
        try:
            config = read_config(pretrained_dir() / f"{name}.safetensors")
        except (OSError, ValueError):  # a damaged or half-written file is simply not listed
            continue
        if is_curve_prior(config.get("prior")):
            names.append(name)
    return names


def is_curve_prior(description: Any) -> bool:
    """Whether a checkpoint's prior description is one of :data:`CURVE_PRIORS` or a mixture of them."""
    if not isinstance(description, dict):
        return False
    if description.get("name") == "MixturePrior":
        parts = description.get("components")
        return isinstance(parts, list) and bool(parts) and all(is_curve_prior(part) for part in parts)
    return description.get("name") in CURVE_PRIORS


def _check_curve_model(predictor: Predictor, label: str) -> Predictor:
    prior = predictor.config.get("prior")
    prior_name = prior.get("name") if isinstance(prior, dict) else None
    if not is_curve_prior(prior) or predictor.num_features != 1 or predictor.is_classifier:
        shipped = ", ".join(_shipped_curve_models()) or "none are installed"
        raise ValueError(
            f"model {label} is not a learning-curve model: its prior is {prior_name or 'not recorded'} with "
            f"{predictor.num_features} input feature(s); a curve model's checkpoint has a learning-curve prior "
            f"({', '.join(CURVE_PRIORS)} or a mixture of them) and 1 feature (shipped curve models: {shipped})"
        )
    return predictor


def _cached(model: Any, check: Callable[[Predictor, str], Predictor], kind: str) -> Predictor:
    """``model`` (a name, a path or a Predictor) loaded once and checked by ``check``, or a ValueError naming
    ``model``; ``kind`` ("curve model", "search model") says what was expected."""
    if isinstance(model, Predictor):
        return check(model, "(a Predictor)")
    if not isinstance(model, (str, os.PathLike)):
        raise ValueError(f"model must be a {kind}'s name, a checkpoint path or a loaded Predictor, got {model!r}")
    key = (kind, os.fspath(model))
    if key not in _MODELS:
        label = repr(key[1]) if len(key[1]) <= 100 else f"{key[1][:60]!r}... ({len(key[1])} characters)"
        try:
            predictor = _load_predictor(model)
        except FileNotFoundError as err:
            raise ValueError(f"model {label}: {err}") from err
        _MODELS[key] = check(predictor, label)
    return _MODELS[key]


def _model(model: Any) -> Predictor:
    """The loaded curve model for ``model`` (a name, a path or a Predictor), or a ValueError naming ``model``."""
    return _cached(model, _check_curve_model, "curve model")


def load(path_or_name: str | os.PathLike = DEFAULT_MODEL) -> Predictor:
    """A learning-curve model (default: the shipped ``lc-real``), to pass as ``model=`` to the functions here.

    Raises:
        ValueError: no such file or shipped model, or its prior is not a learning-curve prior with 1 feature.
    """
    return _model(path_or_name)


def _grid(predictor: Predictor) -> int:
    """Points of the model's budget grid (its training curves' length)."""
    return int(predictor.config.get("training", {}).get("num_points", 100))


def max_points(model: str | os.PathLike | Predictor = DEFAULT_MODEL) -> int:
    """The most observed values ``model`` forecasts from: its largest training context, at most its grid.

    99 for the shipped models (curves of 100 points, at least one of them always held out in training).
    """
    predictor = _model(model)
    limit = _grid(predictor)
    context = predictor.max_context
    return min(limit, int(context)) if context is not None else limit
