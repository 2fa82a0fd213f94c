"""The main job: train a 1-D GP-PFN on the CPU, load it, and compare it with the exact GP posterior.

    python scripts/demo.py [--steps 1200] [--out outputs/demo]

Runs `pfn train experiment=gp_1d ...`, loads the exported checkpoint with `pfn.load`,
prints the mean NLL of PFN and exact GP on held-out prior datasets per context size,
and writes a PNG of both predictive bands.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from results import write_results

import pfn
from pfn.evaluation.evaluate import evaluate
from priors import GPPrior

CONTEXT_SIZES = [0, 1, 2, 5, 10, 20, 30, 50, 75, 100]


def gp_1d_prior() -> GPPrior:
    """The prior the demo trains on, built from the same Hydra config as training."""
    from pfn.configs import experiment_prior

    return experiment_prior("gp_1d")


def plot_bands(predictor: pfn.Predictor, prior: GPPrior, path: Path, seed: int = 0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pfn.plotting import plot_predictive

    x_grid = np.linspace(0, 1, 300)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
    for ax, n in zip(axes, (3, 10, 40), strict=True):
        batch = prior.sample(1, n, 1, torch.Generator().manual_seed(seed + n))
        plot_predictive(predictor, batch.x[0, :, 0].numpy(), batch.y[0].numpy(), x_grid, levels=(0.9,), ax=ax)
        exact = prior.posterior_predictive(batch.x, batch.y, torch.tensor(x_grid, dtype=torch.float32).view(1, -1, 1))
        mean, sd = exact.mean[0].numpy(), exact.variance[0].sqrt().numpy()
        ax.plot(x_grid, mean - 1.6449 * sd, "k--", lw=1, label="exact GP 90%")
        ax.plot(x_grid, mean + 1.6449 * sd, "k--", lw=1)
        ax.plot(x_grid, mean, "k:", lw=1, label="exact GP mean")
        ax.set_title(f"{n} context points")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1200, help="training steps (about 6 per second on 2 cores)")
    parser.add_argument("--name", default="demo", help="run name: outputs/<name>")
    parser.add_argument("--datasets", type=int, default=512, help="held-out datasets per context size")
    args = parser.parse_args()

    command = ["pfn", "train", "experiment=gp_1d", f"trainer.max_steps={args.steps}", f"name={args.name}",
               "overwrite=true", "trainer.enable_progress_bar=false"]  # fmt: skip
    print("$", shlex.join(command), flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pfn.cli", *command[1:]], check=True)
    minutes = (time.perf_counter() - start) / 60

    path = Path("outputs") / args.name / "model.safetensors"
    predictor = pfn.load(path)
    prior = gp_1d_prior()
    report = evaluate(predictor, prior, CONTEXT_SIZES, num_datasets=args.datasets)
    text = (
        f"Trained {args.steps} steps in {minutes:.1f} min (including start-up). Mean NLL per held-out point "
        f"(± standard error over datasets), {args.datasets} prior datasets x 50 held-out points per context size, "
        f"and the coverage of central intervals:\n\n{report.to_markdown()}"
    )
    print(f"\ncheckpoint {path}\n{text}")
    write_results("demo", text, threads=torch.get_num_threads())
    png = path.with_name("bands.png")
    plot_bands(predictor, prior, png)
    print(f"\nPredictive bands, PFN vs exact GP: {png}")


if __name__ == "__main__":
    main()
