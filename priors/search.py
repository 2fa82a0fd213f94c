"""A prior over hyperparameter searches observed epoch by epoch: learning curves conditioned on the whole search
("freeze-thaw", after ifBO's FT-PFN, Rakotoarison et al., 2024).

A dataset is one search on one task. A point is one observation ``(configuration, budget) -> value``::

    x = [c_1, ..., c_h, 0, ..., 0, t / L]      y = the run's (noisy) value after epoch t, in [0, 1] (maximised)

with the configuration ``c`` in [0, 1]^h (h = 1 .. num_features - 1, drawn per dataset; the unused columns are
zero) and the budget in the last column: epoch ``t`` of the task's ``L`` epochs on a *linear* scale, ``t / L`` in
(0, 1] (1 is the full budget; the first epoch is 1 / L). ``L`` is drawn per dataset, log-uniform on the integers
[min_epochs, max_epochs], so a model sees coarse (L = 10) and fine (L = 100) budget grids. Points of one run share
their configuration exactly: that is how the model tells runs apart.

Generative story of a task (every draw from the generator; float64 inside, float32 out)
--------------------------------------------------------------------------------------
- Hyperparameters: each of the h active ones is irrelevant with probability ``irrelevant_prob`` (at least one
  matters); some are discrete (2 to 6 evenly spaced levels; at least one stays continuous, so two runs never
  share a configuration). Configurations are uniform draws, or (a per-task share) a perturbation of an earlier
  configuration, reflected into [0, 1] (local search: near neighbours occur in every search).
- Config -> curve: six random smooth functions of the configuration, one per curve parameter (final level,
  speed, overfitting, peak epoch, divergence, noise level). Each is a normalised random-Fourier-feature draw of
  an RBF Gaussian process, ``f(c) = a . phi(c) / |phi(c)|`` with ``phi_m(c) = cos(w_m . c + b_m)``, ``a ~ N(0, I)``
  and ARD lengthscales (log-normal around ``lengthscale`` times sqrt(#relevant), per-function jitter, infinite for
  irrelevant dimensions): at every configuration ``f(c)`` is exactly N(0, 1), and nearby configurations get
  nearly equal values, so nearby configurations learn alike (correlation ~ the RBF kernel).
- Curve of a run at epoch t (LearningCurvePrior's families, normalised to rise from 0 to 1):
  ``y(t) = y0 + (y_inf - y0) * progress(t)``, with the task's start (chance) level ``y0 ~ U(0, max_chance)``,
  the run's asymptote ``y_inf = y0 + (1 - y0) * sigmoid(m + s f_final(c))`` (task location
  ``m ~ N(level_loc, level_scale^2)``, by default max_chance 0.5, level_loc 1, level_scale 1.5, and spread
  s ~ LogUniform(0.3, 2.5): searches where every configuration ends alike, and ones with many failures), and
  ``progress`` a task-level mixture (Dirichlet(1, 1, 1) weights) of three shapes of ``u = t / tau``:
  saturating ``1 - exp(-u^delta)`` (janoschek / weibull), power law ``1 - (1 + u)^-alpha`` (pow3 / pow4: slow,
  still improving late) and hill ``u^delta / (1 + u^delta)`` (mmf / hill: with delta > 1 a plateau, then a
  rise). The run's time scale ``tau = L * exp(m_tau + s_tau f_speed(c))`` (a task's median log-uniform on
  ``time_scales`` times L, by default 0.02 L to 0.5 L; s_tau ~ U(0.2, 1.5)): fast and slow runs, curves that cross.
- Late gains (a share ``late_gain_prob`` of tasks, e.g. a step learning-rate schedule): every run of the task
  defers a share J ~ U(0.1, 0.5) of its gain to a jump at a task epoch ``t_j ~ U(0.4, 0.9) L`` (a logistic step
  of one epoch's width): ``progress(t) = P(t) (1 - J + J sigmoid(t - t_j))``.
- Declines (overfitting; a share ``decline_prob`` of all runs): a run declines when ``f_decline(c) + o > 0``,
  with a task offset ``o ~ N(mu, decline_spread^2)`` and mu set so that P(decline) is exactly ``decline_prob``
  (tasks differ: in some most runs overfit, in most few). A declining run stops improving at its peak epoch
  ``t_p = L (0.1 + 0.8 sigmoid(m_p + 1.5 f_peak(c)))`` and then loses a share of its gain,
  ``1 - D (1 - exp(-(t - t_p) / w))`` with the task's D ~ U(0.1, 0.6) and w ~ LogUniform(0.05 L, 0.5 L):
  its noise-free curve ends strictly below its maximum. Other runs' noise-free curves never decrease.
- Divergence (a share ``divergence_prob`` of all runs, by the same construction with ``divergence_spread``:
  a region of configurations, such as too large learning rates, diverges): from an epoch ``t_d`` uniform on
  1 .. L the run's value is the chance level y0.
- Noise: ``y(t) + sigma eps`` reflected at 0 and 1 into [0, 1] (a bounded metric, with no point masses at the
  bounds that would collapse the output bins), with the task's ``ln sigma ~ N(noise_log_mean, noise_log_std^2)``
  (the learning-curve prior's defaults) times ``exp(0.3 f_noise(c))`` per run.

The search history: order, and what the queries are
---------------------------------------------------
The points are listed in the order a freeze-thaw search observed them, so that every prefix is a valid "what has
been observed so far" (``sequential = True``: the data module takes the first n points as the context and all
the remaining points as queries). Each run is observed epoch by epoch from epoch 1 up to its own stopping
budget, in chunks of Delta epochs (Delta = 1 in half the tasks, as ifBO's freeze-thaw steps, else up to L / 4);
between its chunks a run is frozen while others run. Runs start over time: an initial design of 1 to 16 runs at
the start, then arrivals one by one; a task's ratio of freeze gaps to arrival gaps (0.05 to 20) ranges from
"one full run after another" to breadth-first, successive-halving-like searches. A run's stopping budget is L
for a task-level share (5% to 50%) of the runs, else log-uniform on 1 .. L. A search has as many runs as it takes
for their stopping budgets to add up to ``num_points``, and the history is its first ``num_points`` observations
in time order (so a long search window holds more runs): each run's epochs appear in order, without gaps, at
every prefix.

So at any split the queries are *all remaining points*: the future budgets of started runs (up to their
stopping budgets, the full budget L for the runs that go that far) and the curves of runs not started yet, at
their early and (for the long runs) late budgets. Not only future budgets of started runs, and never points
already observed. Crucially, which runs are started, continued and stopped is drawn independently of their
curves (it may depend on nothing the model does not see): the set of queries carries no information about their
values, so a model trained on these splits predicts the prior's posterior at any query, and a real search whose
choices depend only on what it observed (any freeze-thaw policy) conditions it correctly.

The prior declares ``sequential = True``, ``input_range = (0, 1)`` (every column of x lies in [0, 1]) and
samples on the generator's device. The budget must stay the last of the model's inputs: train with
``data.min_features = data.num_features`` (the prior draws the number of hyperparameters itself; the data
module's dropping of trailing features would move the budget column).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import torch

from priors.base import Batch, Prior
from priors.checks import check_integer, check_real, is_real

#: the random functions of the configuration, one per curve parameter, in the order of their index
FUNCTIONS = ("final", "speed", "decline", "peak", "divergence", "noise")
#: random Fourier features per function
NUM_FOURIER_FEATURES = 64
#: feature values computed at once (32 MB in float64): bounds memory when thousands of searches are drawn at once
FEATURE_CHUNK_ENTRIES = 1 << 22
#: most runs started together at the start of a search (its initial design)
MAX_INITIAL_DESIGN = 16
#: how much a run's noise level varies with its configuration: sigma = task sigma * exp(0.3 f_noise(c))
NOISE_CONFIG_SCALE = 0.3
#: a hyperparameter is discrete (2 .. 6 levels) with this probability (at least one stays continuous)
DISCRETE_PROB = 0.25


def _check_probability(value: Any, name: str) -> float:
    if not is_real(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _offset_location(rate: float, spread: float) -> float:
    """Mean of the task offset o ~ N(mu, spread^2) such that P(Z + o > 0) = rate for Z ~ N(0, 1)."""
    return NormalDist().inv_cdf(rate) * math.sqrt(1 + spread**2)


@dataclass(frozen=True)
class SearchSample:
    """A batch of searches with the latent quantities that made them (for tests, checks and analysis).

    Shapes: B datasets, N points, K run slots (runs ``k >= num_runs[b]`` are unused), E = max_epochs.

    Attributes:
        x: inputs (B, N, D), float32: the configuration (h columns, then zeros) and the budget ``epoch / L`` last.
        y: noisy values (B, N), float32, in [0, 1].
        clean: noise-free values of the points (B, N), float64.
        run: the run (configuration) each point belongs to (B, N), long, an index into K.
        epoch: each point's epoch (B, N), long, in 1 .. L.
        max_epochs: L per dataset (B,), long.
        num_hyperparameters: h per dataset (B,), long.
        num_runs: runs in the search (B,), long (not all need appear among the N points).
        configs: the runs' configurations (B, K, D - 1), float64, zero beyond h.
        curves: every run's noise-free curve over epochs 1 .. E (B, K, E), float64, NaN beyond L (only with
            ``full_curves``, else None).
        stop: each run's stopping budget (B, K), long, in 1 .. L (0 for unused slots).
        declines: runs that overfit (B, K), bool: their noise-free curve peaks and then falls.
        diverges: runs that diverge (B, K), bool: from ``divergence_epoch`` on they sit at ``chance``.
        divergence_epoch: (B, K), long.
        late_gain: tasks whose runs make a late jump (B,), bool; ``late_gain_epoch`` (B,) and ``late_gain_share``
            (B,) are its epoch and share of the gain (0 where there is none).
        chance: the start (chance) level y0 of each task (B,), float64.
        sigma: each run's noise standard deviation (B, K), float64.
    """

    x: torch.Tensor
    y: torch.Tensor
    clean: torch.Tensor
    run: torch.Tensor
    epoch: torch.Tensor
    max_epochs: torch.Tensor
    num_hyperparameters: torch.Tensor
    num_runs: torch.Tensor
    configs: torch.Tensor
    curves: torch.Tensor | None
    stop: torch.Tensor
    declines: torch.Tensor
    diverges: torch.Tensor
    divergence_epoch: torch.Tensor
    late_gain: torch.Tensor
    late_gain_epoch: torch.Tensor
    late_gain_share: torch.Tensor
    chance: torch.Tensor
    sigma: torch.Tensor


class LearningCurveSearchPrior(Prior):
    """Hyperparameter searches as datasets: x = (configuration, budget), y = the run's value; points in the order
    a freeze-thaw search observed them (see the module docstring for the generative story and the ordering).

    Args:
        max_features: largest model input width: up to ``max_features - 1`` hyperparameters plus the budget.
        min_epochs: smallest task budget L (epochs at x = 1).
        max_epochs: largest task budget L; L is log-uniform on the integers [min_epochs, max_epochs].
        decline_prob: share of runs that overfit: they peak before the end and then decline.
        decline_spread: standard deviation of the task offset behind declines (0: every task alike; larger:
            declines concentrate in some tasks).
        divergence_prob: share of runs that diverge (drop to the chance level and stay there).
        divergence_spread: the same for divergence.
        late_gain_prob: share of tasks whose runs make a late jump (as after a learning-rate decay).
        noise_log_mean: mean of ``ln sigma`` of a task's observation noise.
        noise_log_std: standard deviation of ``ln sigma``.
        irrelevant_prob: probability that a hyperparameter does not affect the curves (at least one does).
        lengthscale: median lengthscale of the config -> curve functions with one relevant hyperparameter
            (it grows like sqrt(#relevant), keeping a search's functions equally complex in every dimension).
        lengthscale_log_std: standard deviation of the log lengthscales.
        level_loc: mean of a task's location ``m`` of the runs' final levels on the logit scale (see the module
            docstring: ``y_inf = y0 + (1 - y0) sigmoid(m + s f_final(c))``, ``m ~ N(level_loc, level_scale^2)``).
        level_scale: standard deviation of ``m``.
        max_chance: a task's start (chance) level ``y0`` is uniform on [0, max_chance].
        time_scales: (low, high): a task's median time scale ``tau`` of its runs, as a share of its budget L, is
            log-uniform on [low, high] (small: runs that are nearly done after the first epochs; large: runs still
            improving at the end).
    """

    samples_on_any_device = True
    #: points are a search history: the first n are what was observed, the rest are to be predicted
    sequential = True
    #: configurations and budgets in [0, 1]
    input_range = (0.0, 1.0)

    def __init__(
        self,
        max_features: int = 7,
        min_epochs: int = 10,
        max_epochs: int = 100,
        decline_prob: float = 0.2,
        decline_spread: float = 1.5,
        divergence_prob: float = 0.03,
        divergence_spread: float = 1.5,
        late_gain_prob: float = 0.15,
        noise_log_mean: float = -4.0,
        noise_log_std: float = 1.0,
        irrelevant_prob: float = 0.2,
        lengthscale: float = 0.5,
        lengthscale_log_std: float = 0.5,
        level_loc: float = 1.0,
        level_scale: float = 1.5,
        max_chance: float = 0.5,
        time_scales: tuple[float, float] = (0.02, 0.5),
    ):
        self.max_features = check_integer(max_features, "max_features", 2)
        self.min_epochs = check_integer(min_epochs, "min_epochs", 2)
        self.max_epochs = check_integer(max_epochs, "max_epochs", 2)
        if self.max_epochs < self.min_epochs:
            raise ValueError(f"max_epochs must be >= min_epochs ({self.min_epochs}), got {max_epochs!r}")
        self.decline_prob = _check_probability(decline_prob, "decline_prob")
        self.decline_spread = check_real(decline_spread, "decline_spread", 0)
        self.divergence_prob = _check_probability(divergence_prob, "divergence_prob")
        self.divergence_spread = check_real(divergence_spread, "divergence_spread", 0)
        self.late_gain_prob = _check_probability(late_gain_prob, "late_gain_prob")
        self.noise_log_mean = check_real(noise_log_mean, "noise_log_mean")
        self.noise_log_std = check_real(noise_log_std, "noise_log_std", 0)
        self.irrelevant_prob = _check_probability(irrelevant_prob, "irrelevant_prob")
        if self.irrelevant_prob == 1:
            raise ValueError("irrelevant_prob must be below 1 (some hyperparameter must matter), got 1")
        self.lengthscale = check_real(lengthscale, "lengthscale", 0, strict=True)
        self.lengthscale_log_std = check_real(lengthscale_log_std, "lengthscale_log_std", 0)
        self.level_loc = check_real(level_loc, "level_loc")
        self.level_scale = check_real(level_scale, "level_scale", 0)
        self.max_chance = check_real(max_chance, "max_chance", 0)
        if self.max_chance >= 1:
            raise ValueError(f"max_chance must be below 1 (a run must be able to improve), got {max_chance!r}")
        listed = not isinstance(time_scales, (str, bytes)) and hasattr(time_scales, "__len__")
        scales = tuple(time_scales) if listed else ()
        if len(scales) != 2 or not all(is_real(v) and v > 0 for v in scales) or not scales[0] <= scales[1]:
            raise ValueError(
                f"time_scales must be two positive numbers (low, high) with low <= high, got {time_scales!r}"
            )
        self.time_scales = (float(scales[0]), float(scales[1]))

    # -- helpers -------------------------------------------------------------------------------------------------
    @staticmethod
    def _rand(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64)

    @staticmethod
    def _randn(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float64)

    def _uniform(self, low: float, high: float, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
        return low + (high - low) * self._rand(shape, g)

    def _log_uniform(self, low: float, high: float, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
        return torch.exp(self._uniform(math.log(low), math.log(high), shape, g))

    def _exceeds(self, f: torch.Tensor, rate: float, spread: float, g: torch.Generator) -> torch.Tensor:
        """Runs (B, K) where ``f + o > 0``, with a task offset o ~ N(mu, spread^2): P = ``rate`` per run."""
        o = self._randn((f.shape[0], 1), g)  # drawn whatever the rate, so the stream does not depend on it
        if rate <= 0 or rate >= 1:
            return torch.full_like(f, rate >= 1, dtype=torch.bool)
        return f + _offset_location(rate, spread) + spread * o > 0

    # -- the search ----------------------------------------------------------------------------------------------
    def _num_runs(self, stop: torch.Tensor, num_points: int) -> torch.Tensor:
        """Runs per search (B,): the fewest whose stopping budgets add up to at least ``num_points``."""
        total = stop.cumsum(1)
        k = torch.searchsorted(total, torch.full_like(total[:, :1], num_points)).squeeze(1) + 1
        return k.clamp(max=stop.shape[1])

    def _configurations(self, b: int, k: int, h_max: int, h: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Configurations (B, K, h_max), zero beyond each search's h: uniform draws or perturbed earlier ones."""
        dev = g.device
        c = self._rand((b, k, h_max), g)
        # Local search: a task-level share of runs perturbs an earlier run's configuration.
        local_share = self._uniform(0.0, 0.7, (b, 1), g)
        step = self._log_uniform(0.02, 0.15, (b, 1, 1), g)
        is_local = self._rand((b, k), g) < local_share
        is_local[:, 0] = False
        index = torch.arange(k, device=dev, dtype=torch.float64)
        parent = (self._rand((b, k), g) * index).long()  # uniform on the earlier runs 0 .. k - 1
        moved = torch.gather(c, 1, parent[:, :, None].expand(b, k, h_max)) + step * self._randn((b, k, h_max), g)
        moved = 1 - (1 - moved.abs()).abs()  # reflected into [0, 1]: distinct draws stay distinct
        c = torch.where(is_local[:, :, None], moved, c)
        # Discrete hyperparameters: 2 .. 6 evenly spaced levels; at least one active one stays continuous.
        dims = torch.arange(h_max, device=dev)
        active = dims[None, :] < h[:, None]
        discrete = (self._rand((b, h_max), g) < DISCRETE_PROB) & active
        keep = (self._rand((b,), g) * h).long()  # a random active dimension
        discrete[torch.arange(b, device=dev), keep] &= ~(discrete | ~active).all(1)
        levels = torch.randint(2, 7, (b, 1, h_max), generator=g, device=dev).to(torch.float64)
        snapped = torch.minimum(torch.floor(c * levels), levels - 1) / (levels - 1)
        c = torch.where(discrete[:, None, :], snapped, c)
        return c * active[:, None, :]

    def config_functions(self, c: torch.Tensor, h: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Values (B, K, len(FUNCTIONS)) at configurations ``c`` (B, K, H) (columns beyond each search's ``h`` (B,)
        unused) of one draw per search of the smooth random functions of :data:`FUNCTIONS`: each is N(0, 1) at
        every configuration, and its values at two configurations correlate like an RBF kernel of their distance
        (ARD lengthscales, irrelevant hyperparameters ignored)."""
        b, _, h_max = c.shape
        nf, m = len(FUNCTIONS), NUM_FOURIER_FEATURES
        dev = g.device
        active = torch.arange(h_max, device=dev)[None, :] < h[:, None]
        relevant = (self._rand((b, h_max), g) >= self.irrelevant_prob) & active
        keep = (self._rand((b,), g) * h).long()
        relevant[torch.arange(b, device=dev), keep] |= ~relevant.any(1)
        num_relevant = relevant.sum(1, keepdim=True).to(torch.float64)
        log_ls = (
            math.log(self.lengthscale)
            + 0.5 * num_relevant.log()
            + self.lengthscale_log_std * self._randn((b, h_max), g)
        )
        log_ls = log_ls[:, None, :] + 0.3 * self._randn((b, nf, h_max), g)  # per-function jitter
        inv_ls = torch.exp(-log_ls) * relevant[:, None, :]  # irrelevant: infinite lengthscale
        w = self._randn((b, nf, m, h_max), g) * inv_ls[:, :, None, :]  # RBF spectral draws
        phase = self._uniform(0.0, 2 * math.pi, (b, nf, m), g)
        a = self._randn((b, nf, m), g)
        out = c.new_empty(b, c.shape[1], nf)
        for rows in torch.arange(b, device=dev).split(max(1, FEATURE_CHUNK_ENTRIES // max(1, c.shape[1] * nf * m))):
            phi = torch.cos(torch.einsum("bkd,bfmd->bkfm", c[rows], w[rows]) + phase[rows, None])  # (b, K, F, M)
            norm = phi.square().sum(-1).sqrt().clamp_min(1e-12)
            out[rows] = (phi * a[rows, None]).sum(-1) / norm
        return out

    def _order(
        self, stop: torch.Tensor, length: torch.Tensor, num_points: int, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run and epoch (B, N) of the first ``num_points`` observations of each search in time order.

        ``stop`` (B, K) is each run's stopping budget (0: an unused slot) and ``length`` (B,) the task's L. The
        observations are enumerated run after run (fewer than N + L of them: the runs' budgets first reach N with
        the last run), each stamped with the time its chunk runs, and sorted by time.
        """
        b, k = stop.shape
        dev = g.device
        m = num_points + self.max_epochs
        ends = stop.cumsum(1)  # (B, K): observations of runs 0 .. r
        j = torch.arange(m, device=dev)[None, :].expand(b, m).contiguous()
        run = torch.searchsorted(ends, j, right=True).clamp(max=k - 1)  # the run of enumerated observation j
        first = torch.gather(ends - stop, 1, run)  # where that run's observations begin
        epoch = j - first + 1
        valid = j < ends[:, -1:]
        # Chunks of Delta epochs: 1 in half the tasks (epoch by epoch), else log-uniform on 1 .. max(1, L / 4).
        quarter = (length.to(torch.float64) / 4).clamp_min(1.0)
        chunked = torch.exp(self._rand((b,), g) * quarter.log()).floor()
        delta = torch.where(self._rand((b,), g) < 0.5, torch.ones_like(chunked), chunked).long()
        # Arrivals: the initial design (1 .. 16 runs) starts at time 0, then one run per Exp(1) time.
        initial = torch.randint(1, MAX_INITIAL_DESIGN + 1, (b, 1), generator=g, device=dev)
        arrival_gaps = -torch.log1p(-self._rand((b, k), g)) * (torch.arange(k, device=dev)[None, :] >= initial)
        start = arrival_gaps.cumsum(1)
        # Freeze gaps before each of a run's later chunks: Exp(1) times a task scale, log-uniform on [0.05, 20]
        # arrival gaps; a run's chunk time is its start plus its gaps so far (a cumulative sum within the run).
        freeze = self._log_uniform(0.05, 20.0, (b, 1), g)
        new_chunk = ((epoch - 1) % delta[:, None] == 0) & (epoch > 1) & valid
        gaps = -torch.log1p(-self._rand((b, m), g)) * freeze * new_chunk
        total = torch.cat([torch.zeros_like(gaps[:, :1]), gaps.cumsum(1)], 1)  # (B, m + 1)
        time = torch.gather(start, 1, run) + (total[:, 1:] - torch.gather(total, 1, first))
        key = torch.where(valid, time, torch.full_like(time, math.inf))
        # Stable: ties (the initial design's first chunks, a chunk's epochs) keep the enumeration order, in which a
        # run's epochs ascend; a run's times never decrease, so its epochs stay in order at every prefix.
        order = torch.argsort(key, dim=1, stable=True)[:, :num_points]
        return torch.gather(run, 1, order), torch.gather(epoch, 1, order)

    def curve_parameters(
        self, fi: dict[str, torch.Tensor], length: torch.Tensor, used: torch.Tensor, g: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
        """The task parameters (each (B,), "weights" (B, 3)), the run parameters (each (B, K)) that
        :func:`curve_values` reads, and each run's noise standard deviation (B, K), from the values ``fi`` (each
        (B, K)) of the config functions of :data:`FUNCTIONS`, the task budgets ``length`` (B,) and the used run
        slots ``used`` (B, K)."""
        b, k = used.shape
        f64, dev = torch.float64, g.device
        lf = length[:, None].to(f64)
        chance = self._uniform(0.0, self.max_chance, (b, 1), g)
        level = self._randn((b, 1), g) * self.level_scale + self.level_loc
        level_spread = self._log_uniform(0.3, 2.5, (b, 1), g)
        log_tau = torch.log(lf) + self._uniform(math.log(self.time_scales[0]), math.log(self.time_scales[1]), (b, 1), g)
        weights = -torch.log1p(-self._rand((b, 3), g))
        late = self._rand((b,), g) < self.late_gain_prob
        zero = torch.zeros(b, dtype=f64, device=dev)
        task = {
            "chance": chance.squeeze(1),
            "weights": weights / weights.sum(1, keepdim=True),
            "delta_exp": torch.exp(0.3 * self._randn((b,), g)),
            "alpha": torch.exp(-0.3 + 0.5 * self._randn((b,), g)),
            "delta_hill": torch.exp(0.3 + 0.4 * self._randn((b,), g)),
            "share": torch.where(late, self._uniform(0.1, 0.5, (b,), g), zero),
            "jump_at": torch.where(late, self._uniform(0.4, 0.9, (b,), g) * length, zero),
            "drop": self._uniform(0.1, 0.6, (b,), g),
            "drop_time": self._log_uniform(0.05, 0.5, (b,), g) * length,
        }
        runs = {
            "y_inf": chance + (1 - chance) * torch.sigmoid(level + level_spread * fi["final"]),
            "tau": torch.exp(log_tau + self._uniform(0.2, 1.5, (b, 1), g) * fi["speed"]),
            "declines": self._exceeds(fi["decline"], self.decline_prob, self.decline_spread, g) & used,
            "peak": lf * (0.1 + 0.8 * torch.sigmoid(self._randn((b, 1), g) + 1.5 * fi["peak"])),
            "diverges": self._exceeds(fi["divergence"], self.divergence_prob, self.divergence_spread, g) & used,
            "divergence_epoch": (self._rand((b, k), g) * lf).floor() + 1,
        }
        sigma = torch.exp(self.noise_log_mean + self.noise_log_std * self._randn((b, 1), g))
        sigma = sigma * torch.exp(NOISE_CONFIG_SCALE * fi["noise"])
        return task, runs, sigma

    def sample_searches(
        self,
        batch_size: int,
        num_points: int,
        num_features: int,
        generator: torch.Generator,
        full_curves: bool = False,
    ) -> SearchSample:
        """``batch_size`` searches of ``num_points`` observations with ``num_features - 1`` hyperparameters at
        most, with their latent quantities (:class:`SearchSample`); ``full_curves`` also evaluates every run's
        noise-free curve on all its epochs (what training never needs: only the observed points are computed)."""
        if num_features < 2:
            raise ValueError(
                f"num_features must be at least 2 for a {type(self).__name__} (hyperparameters and the budget), "
                f"got {num_features}"
            )
        g, dev, b, n = generator, generator.device, batch_size, num_points
        h_max = num_features - 1
        f64 = torch.float64
        # -- task level --
        h = torch.randint(1, h_max + 1, (b,), generator=g, device=dev)
        lo, hi = math.log(self.min_epochs), math.log(self.max_epochs + 1)
        length = torch.exp(self._uniform(lo, hi, (b,), g)).floor().long().clamp(self.min_epochs, self.max_epochs)
        # Stopping budgets of candidate runs: L for a task-level share, else log-uniform on 1 .. L.
        full_share = self._uniform(0.05, 0.5, (b, 1), g)
        lf = length[:, None].to(f64)
        partial = torch.exp(self._rand((b, n), g) * torch.log(lf + 1)).floor().clamp(1, None)
        stop = torch.where(self._rand((b, n), g) < full_share, lf, torch.minimum(partial, lf)).long()
        num_runs = self._num_runs(stop, n)
        k = int(num_runs.max())
        stop = stop[:, :k]
        used = torch.arange(k, device=dev)[None, :] < num_runs[:, None]
        stop = stop * used
        # -- configurations and the config -> curve functions --
        configs = self._configurations(b, k, h_max, h, g)
        f = self.config_functions(configs, h, g)  # (B, K, F)
        fi = {name: f[..., i] for i, name in enumerate(FUNCTIONS)}
        # -- curve parameters: the task's (B,) and the runs' (B, K) --
        task, runs, sigma = self.curve_parameters(fi, length, used, g)
        late = task["share"] > 0
        # -- the history, and the noise-free values at its points --
        run, epoch = self._order(stop, length, n, g)
        clean = curve_values(task, {key: torch.gather(v, 1, run) for key, v in runs.items()}, epoch.to(f64))
        noise = self._randn((b, n), g) * torch.gather(sigma, 1, run)
        y = reflect_into_unit(clean + noise)
        budget = (epoch.to(f64) / length[:, None]).unsqueeze(-1)
        x = torch.cat([torch.gather(configs, 1, run[:, :, None].expand(b, n, h_max)), budget], -1)
        curves = None
        if full_curves:
            t = torch.arange(1, self.max_epochs + 1, device=dev, dtype=f64)[None, None, :]
            curves = curve_values(task, {key: v[:, :, None] for key, v in runs.items()}, t)
            curves = torch.where(t <= lf[:, :, None], curves, torch.full_like(curves, math.nan))
        return SearchSample(
            x=x.float(), y=y.float(), clean=clean, run=run, epoch=epoch, max_epochs=length,
            num_hyperparameters=h, num_runs=num_runs, configs=configs, curves=curves, stop=stop,
            declines=runs["declines"], diverges=runs["diverges"], divergence_epoch=runs["divergence_epoch"].long(),
            late_gain=late, late_gain_epoch=task["jump_at"], late_gain_share=task["share"], chance=task["chance"],
            sigma=sigma,
        )  # fmt: skip

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        search = self.sample_searches(batch_size, num_points, num_features, generator)
        return Batch(x=search.x, y=search.y)

    def describe(self) -> dict[str, Any]:
        return {
            "name": type(self).__name__,
            "inputs": "configuration in [0, 1]^h (unused columns zero), then the budget epoch / L (linear)",
            "max_features": self.max_features,
            "epochs": {"min": self.min_epochs, "max": self.max_epochs, "distribution": "log-uniform integer"},
            "decline_prob": self.decline_prob,
            "decline_spread": self.decline_spread,
            "divergence_prob": self.divergence_prob,
            "divergence_spread": self.divergence_spread,
            "late_gain_prob": self.late_gain_prob,
            "noise_log_mean": self.noise_log_mean,
            "noise_log_std": self.noise_log_std,
            "irrelevant_prob": self.irrelevant_prob,
            "lengthscale": self.lengthscale,
            "lengthscale_log_std": self.lengthscale_log_std,
            "level_loc": self.level_loc,
            "level_scale": self.level_scale,
            "max_chance": self.max_chance,
            "time_scales": list(self.time_scales),
            "order": "freeze-thaw search history; queries are all later observations",
        }


def reflect_into_unit(values: torch.Tensor) -> torch.Tensor:
    """Values reflected at 0 and 1 into [0, 1] (a bounded metric's noisy observations, with no point masses at
    the bounds that would collapse the output bins)."""
    return (1 - (1 - values.abs()).abs()).clamp(0, 1)


def curve_values(task: dict[str, torch.Tensor], runs: dict[str, torch.Tensor], t: torch.Tensor) -> torch.Tensor:
    """Noise-free values at epochs ``t`` (float64), for the task parameters ``task`` (each (B,), "weights"
    (B, 3)) and run parameters ``runs`` (each broadcastable with ``t``, whose first dimension is B)."""
    ndim = max(t.ndim, *(v.ndim for v in runs.values()))

    def per_task(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(v.shape[0], *([1] * (ndim - 1)))

    declines = runs["declines"]
    peak = runs["peak"]
    t_eff = torch.where(declines, torch.minimum(t, peak), t)  # a declining run stops learning at its peak
    u = (t_eff / runs["tau"]).clamp_min(1e-300)
    w = task["weights"]
    progress = (
        per_task(w[:, 0]) * -torch.expm1(-(u ** per_task(task["delta_exp"])))  # saturating (janoschek, weibull)
        + per_task(w[:, 1]) * (1 - (1 + u) ** -per_task(task["alpha"]))  # power law (pow3, pow4)
        + per_task(w[:, 2]) * torch.sigmoid(per_task(task["delta_hill"]) * u.log())  # hill (mmf)
    )
    share = per_task(task["share"])
    progress = progress * (1 - share + share * torch.sigmoid(t_eff - per_task(task["jump_at"])))
    after = (t - peak).clamp_min(0)
    lost = per_task(task["drop"]) * -torch.expm1(-after / per_task(task["drop_time"]))
    factor = torch.where(declines, 1 - lost, torch.ones_like(lost))
    chance = per_task(task["chance"])
    values = chance + (runs["y_inf"] - chance) * progress * factor
    dead = runs["diverges"] & (t >= runs["divergence_epoch"])
    return torch.where(dead, chance.expand_as(values), values)
