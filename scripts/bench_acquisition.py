"""How well, and how fast, the acquisition search finds the highest log expected improvement.

    python scripts/bench_acquisition.py [--model bo] [--settings 512x8x6 1024x4x25:adam ...] [--repeats 6]

States: Bayesian-optimisation histories of the test functions of scripts/bo_functions.py (Branin, Hartmann 6-D,
Ackley 5-D, Levy 6-D, Rosenbrock 4-D, Styblinski-Tang 8-D), 10 uniform random points then ``pfn.bo.suggest``
with its defaults, taken at 25 and 49 observations, two seeds each (24 states), minimised with the power warp as
PFNSampler does by default. Each search setting ``CANDIDATESxSTARTSxSTEPS[:adam]`` maximises the log-EI of every state
``--repeats`` times with different seeds: ``pfn.bo.maximize_acquisition`` (the local ascent with adaptive step
lengths), or, with ``:adam``, the same random candidates followed by projected Adam steps at a fixed rate of 0.05
(the best iterate of each start kept), a baseline. The gap of a search is the best log-EI any setting found on
that state minus the one it found (nats, 0 is best); the table gives its median, mean and 90th percentile over
states and repeats, the share of searches within 0.01 nats of the best, and the median milliseconds per search
(the state's conditioning excluded; 1 thread). Written to docs/results/bench_acquisition.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from bo_functions import get
from results import write_results

import pfn
from pfn.bo import acquisition as acq_search
from pfn.inference import ConditionedPredictor

FUNCTIONS = ("branin2", "hartmann6", "ackley5", "levy6", "rosenbrock4", "styblinskitang8")
SNAPSHOTS = (25, 49)
DEFAULT_SETTINGS = ("1024x4x25:adam", "512x8x6:adam", "512x8x6", "384x8x5", "512x16x10", "1024x16x20")


def histories(predictor: pfn.Predictor, seeds: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, x in the unit cube, y) at each snapshot of a suggest loop on each function and seed."""
    states = []
    for name in FUNCTIONS:
        f = get(name)
        for seed in range(seeds):
            g = torch.Generator().manual_seed(seed)
            x = torch.rand(10, f.dim, dtype=torch.float64, generator=g)
            y = torch.as_tensor(f(f.lower + x.numpy() * (f.upper - f.lower)))
            while len(y) <= max(SNAPSHOTS):
                if len(y) in SNAPSHOTS:
                    states.append((name, x.clone(), y.clone()))
                x_new = acq_search.suggest(predictor, x, y, maximize=False, generator=g)
                y_new = torch.as_tensor(f(f.lower + x_new.numpy() * (f.upper - f.lower)))
                x, y = torch.cat([x, x_new]), torch.cat([y, y_new])
    return states


def adam_search(
    conditioned: ConditionedPredictor, acquisition: acq_search.Acquisition, n_candidates: int, n_starts: int,
    steps: int, anchors: torch.Tensor, generator: torch.Generator, lr: float = 0.05,
) -> float:  # fmt: skip
    """The baseline: the same candidates, then Adam at a fixed rate from the best ``n_starts``, clamped to the cube."""
    x, _ = acq_search.best_candidates(conditioned, acquisition, n_candidates, n_starts, anchors, generator)
    x.requires_grad_(True)
    best = torch.full((n_starts,), -torch.inf, dtype=torch.float64)
    optimizer = torch.optim.Adam([x], lr=lr)
    for step in range(steps + 1):
        value = torch.as_tensor(acquisition(conditioned.predict(x, differentiable=True)))
        best = torch.maximum(best, value.detach().nan_to_num(nan=-torch.inf))
        if step == steps:
            break
        optimizer.zero_grad()
        (-value.sum()).backward()
        assert x.grad is not None
        x.grad.nan_to_num_(0.0, 0.0, 0.0)
        optimizer.step()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
    return float(best.max())


def parse(setting: str) -> tuple[int, int, int, str]:
    effort, _, method = setting.partition(":")
    n_candidates, n_starts, steps = (int(v) for v in effort.split("x"))
    if method not in ("", "adam"):
        raise ValueError(f"unknown search {method!r} in {setting!r}: leave it out or write :adam")
    return n_candidates, n_starts, steps, method or "local"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bo")
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS))
    parser.add_argument("--seeds", type=int, default=2, help="histories per function")
    parser.add_argument("--repeats", type=int, default=6, help="searches per state and setting")
    parser.add_argument("--results-name", default="bench_acquisition")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = pfn.load(args.model)
    settings = {s: parse(s) for s in args.settings}
    states = histories(predictor, args.seeds)
    gaps: dict[str, list[float]] = {s: [] for s in settings}
    millis: dict[str, list[float]] = {s: [] for s in settings}
    for i, (name, x, y) in enumerate(states):
        yw = acq_search.warp_outputs(y, acq_search.DEFAULT_OUTPUT_WARP)
        conditioned = predictor.condition(x, yw)
        best = float(yw.min())

        def acquisition(p: pfn.PosteriorPredictive, best: float = best) -> torch.Tensor:
            return torch.as_tensor(p.log_expected_improvement(best, maximize=False))

        anchors = x[yw.argsort()[:5]]
        found: dict[str, list[float]] = {}
        for s, (n_candidates, n_starts, steps, method) in settings.items():
            found[s] = []
            for r in range(args.repeats):
                g = torch.Generator().manual_seed(1000 + r)
                start = time.perf_counter()
                if method == "adam":
                    value = adam_search(conditioned, acquisition, n_candidates, n_starts, steps, anchors, g)
                else:
                    value = acq_search.maximize_acquisition(
                        conditioned, acquisition, n_candidates=n_candidates, n_starts=n_starts, steps=steps,
                        anchors=anchors, generator=g,
                    )[1]  # fmt: skip
                millis[s].append(1e3 * (time.perf_counter() - start))
                found[s].append(value)
        reference = max(max(v) for v in found.values())
        for s, values in found.items():
            gaps[s].extend(reference - v for v in values)
        print(f"[{i + 1}/{len(states)}] {name} with {len(y)} observations", flush=True)

    rows = [
        "| search | candidates | starts | steps | median gap | mean gap | 90th percentile | within 0.01 "
        "| ms per search |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, (n_candidates, n_starts, steps, method) in settings.items():
        g = np.array(gaps[s])
        label = "Adam, fixed rate 0.05" if method == "adam" else "local ascent, adaptive steps"
        rows.append(
            f"| {label} | {n_candidates} | {n_starts} | {steps} | {np.median(g):.4f} | {g.mean():.4f} | "
            f"{np.quantile(g, 0.9):.3f} | {np.mean(g < 0.01):.2f} | {statistics.median(millis[s]):.1f} |"
        )
    defaults = f"{acq_search.N_CANDIDATES}x{acq_search.N_STARTS}x{acq_search.STEPS}"
    notes = (
        f"Model `{args.model}`; {len(states)} states ({', '.join(FUNCTIONS)}, at {' and '.join(map(str, SNAPSHOTS))} "
        f"observations, {args.seeds} seeds each), {args.repeats} searches per state and setting. Gap: the best "
        f"log-EI found on the state by any setting minus the search's (nats; 0 is best). The default search is "
        f"{defaults}."
    )
    write_results(args.results_name, notes + "\n\n" + "\n".join(rows), threads=1)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
