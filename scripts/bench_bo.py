"""Bayesian optimisation on standard test functions: pfn's PFNSampler against random search, TPE, Optuna's
GPSampler and a BoTorch loop.

    python scripts/bench_bo.py [--functions ...] [--samplers ...] [--seeds 16] [--trials 50] [--model bo] [--jobs 2]
    python scripts/bench_bo.py --report-only       # the tables and the figure from the stored runs only
    python scripts/bench_bo.py --suggest-times     # seconds per suggest with 50 and 200 observations

Functions (scripts/bo_functions.py, all minimised): by default Branin (2-D), Hartmann 3-D and 6-D, Ackley 5-D,
Levy 6-D, Rosenbrock 4-D and Styblinski-Tang 8-D. Samplers:

- random: Optuna's RandomSampler; tpe: Optuna's TPESampler (default settings); gp: Optuna's GPSampler;
- botorch: a BoTorch loop, SingleTaskGP (default priors, inputs scaled to [0, 1]^d, outcomes standardised)
  fitted by fit_gpytorch_mll, LogExpectedImprovement maximised by optimize_acqf (8 restarts, 512 raw samples);
- pfn: pfn.bo.PFNSampler with the model ``--model`` (a shipped model's name or a checkpoint path) and the output
  warp ``--output-warp`` (default: PFNSampler's).

Every run starts with the same 10 uniform random points for a given seed (enqueued into the Optuna study, or
evaluated first by the BoTorch loop), whatever the sampler; the later trials are the sampler's own. All samplers
are seeded with the run's seed.

Each (function, sampler, seed) run is stored as JSON under ``--out`` (default outputs/bench_bo/): the best value
so far after every trial and the wall seconds of every suggest after the startup points (asking the trial and
suggesting its parameters, or the BoTorch fit and acquisition optimisation). A stored run is reused, so the
benchmark can be stopped, resumed in another session, or split over processes (``--jobs N``, or several
invocations with different ``--functions``). PFN runs are stored under the model's file name and the start of its
SHA-256, then of the sources of PFNSampler and its acquisition search, its output warp, its search effort and
``-global`` with ``--global-only`` (``PFNSampler(local=False)``: no local suggestions), so
a retrained model or a changed search is run afresh. The report (docs/results/bench_bo.md) gives the simple regret
(best value - known minimum) at 10, 25, 50 and ``--trials`` trials, the mean rank of each sampler, PFNSampler's
paired win rates and one-sided Wilcoxon signed-rank p-values against each other sampler, and the median seconds
per suggest; docs/results/bench_bo.png plots median regret with interquartile bands.

``--suggest-times`` times GPSampler and PFNSampler (or ``--samplers``) on studies holding 50 and 200 completed random
observations of Hartmann 6-D (or ``--functions``): the first suggest of a fresh sampler, and the next one once that
point is observed (where a sampler may warm-start from its previous fit, as in a BO loop); medians of ``--repeats``
studies, written to docs/results/bench_bo_suggest.md.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import multiprocessing
import os
import statistics
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import torch
from bo_functions import DEFAULT, TestFunction, get
from results import RESULTS_DIR, ROOT, write_results

from pfn.bo.acquisition import (
    DEFAULT_OUTPUT_WARP,
    LOCAL_CYCLE,
    LOCAL_NEIGHBOURS,
    N_CANDIDATES,
    N_STARTS,
    OUTPUT_WARPS,
    STEPS,
)

SAMPLERS = ("random", "tpe", "gp", "botorch", "pfn")
STARTUP = 10  # random startup trials, the same points for every sampler


@dataclass(frozen=True)
class Run:
    function: str
    sampler: str
    seed: int


@dataclass(frozen=True)
class Settings:
    out: Path
    trials: int
    model: str
    pfn_tag: str  # where PFN runs are stored: "pfn-<model>-<model sha>-<code sha>[-<output warp>]-<effort>[-global]"
    output_warp: str = DEFAULT_OUTPUT_WARP  # PFNSampler's output_warp
    effort: tuple[int, int, int] = (N_CANDIDATES, N_STARTS, STEPS)  # PFNSampler's candidates, starts, steps
    local: bool = True  # PFNSampler's local
    jobs: int = 1  # runs in parallel, which slows each one down on a small machine


# ---------------------------------------------------------------------------------------------------------------
# running


def model_tag(model: str, dim: int) -> str:
    """Where PFNSampler's runs with ``model`` are stored; checks the model takes ``dim`` features."""
    import pfn
    from pfn.pretrained import resolve

    path = resolve(model)
    features = pfn.load(path).num_features
    if features < dim:
        raise ValueError(f"the model {model} takes at most {features} features, a function here has {dim}")
    return f"pfn-{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}"


def search_code_tag() -> str:
    """The start of the SHA-256 of PFNSampler's and its acquisition search's sources: runs made by other code
    are not reused."""
    from pfn.bo import acquisition, optuna_sampler

    sources = b"".join(Path(module.__file__).read_bytes() for module in (acquisition, optuna_sampler))
    return hashlib.sha256(sources).hexdigest()[:8]


def run_path(run: Run, settings: Settings) -> Path:
    folder = settings.pfn_tag if run.sampler == "pfn" else run.sampler
    return settings.out / run.function / folder / f"seed{run.seed:03d}.json"


def load_run(run: Run, settings: Settings) -> dict | None:
    """The stored run, cut to ``settings.trials`` trials; None if there is none with that many."""
    path = run_path(run, settings)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data["trials"] < settings.trials:
        return None
    data["best"] = data["best"][: settings.trials]
    data["suggest_seconds"] = data["suggest_seconds"][: max(settings.trials - STARTUP, 0)]
    return data


def startup_points(f: TestFunction, seed: int) -> np.ndarray:
    """The first STARTUP points of every run with this seed, uniform in the domain."""
    return f.lower + (f.upper - f.lower) * np.random.default_rng(seed).random((STARTUP, f.dim))


def make_sampler(name: str, seed: int, settings: Settings) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP)
    if name == "pfn":
        from pfn.bo import PFNSampler

        n_candidates, n_starts, steps = settings.effort
        return PFNSampler(
            model=settings.model, n_startup_trials=STARTUP, seed=seed, output_warp=settings.output_warp,
            n_candidates=n_candidates, n_starts=n_starts, steps=steps, local=settings.local,
        )  # fmt: skip
    raise ValueError(f"{name} is not an Optuna sampler")


def ask(study: optuna.Study, f: TestFunction) -> tuple[optuna.Trial, list[float], float]:
    """A new trial, its point and the seconds the sampler took to suggest it."""
    start = time.perf_counter()
    trial = study.ask()
    x = [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(zip(f.lower, f.upper, strict=True))]
    return trial, x, time.perf_counter() - start


def run_optuna(f: TestFunction, sampler: optuna.samplers.BaseSampler, seed: int, trials: int) -> tuple[list, list]:
    """Values of every trial and seconds of every suggest after the startup points."""
    study = optuna.create_study(sampler=sampler)
    for x in startup_points(f, seed)[:trials]:
        study.enqueue_trial({f"x{i}": float(v) for i, v in enumerate(x)})
    values, seconds = [], []
    for i in range(trials):
        trial, x, elapsed = ask(study, f)
        values.append(float(f(x)))
        study.tell(trial, values[-1])
        if i >= STARTUP:
            seconds.append(elapsed)
    return values, seconds


def botorch_suggest(x_unit: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The next point in [0, 1]^d: LogEI of a SingleTaskGP fitted to the observations, maximised by optimize_acqf."""
    from botorch.acquisition import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    train_x = torch.as_tensor(x_unit, dtype=torch.double)
    train_y = torch.as_tensor(y, dtype=torch.double).unsqueeze(-1)
    model = SingleTaskGP(train_x, train_y)  # standardises the outcomes by default
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    acquisition = LogExpectedImprovement(model, best_f=train_y.min(), maximize=False)
    bounds = torch.stack([torch.zeros(x_unit.shape[1]), torch.ones(x_unit.shape[1])]).double()
    candidate, _ = optimize_acqf(acquisition, bounds=bounds, q=1, num_restarts=8, raw_samples=512)
    return candidate.squeeze(0).numpy()


def run_botorch(f: TestFunction, seed: int, trials: int) -> tuple[list, list]:
    torch.manual_seed(seed)
    width = f.upper - f.lower
    x_unit = list((startup_points(f, seed) - f.lower) / width)[:trials]
    values = [float(f(f.lower + u * width)) for u in x_unit]
    seconds = []
    while len(values) < trials:
        start = time.perf_counter()
        u = botorch_suggest(np.array(x_unit), np.array(values))
        seconds.append(time.perf_counter() - start)
        x_unit.append(u)
        values.append(float(f(f.lower + u * width)))
    return values, seconds


def execute(run: Run, settings: Settings) -> str:
    """Run one (function, sampler, seed), store it, and say how it went."""
    f = get(run.function)
    start = time.perf_counter()
    if run.sampler == "botorch":
        values, seconds = run_botorch(f, run.seed, settings.trials)
    else:
        sampler = make_sampler(run.sampler, run.seed, settings)
        values, seconds = run_optuna(f, sampler, run.seed, settings.trials)
    wall = time.perf_counter() - start
    best = np.minimum.accumulate(values).tolist()
    record = {**run.__dict__, "trials": settings.trials, "best": best, "suggest_seconds": seconds,
              "wall_seconds": wall, "jobs": settings.jobs}  # fmt: skip
    if run.sampler == "pfn":
        record["model"] = settings.pfn_tag
    path = run_path(run, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")  # written whole, then renamed: readers never see half
    partial.write_text(json.dumps(record))
    partial.replace(path)
    return (f"{run.function} {run.sampler} seed {run.seed}: regret {best[-1] - f.minimum:.3g}, {wall:.1f} s "
            f"({statistics.median(seconds) if seconds else 0:.3f} s per suggest)")  # fmt: skip


def quiet(threads: int) -> None:
    """Per process: torch threads, and no per-trial logging or library warnings in the output."""
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", module=r"(optuna|botorch|gpytorch|linear_operator)\b")


def execute_all(runs: list[Run], settings: Settings, threads: int) -> list[str]:
    """Run what is not stored yet; return the runs that failed, with their errors (the others are stored)."""
    pending = [run for run in runs if load_run(run, settings) is None]
    print(f"{len(runs) - len(pending)} of {len(runs)} runs stored in {settings.out}, {len(pending)} to run", flush=True)
    failed = []

    def announce(i: int, run: Run, outcome: Callable[[], str]) -> None:
        try:
            print(f"[{i}/{len(pending)}] {outcome()}", flush=True)
        except Exception as error:  # one failed run does not stop the others; it is run again next time
            failed.append(f"{run.function} {run.sampler} seed {run.seed}: {type(error).__name__}: {error}")
            print(f"[{i}/{len(pending)}] failed: {failed[-1]}", flush=True)

    if settings.jobs == 1:
        for i, run in enumerate(pending, 1):
            announce(i, run, lambda run=run: execute(run, settings))
        return failed
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(settings.jobs, mp_context=context, initializer=quiet, initargs=(threads,)) as pool:
        futures = {pool.submit(execute, run, settings): run for run in pending}
        for i, future in enumerate(as_completed(futures), 1):
            announce(i, futures[future], future.result)
    return failed


# ---------------------------------------------------------------------------------------------------------------
# report


def regrets(runs: dict[str, list[dict]], f: TestFunction) -> dict[str, np.ndarray]:
    """Per sampler, simple regret of (seed, trial)."""
    return {s: np.array([r["best"] for r in rs]) - f.minimum for s, rs in runs.items()}


def checkpoints(trials: int) -> list[int]:
    return [t for t in (STARTUP, 25, 50) if t < trials] + [trials]


def quartiles(values: np.ndarray) -> str:
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return f"{median:.3g} ({q1:.3g}–{q3:.3g})"


def regret_table(data: dict[str, dict[str, list[dict]]], trials: int) -> list[str]:
    marks = checkpoints(trials)
    lines = ["| function | sampler | " + " | ".join(f"regret after {t}" for t in marks) + " |",
             "|---|---|" + "---:|" * len(marks)]  # fmt: skip
    for name, runs in data.items():
        r = regrets(runs, get(name))
        best = min(np.median(v[:, -1]) for v in r.values())
        for sampler, v in r.items():
            cells = [quartiles(v[:, t - 1]) for t in marks]
            if np.median(v[:, -1]) == best:
                cells[-1] = f"**{cells[-1]}**"
            lines.append(f"| {name} | {sampler} | " + " | ".join(cells) + " |")
    return lines


def final_regrets(runs: dict[str, list[dict]], f: TestFunction) -> dict[str, np.ndarray]:
    return {s: v[:, -1] for s, v in regrets(runs, f).items()}


def rank_table(data: dict[str, dict[str, list[dict]]], samplers: list[str]) -> list[str]:
    from scipy.stats import rankdata

    means = {}
    for name, runs in data.items():
        final = np.stack([final_regrets(runs, get(name))[s] for s in samplers], axis=1)  # (seed, sampler)
        means[name] = rankdata(final, axis=1).mean(0)
    lines = ["| sampler | " + " | ".join(means) + " | mean |", "|---|" + "---:|" * (len(means) + 1)]
    for i, sampler in enumerate(samplers):
        row = [m[i] for m in means.values()]
        lines.append(f"| {sampler} | " + " | ".join(f"{v:.2f}" for v in row) + f" | **{np.mean(row):.2f}** |")
    return lines


def one_sided_p(pfn: np.ndarray, other: np.ndarray) -> float:
    """Wilcoxon signed-rank p-value for "PFNSampler's regret is lower", NaN when every pair ties."""
    from scipy.stats import wilcoxon

    if np.all(pfn == other):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wilcoxon(pfn, other, alternative="less").pvalue)


def win_rate(pfn: np.ndarray, other: np.ndarray) -> float:
    return float(np.mean((pfn < other) + 0.5 * (pfn == other)))


def pfn_table(data: dict[str, dict[str, list[dict]]], samplers: list[str]) -> list[str]:
    others = [s for s in samplers if s != "pfn"]
    lines = ["| function | " + " | ".join(f"vs {s}: wins (p)" for s in others) + " |",
             "|---|" + "---:|" * len(others)]  # fmt: skip
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {s: [] for s in others}
    beats_random = []
    for name, runs in data.items():
        final = final_regrets(runs, get(name))
        cells = []
        for s in others:
            pairs[s].append((final["pfn"], final[s]))
            p = one_sided_p(final["pfn"], final[s])
            cells.append(f"{win_rate(final['pfn'], final[s]):.0%} ({p:.2g})")
            if s == "random" and p < 0.05:
                beats_random.append(name)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    overall = [win_rate(np.concatenate([a for a, _ in pairs[s]]), np.concatenate([b for _, b in pairs[s]]))
               for s in others]  # fmt: skip
    lines.append("| all (function, seed) pairs | " + " | ".join(f"**{w:.0%}**" for w in overall) + " |")
    if "random" in others:
        on = ", ".join(beats_random) if beats_random else "none"
        lines += ["", f"PFNSampler beats random at p < 0.05 on {len(beats_random)} of {len(data)} functions: {on}."]
    return lines


def seconds_table(data: dict[str, dict[str, list[dict]]], samplers: list[str]) -> list[str]:
    lines = ["| sampler | " + " | ".join(data) + " | all |", "|---|" + "---:|" * (len(data) + 1)]
    for s in samplers:
        per_function = [[t for r in runs[s] for t in r["suggest_seconds"]] for runs in data.values()]
        cells = [statistics.median(v) if v else float("nan") for v in [*per_function, sum(per_function, [])]]
        lines.append(f"| {s} | " + " | ".join(f"{c:.3g}" for c in cells) + " |")
    return lines


def collect(functions: list[str], samplers: list[str], seeds: int, settings: Settings) -> tuple[dict, list[str]]:
    """Stored runs as data[function][sampler] = runs over the seeds stored for every sampler; notes on gaps."""
    data, notes = {}, []
    for name in functions:
        stored = {s: {seed: load_run(Run(name, s, seed), settings) for seed in range(seeds)} for s in samplers}
        complete = [seed for seed in range(seeds) if all(stored[s][seed] is not None for s in samplers)]
        if len(complete) < seeds:
            notes.append(f"{name}: {len(complete)} of {seeds} seeds stored for every sampler")
        if complete:
            data[name] = {s: [stored[s][seed] for seed in complete] for s in samplers}
    return data, notes


DESCRIPTIONS = {
    "random": "Optuna's RandomSampler",
    "tpe": "Optuna's TPESampler",
    "gp": "Optuna's GPSampler",
    "botorch": "BoTorch's SingleTaskGP and LogExpectedImprovement",
    "pfn": "pfn's PFNSampler",
}


def setup_notes(samplers: list[str], settings: Settings) -> str:
    notes = "; ".join(f"{s}: {DESCRIPTIONS[s]}" for s in samplers) + "."
    if "pfn" in samplers:
        notes += (
            f" PFNSampler's model: `{settings.model}`, output warp `{settings.output_warp}`, acquisition search of "
            f"{settings.effort[0]} random candidates then {settings.effort[2]} local-ascent steps from each "
            f"of the best {settings.effort[1]}, "
            + (
                f"{LOCAL_CYCLE - 1} of every {LOCAL_CYCLE} suggestions local once more than {LOCAL_NEIGHBOURS} "
                "trials are done"
                if settings.local
                else "every suggestion global (`local=False`)"
            )
            + " (runs stored as "
            f"`{settings.pfn_tag}`)."
        )
    if "gp" in samplers and importlib.util.find_spec("greenlet") is None:
        notes += " Without the `greenlet` package, GPSampler optimises its acquisition function sequentially."
    return notes


def report(data: dict, samplers: list[str], settings: Settings, seeds: int) -> str:
    lines = [
        f"Minimisation, {settings.trials} trials per run ({STARTUP} uniform random startup points, the same for every "
        f"sampler, then the sampler's own), seeds 0–{seeds - 1}. {setup_notes(samplers, settings)}",
        "",
        "Simple regret (best value so far - known minimum), median (quartiles) over seeds; bold: lowest final median.",
        "",
        *regret_table(data, settings.trials),
        "",
        "Mean rank of each sampler's final regret among the samplers (1 = best; ties share ranks), averaged over "
        "seeds, then over functions:",
        "",
        *rank_table(data, samplers),
    ]
    if "pfn" in samplers and len(samplers) > 1:
        lines += ["", "PFNSampler against each sampler on final regret: the share of seeds where PFNSampler's regret "
                  "is lower (ties count half), and the one-sided Wilcoxon signed-rank p-value for PFNSampler's regret "
                  "being lower:", "", *pfn_table(data, samplers)]  # fmt: skip
    jobs = sorted({r.get("jobs", 1) for runs in data.values() for rs in runs.values() for r in rs})
    lines += ["", f"Median wall seconds per suggest after the {STARTUP} startup points (for the model-based samplers "
              "this includes fitting the model and optimising the acquisition function), with "
              f"{' or '.join(map(str, jobs))} run{'s' if jobs != [1] else ''} at a time on this machine:", "",
              *seconds_table(data, samplers)]  # fmt: skip
    return "\n".join(lines)


def plot(data: dict, samplers: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    cols = min(4, len(data))
    rows = -(-len(data) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, runs) in zip(axes.flat, data.items(), strict=False):
        for s, v in regrets(runs, get(name)).items():
            v = np.maximum(v, 1e-12)  # a log axis
            x = np.arange(1, v.shape[1] + 1)
            q1, median, q3 = np.quantile(v, [0.25, 0.5, 0.75], axis=0)
            ax.plot(x, median, label=s)
            ax.fill_between(x, q1, q3, alpha=0.2)
        ax.axvline(STARTUP, color="grey", lw=0.8, ls=":")
        ax.set(title=name, yscale="log", xlabel="trials", ylabel="simple regret")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes.flat[len(data) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize="small")
    fig.suptitle(f"median simple regret and interquartile range over seeds ({', '.join(samplers)})", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


# ---------------------------------------------------------------------------------------------------------------
# suggest times


def random_trials(f: TestFunction, n: int, seed: int) -> list[optuna.trial.FrozenTrial]:
    distributions = {f"x{i}": optuna.distributions.FloatDistribution(lo, hi) for i, (lo, hi) in
                     enumerate(zip(f.lower, f.upper, strict=True))}  # fmt: skip
    points = f.lower + (f.upper - f.lower) * np.random.default_rng(seed).random((n, f.dim))
    return [optuna.trial.create_trial(params={f"x{i}": float(v) for i, v in enumerate(x)},
                                      distributions=distributions, value=float(f(x))) for x in points]  # fmt: skip


def suggest_seconds(sampler: str, f: TestFunction, n: int, seed: int, settings: Settings) -> tuple[float, float]:
    """Seconds of the first suggest in a study holding ``n`` completed random observations, and of the next one
    once that point is observed (where a sampler may warm-start from its previous fit, as in a BO loop)."""
    trials = random_trials(f, n, seed)
    if sampler == "botorch":
        x_unit = np.array([[t.params[f"x{i}"] for i in range(f.dim)] for t in trials])
        x_unit, y = (x_unit - f.lower) / (f.upper - f.lower), np.array([t.value for t in trials])
        torch.manual_seed(seed)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            u = botorch_suggest(x_unit, y)
            times.append(time.perf_counter() - start)
            x_unit, y = np.vstack([x_unit, u]), np.append(y, f(f.lower + u * (f.upper - f.lower)))
        return times[0], times[1]
    study = optuna.create_study(sampler=make_sampler(sampler, seed, settings))
    study.add_trials(trials)
    trial, x, first = ask(study, f)
    study.tell(trial, float(f(x)))
    return first, ask(study, f)[2]


def suggest_times(functions: list[str], samplers: list[str], sizes: list[int], repeats: int, settings: Settings) -> str:
    ratio = {"gp", "pfn"} <= set(samplers)
    lines = [f"Wall seconds of a suggest with n completed observations (uniform random points) in the study: the "
             f"first (a fresh sampler) and the next, once that point is observed (n + 1 observations; a sampler may "
             f"warm-start from its previous fit, as in a BO loop); medians of {repeats} studies. "
             + ("PFNSampler's suggestion with k completed trials is local when k > 20 and k is not a multiple "
                "of 3, global otherwise. " if "pfn" in samplers and settings.local else "")
             + f"{setup_notes(samplers, settings)}", "",
             "| function | n | " + " | ".join(f"{s}: first / next" for s in samplers)
             + (" | gp / pfn: first / next |" if ratio else " |"),
             "|---|---:|" + "---:|" * (len(samplers) + ratio)]  # fmt: skip
    for s in samplers:  # imports and first-call costs, untimed
        suggest_seconds(s, get(functions[0]), min(sizes), repeats, settings)
    for name in functions:
        for n in sizes:
            times = {}
            for s in samplers:
                pairs = [suggest_seconds(s, get(name), n, r, settings) for r in range(repeats)]
                times[s] = [statistics.median(p[i] for p in pairs) for i in range(2)]
            cells = [f"{times[s][0]:.3g} / {times[s][1]:.3g}" for s in samplers]
            if ratio:
                cells.append(" / ".join(f"{g / p:.2f}x" for g, p in zip(times["gp"], times["pfn"], strict=True)))
            lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", nargs="+", help=f"default {' '.join(DEFAULT)}; with --suggest-times, hartmann6")
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, help="default all; with --suggest-times, gp pfn")
    parser.add_argument("--seeds", type=int, default=16, help="number of seeds: runs seeds 0 to N - 1")
    parser.add_argument("--trials", type=int, default=50, help=f"trials per run, the first {STARTUP} random")
    parser.add_argument("--model", default="bo", help="PFNSampler's model: a shipped model's name or a checkpoint")
    parser.add_argument(
        "--output-warp", default=DEFAULT_OUTPUT_WARP, choices=list(OUTPUT_WARPS), help="PFNSampler's output_warp"
    )
    parser.add_argument(
        "--effort",
        type=int,
        nargs=3,
        default=[N_CANDIDATES, N_STARTS, STEPS],
        metavar=("CANDIDATES", "STARTS", "STEPS"),
        help="PFNSampler's acquisition search: random candidates, local-ascent starts, steps per start",
    )
    parser.add_argument(
        "--global-only", action="store_true", help="PFNSampler(local=False): every suggestion searches the whole cube"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one process each")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench_bo", help="where runs are stored")
    parser.add_argument("--results-name", default="bench_bo", help="docs/results/NAME.md, NAME.png, NAME_suggest.md")
    parser.add_argument("--report-only", action="store_true", help="run nothing: report the stored runs")
    parser.add_argument("--suggest-times", action="store_true", help="time single suggests instead (see above)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200], help="--suggest-times: observations")
    parser.add_argument("--repeats", type=int, default=5, help="--suggest-times: studies per median")
    args = parser.parse_args()
    quiet(args.threads)
    suggest_mode = args.suggest_times
    functions = args.functions or (["hartmann6"] if suggest_mode else list(DEFAULT))
    samplers = args.samplers or (["gp", "pfn"] if suggest_mode else list(SAMPLERS))
    try:  # fail before anything runs
        dims = {name: get(name).dim for name in functions}
        tag = f"{model_tag(args.model, max(dims.values()))}-{search_code_tag()}" if "pfn" in samplers else ""
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if tag and args.output_warp != "none":
        tag += f"-{args.output_warp}"
    if tag:
        tag += "-" + "x".join(map(str, args.effort)) + ("-global" if args.global_only else "")
    effort = (args.effort[0], args.effort[1], args.effort[2])
    settings = Settings(
        args.out.resolve(), args.trials, args.model, tag, args.output_warp, effort, local=not args.global_only,
        jobs=args.jobs,
    )  # fmt: skip
    if suggest_mode:
        table = suggest_times(functions, samplers, args.sizes, args.repeats, settings)
        write_results(f"{args.results_name}_suggest", table, threads=args.threads)
        return
    runs = [Run(name, s, seed) for seed in range(args.seeds) for name in functions for s in samplers]
    failed = [] if args.report_only else execute_all(runs, settings, args.threads)
    data, notes = collect(functions, samplers, args.seeds, settings)
    if not data:
        raise SystemExit(f"no function has stored runs for every sampler in {settings.out}")
    body = report(data, samplers, settings, args.seeds)
    if notes:
        body += "\n\nIncomplete: " + "; ".join(notes) + "."
    print("\n" + body)
    write_results(args.results_name, body, threads=args.threads)
    plot(data, samplers, RESULTS_DIR / f"{args.results_name}.png")
    if failed:
        raise SystemExit(f"{len(failed)} runs failed (not stored, so a rerun tries them again):\n" + "\n".join(failed))


if __name__ == "__main__":
    main()
