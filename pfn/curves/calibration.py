"""Recalibration of curve forecasts on finished runs (quantile recalibration, Kuleshov et al. 2018).

A curve model is trained on a prior; real runs differ from it, and its intervals can be too narrow
for some kinds of curve and too wide for others. A :class:`Calibration` corrects the model's
predictive with a monotone map ``R`` of probability levels, learned from finished runs: for each
run, and each fraction of it observed, the probability integral transform (PIT) ``F(final value)``
of the model's forecast is recorded; ``R`` is their cdf, so the recalibrated predictive ``R(F(v))``
puts the final values of such runs uniformly across its levels. Its density is ``R'(F(v)) f(v)``.
The cdf is smoothed with a Gaussian kernel on the log-odds of the PITs, with Silverman's robust
bandwidth: in leave-one-dataset-out validation on the tuning runs of the real-curve corpus it gave
about the best log-likelihood of the estimators tried and the most accurate coverage (a plain
empirical cdf follows single runs in the tails; the standard-deviation bandwidth widens the centre).
The map is mixed with the identity (``smoothing``) so the density never vanishes.

One map is kept per *group* of curves, which differ most in how the model errs:

- ``"bounded"`` (both bounds closed, e.g. accuracy) or ``"open"`` (an open side, e.g. a loss),
- ``"linear"`` or ``"log"`` budget scale (sample-wise curves are usually forecast on the log axis),

and per *observed fraction* ``r``: the model input of the last observed budget over that of the
forecast budget (``r`` near 0 for a forecast from the first epochs, 1 at the forecast budget), with
linear interpolation between the fitted fractions and the nearest one outside them.

The map acts on the model's bar distribution: every bin's cdf value ``C`` becomes ``R(C)``, so the
recalibrated forecast is again a bar distribution over the same bins and every statistic (mean,
quantiles, probabilities, log density) follows from it exactly. A group without a map (none fitted,
or too few runs) is left as the model predicts.

    >>> cal = curves.Calibration.fit(runs, model="lc-real")     # runs: finished curves, as dicts
    >>> curves.extrapolate(values, max_epochs=50, calibration=cal)
    >>> cal.save("my_runs.json"); curves.Calibration.load("my_runs.json")

The shipped ``lc-real`` carries a calibration fitted on the tuning part of the project's real-curve
corpus (``scripts/calibrate_curves.py``), used by default (``calibration="auto"``).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from pfn.files import write_atomically

#: version of the stored form (:meth:`Calibration.to_dict`)
CALIBRATION_VERSION = 1
#: the key of a checkpoint's config that holds its curve calibration
CONFIG_KEY = "curve_calibration"
#: probability levels at which a map is stored (linear in between): 0, 1 and 61 levels evenly spaced in log-odds
#: from -10 to 10 (4.5e-5 to 1 - 4.5e-5), so a model whose misses lie far in its tails is still corrected there
LEVELS = (0.0, *(float(1 / (1 + np.exp(-z))) for z in np.linspace(-10.0, 10.0, 61)), 1.0)
#: observed fractions at which maps are fitted by default
CUTOFFS = tuple(round(0.05 * i, 2) for i in range(1, 20))
#: queries recalibrated at once (see :meth:`Calibration.recalibrate`)
RECALIBRATE_QUERIES = 256
#: the groups of curves, each with its own map: "<bounded|open>/<linear|log>"
GROUPS = ("bounded/linear", "bounded/log", "open/linear", "open/log")


def group_of(closed: tuple[bool, bool], budget_scale: str) -> str:
    """The group of a curve: "bounded" when both bounds are closed, else "open"; then its budget scale."""
    return f"{'bounded' if all(closed) else 'open'}/{budget_scale}"


@dataclass(frozen=True)
class Calibration:
    """Monotone maps of probability levels, one per group of curves and observed fraction.

    ``maps[group][j, k]`` is ``R(levels[k])`` at observed fraction ``cutoffs[j]``; every row runs
    from 0 to 1 and never decreases. ``counts[group][j]`` is the number of runs' PITs it was fitted
    on. Build one with :meth:`fit`, or read one with :meth:`load` / :meth:`from_dict`.
    """

    cutoffs: np.ndarray
    levels: np.ndarray
    maps: dict[str, np.ndarray]
    counts: dict[str, list[int]]
    description: str = ""

    # -- applying ----------------------------------------------------------------------------
    def _rows(self, group: str, fraction: np.ndarray) -> np.ndarray:
        """The map at each observed fraction: linear between fitted fractions, shape (*fraction, levels)."""
        table = self.maps[group]
        r = np.clip(np.asarray(fraction, dtype=np.float64), self.cutoffs[0], self.cutoffs[-1])
        j = np.clip(np.searchsorted(self.cutoffs, r, side="right") - 1, 0, len(self.cutoffs) - 1)
        nxt = np.minimum(j + 1, len(self.cutoffs) - 1)
        gap = self.cutoffs[nxt] - self.cutoffs[j]
        w = np.where(gap > 0, (r - self.cutoffs[j]) / np.where(gap > 0, gap, 1.0), 0.0)[..., None]
        return (1 - w) * table[j] + w * table[nxt]

    def recalibrate(self, logits: torch.Tensor, group: str, fraction: np.ndarray) -> torch.Tensor:
        """Bar-distribution logits (*queries, bins) with every bin's cdf value C replaced by R(C).

        ``fraction`` (shape ``queries``) is each query's observed fraction. A group without a map
        returns ``logits`` unchanged. Queries go through in blocks of ``RECALIBRATE_QUERIES``, so the
        float64 work arrays stay small however many curves are forecast at once.
        """
        if group not in self.maps:
            return logits
        flat = logits.reshape(-1, logits.shape[-1])
        r = np.broadcast_to(np.asarray(fraction, dtype=np.float64), logits.shape[:-1]).reshape(-1)
        blocks = [
            self._recalibrated_block(flat[i : i + RECALIBRATE_QUERIES], group, r[i : i + RECALIBRATE_QUERIES])
            for i in range(0, flat.shape[0], RECALIBRATE_QUERIES)
        ]
        out = torch.cat(blocks) if blocks else flat
        return out.reshape(logits.shape)

    def _recalibrated_block(self, logits: torch.Tensor, group: str, fraction: np.ndarray) -> torch.Tensor:
        """``recalibrate`` of logits (queries, bins) at observed fractions (queries,)."""
        probs = torch.softmax(logits.detach().cpu().double(), dim=-1)  # the maps are numpy: on the CPU
        cdf = probs.cumsum(-1).clamp(0.0, 1.0).numpy()  # (queries, bins): the cdf at each bin's upper border
        rows = self._rows(group, fraction)  # (queries, levels)
        k = np.clip(np.searchsorted(self.levels, cdf, side="right") - 1, 0, len(self.levels) - 2)
        lo, hi = self.levels[k], self.levels[k + 1]
        r_lo, r_hi = np.take_along_axis(rows, k, -1), np.take_along_axis(rows, k + 1, -1)
        mapped = r_lo + (cdf - lo) / (hi - lo) * (r_hi - r_lo)
        mapped[..., -1] = 1.0
        new = np.diff(mapped, axis=-1, prepend=0.0)
        # a bin the model gives no mass keeps none; every other keeps some (the map is strictly increasing)
        new = np.where(probs.numpy() > 0, np.maximum(new, 1e-300), 0.0)
        return torch.log(torch.as_tensor(new)).to(logits.device, logits.dtype)

    # -- fitting -----------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        runs: Sequence[Mapping[str, Any]],
        model: Any = None,
        *,
        cutoffs: Sequence[float] = CUTOFFS,
        smoothing: float = 0.02,
        bandwidth: float | None = None,
        min_runs: int = 20,
        seed: int = 0,
        description: str = "",
    ) -> Calibration:
        """Fit the maps on finished runs' final values, forecast from their first fractions.

        Args:
            runs: finished curves, each a mapping with ``"values"`` (at least 3) and optionally
                ``"epochs"`` (default 1, 2, ...), ``"direction"`` ("maximize"), ``"bounds"`` ((0, 1))
                and ``"budget_scale"`` ("linear"): the arguments of :func:`pfn.curves.extrapolate`.
                The last value is the target, forecast at the last budget.
            model: the curve model to calibrate (name, path or Predictor; default the default model).
            cutoffs: the observed fractions of each run to forecast from, increasing, in (0, 1):
                a run of n values is cut after ``min(n - 1, max(2, round(c n)))`` of them.
            smoothing: weight of the identity in each map (in (0, 1)): keeps the density positive.
            bandwidth: of the Gaussian kernel that smooths the PITs' cdf, in log-odds; None for
                Silverman's rule (:func:`silverman_bandwidth`) per map.
            min_runs: the fewest PITs a map is fitted on; a fraction with fewer gets its group's
                pooled map, and a group with fewer in all gets no map.
            seed: seeds the uniform draw that spreads a PIT over an atom (a final value on a closed bound).
            description: stored with the maps (what they were fitted on).

        Raises:
            ValueError: a run or an argument is invalid (the message names it).
        """
        cuts = _check_cutoffs(cutoffs)
        if not (isinstance(smoothing, (int, float)) and 0 < smoothing < 1):
            raise ValueError(f"smoothing must be a number in (0, 1), got {smoothing!r}")
        if bandwidth is not None and not (isinstance(bandwidth, (int, float)) and bandwidth > 0):
            raise ValueError(f"bandwidth must be a positive number or None, got {bandwidth!r}")
        if not (isinstance(min_runs, int) and min_runs >= 1):
            raise ValueError(f"min_runs must be an integer >= 1, got {min_runs!r}")
        pits = transforms(runs, model, cutoffs=cutoffs, seed=seed)
        levels = np.asarray(LEVELS)
        maps, counts = {}, {}
        for group in GROUPS:
            mine = [t for t in pits if t.group == group]
            if len(mine) < min_runs:
                continue
            r = np.array([t.fraction for t in mine])
            p = np.array([t.pit for t in mine])
            nearest = nearest_cutoff(r, cuts)
            per_cut = np.bincount(nearest, minlength=len(cuts))
            pooled = _kernel_map(p, levels, smoothing, bandwidth)
            rows = [_kernel_map(p[nearest == j], levels, smoothing, bandwidth) if per_cut[j] >= min_runs else pooled
                    for j in range(len(cuts))]  # fmt: skip
            maps[group] = np.stack(rows)
            counts[group] = per_cut.tolist()
        return cls(cuts, levels, maps, counts, description)

    # -- storing -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (read back by :meth:`from_dict`)."""
        return {
            "version": CALIBRATION_VERSION,
            "description": self.description,
            "cutoffs": self.cutoffs.tolist(),
            "levels": self.levels.tolist(),
            "maps": {g: np.round(m, 9).tolist() for g, m in self.maps.items()},
            "counts": self.counts,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> Calibration:
        """Read and check the form of :meth:`to_dict`; a ValueError naming ``source`` if it is invalid."""

        def bad(what: str) -> ValueError:
            return ValueError(f"{source}: {what}")

        if not isinstance(data, Mapping):
            raise bad(f"must be a JSON object, got {type(data).__name__}")
        if data.get("version") != CALIBRATION_VERSION:
            raise bad(f"version must be {CALIBRATION_VERSION}, got {data.get('version')!r}")
        try:
            cutoffs = np.asarray(data["cutoffs"], dtype=np.float64)
            levels = np.asarray(data["levels"], dtype=np.float64)
            maps = {str(g): np.asarray(m, dtype=np.float64) for g, m in dict(data["maps"]).items()}
            counts = {str(g): [int(c) for c in v] for g, v in dict(data.get("counts", {})).items()}
        except (KeyError, TypeError, ValueError) as err:
            raise bad(f"needs numeric 'cutoffs', 'levels' and 'maps' ({err!r})") from err
        if (
            cutoffs.ndim != 1
            or not len(cutoffs)
            or not ((cutoffs > 0) & (cutoffs <= 1)).all()
            or (np.diff(cutoffs) <= 0).any()
        ):
            raise bad("cutoffs must be a non-empty increasing list in (0, 1]")
        if levels.ndim != 1 or len(levels) < 2 or levels[0] != 0 or levels[-1] != 1 or (np.diff(levels) <= 0).any():
            raise bad("levels must increase from 0 to 1")
        for group, table in maps.items():
            if group not in GROUPS:
                raise bad(f"unknown group {group!r}; groups are {', '.join(GROUPS)}")
            if table.shape != (len(cutoffs), len(levels)):
                raise bad(f"maps[{group!r}] must have shape {(len(cutoffs), len(levels))}, got {table.shape}")
            if (
                not np.isfinite(table).all()
                or (table[:, 0] != 0).any()
                or (table[:, -1] != 1).any()
                or (np.diff(table, axis=1) <= 0).any()
            ):
                raise bad(f"maps[{group!r}]: each row must increase strictly from 0 to 1")
        return cls(cutoffs, levels, maps, counts, str(data.get("description", "")))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the JSON form to ``path``, atomically."""
        return write_atomically(path, json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Read a calibration written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"calibration file {os.fspath(path)!r} cannot be read as JSON: {err}") from err
        return cls.from_dict(data, source=f"calibration file {os.fspath(path)!r}")

    @classmethod
    def of_model(cls, predictor: Any) -> Calibration | None:
        """The calibration stored in a model's checkpoint config, or None."""
        data = predictor.config.get(CONFIG_KEY)
        return None if data is None else cls.from_dict(data, source=f"the model's config['{CONFIG_KEY}']")


class Transform(NamedTuple):
    """One forecast's probability integral transform: which run, its group, observed fraction and PIT."""

    run: int
    group: str
    fraction: float
    pit: float


def transforms(
    runs: Sequence[Mapping[str, Any]], model: Any = None, *, cutoffs: Sequence[float] = CUTOFFS, seed: int = 0
) -> list[Transform]:
    """The uncalibrated model's PIT of each finished run's final value, forecast from each cutoff of the run.

    The arguments are those of :meth:`Calibration.fit` (which fits its maps on these); a run of n values is
    cut after ``min(n - 1, max(2, round(c n)))`` of them. Useful to check a model's calibration on one's
    own runs, or to validate a calibration on runs it was not fitted on.
    """
    from pfn.curves.forecast import extrapolate
    from pfn.curves.models import DEFAULT_MODEL

    model = DEFAULT_MODEL if model is None else model
    cuts = _check_cutoffs(cutoffs)
    checked = [_check_run(run, i) for i, run in enumerate(_run_list(runs))]
    rng = np.random.default_rng(seed)
    out = []
    for (direction, bounds, scale), members in _by_options(checked).items():
        prefixes = [(run, min(len(run["values"]) - 1, max(2, round(c * len(run["values"]))))) for run in members
                    for c in cuts]  # fmt: skip
        forecasts = extrapolate(
            [run["values"][:n] for run, n in prefixes], epochs=[run["epochs"][:n] for run, n in prefixes],
            max_epochs=[run["epochs"][-1] for run, _ in prefixes], direction=direction, bounds=bounds,
            budget_scale=scale, model=model, calibration=None,
        )  # fmt: skip
        assert isinstance(forecasts, list)
        for fc, (run, _) in zip(forecasts, prefixes, strict=True):
            assert fc._fraction is not None  # extrapolate sets it
            pit = fc._pit(run["values"][-1], rng)
            out.append(Transform(run["index"], group_of(fc._closed, scale), float(fc._fraction[-1]), pit))
    return out


# The calibration read from each loaded model's config, kept with the dict it was read from: "auto" on every
# call of a forecast function then validates the stored maps once per model, not once per call.
_READ: weakref.WeakKeyDictionary[Any, tuple[Any, Calibration | None]] = weakref.WeakKeyDictionary()


def _stored(predictor: Any) -> Calibration | None:
    data = predictor.config.get(CONFIG_KEY)
    read = _READ.get(predictor)
    if read is None or read[0] is not data:
        read = (data, Calibration.of_model(predictor))
        _READ[predictor] = read
    return read[1]


def nearest_cutoff(fractions: np.ndarray, cutoffs: Sequence[float] | np.ndarray) -> np.ndarray:
    """Index of the fitted cutoff nearest to each observed fraction: the map :meth:`Calibration.fit` fits it with."""
    return np.abs(np.asarray(fractions, dtype=float)[:, None] - np.asarray(cutoffs)[None, :]).argmin(axis=1)


def resolve(calibration: Any, predictor: Any) -> Calibration | None:
    """The ``calibration`` argument of the forecast functions as a Calibration or None."""
    if calibration is None or isinstance(calibration, Calibration):
        return calibration
    if isinstance(calibration, str) and calibration == "auto":
        return _stored(predictor)
    if isinstance(calibration, (str, os.PathLike)):
        return Calibration.load(calibration)
    raise ValueError(f'calibration must be "auto", None, a Calibration or a path to one, got {calibration!r}')


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(q / (1 - q))


def silverman_bandwidth(p: np.ndarray) -> float:
    """Silverman's robust rule of thumb, 0.9 min(sd, IQR / 1.349) n^(-1/5), for the PITs' log-odds (at least 0.05).

    The PITs of real runs pile up in the model's tails, which inflates their standard deviation; the
    interquartile range keeps the bandwidth from smoothing away the centre of the map."""
    z = _logit(p)
    spread = min(float(np.std(z)), float(np.subtract(*np.percentile(z, [75, 25]))) / 1.349)
    return max(0.05, 0.9 * spread * len(p) ** -0.2)


def _kernel_map(p: np.ndarray, levels: np.ndarray, smoothing: float, bandwidth: float | None) -> np.ndarray:
    """(1 - smoothing) * the PITs' cdf smoothed with a Gaussian kernel in log-odds + smoothing * identity, at
    ``levels`` (0 and 1 at the ends)."""
    h = silverman_bandwidth(p) if bandwidth is None else bandwidth
    inner = levels[1:-1]
    z = torch.as_tensor((_logit(inner)[:, None] - _logit(p)[None, :]) / h, dtype=torch.float64)
    cdf = torch.special.ndtr(z).numpy().mean(axis=1)
    return np.concatenate([[0.0], (1 - smoothing) * cdf + smoothing * inner, [1.0]])


def _check_cutoffs(cutoffs: Sequence[float]) -> np.ndarray:
    try:
        cuts = np.asarray(cutoffs, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"cutoffs must be numbers in (0, 1), got {cutoffs!r}") from err
    if cuts.ndim != 1 or not len(cuts) or not ((cuts > 0) & (cuts < 1)).all() or (np.diff(cuts) <= 0).any():
        raise ValueError(f"cutoffs must be a non-empty increasing sequence in (0, 1), got {cutoffs!r}")
    return cuts


def _run_list(runs: Any) -> list[Any]:
    if isinstance(runs, (str, bytes, Mapping)) or not isinstance(runs, Sequence) or not len(runs):
        kind = type(runs).__name__
        raise ValueError(f"runs must be a non-empty sequence of mappings (one per finished run), got {kind}")
    return list(runs)


def _check_run(run: Any, i: int) -> dict[str, Any]:
    """A run's values and budgets as float arrays and its options (checked again by extrapolate)."""
    from pfn.curves.checks import BUDGET_SCALES, DIRECTIONS, _check_bounds, _choice, _numbers
    from pfn.curves.inputs import _check_value_range, _checked_budgets, _value_map

    if not isinstance(run, Mapping) or "values" not in run:
        raise ValueError(f"runs[{i}] must be a mapping with 'values', got {type(run).__name__}")
    unknown = set(run) - {"values", "epochs", "direction", "bounds", "budget_scale"}
    if unknown:
        raise ValueError(f"runs[{i}] has unknown keys {sorted(unknown)}; allowed: values, epochs, direction, bounds, "
                         "budget_scale")  # fmt: skip
    values = _numbers(run["values"], f"runs[{i}]['values']")
    if len(values) < 3:
        raise ValueError(f"runs[{i}]['values'] must hold at least 3 values (2 to forecast from, 1 target), "
                         f"got {len(values)}")  # fmt: skip
    given = run.get("epochs")
    epochs = np.arange(1.0, len(values) + 1) if given is None else _numbers(given, f"runs[{i}]['epochs']")
    if epochs.shape != values.shape:
        raise ValueError(f"runs[{i}]['epochs'] must have one budget per value: {values.shape}, got {epochs.shape}")
    direction = _choice(run.get("direction", "maximize"), DIRECTIONS, f"runs[{i}]['direction']")
    bounds = _check_bounds(run.get("bounds", (0.0, 1.0)))
    scale = _choice(run.get("budget_scale", "linear"), BUDGET_SCALES, f"runs[{i}]['budget_scale']")
    # every prefix is forecast in one batch: check the whole run here, so that an error names the run
    _checked_budgets(values, epochs, epochs[-1], scale, f"runs[{i}]")
    loc, span, sign = _value_map(values, direction, bounds)
    _check_value_range(values, loc, span, sign, f"runs[{i}]['values']", "curve")
    return {"index": i, "values": values, "epochs": epochs, "direction": direction, "bounds": bounds,
            "budget_scale": scale}  # fmt: skip


def _by_options(runs: list[dict[str, Any]]) -> dict[tuple[Any, Any, Any], list[dict[str, Any]]]:
    """Runs grouped by (direction, bounds, budget_scale): one extrapolate call each."""
    out: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
    for run in runs:
        out.setdefault((run["direction"], run["bounds"], run["budget_scale"]), []).append(run)
    return out
