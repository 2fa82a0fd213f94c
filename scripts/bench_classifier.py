"""PFNClassifier fit + predict time on one CPU thread: 500 training and 1000 test points.

    python scripts/bench_classifier.py                    # the shipped bnn-classifier
    python scripts/bench_classifier.py --model outputs/bnn_classifier/model.safetensors

Tables of 2, 10 and 30 columns (30: more than the model takes, so reduced to principal components, the
default) and 2 or 10 classes; median of 9 repeats after one warm-up (the model is loaded once, outside the timing).
Writes docs/results/bench_classifier.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from results import write_results

from pfn.sklearn import PFNClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bnn-classifier")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    lines = ["| columns | classes | members | fit + predict, median ms |", "|---:|---:|---:|---:|"]
    for d, k in ((2, 2), (10, 2), (10, 10), (30, 2)):
        X = rng.normal(size=(1500, d))
        y = np.digitize(X[:, 0] + 0.5 * X[:, 1], np.quantile(X[:, 0], np.linspace(0, 1, k + 1)[1:-1]))
        clf = PFNClassifier(model=args.model, random_state=0)
        clf.fit(X[:500], y[:500]).predict_proba(X[500:])  # warm-up (and the model's one load)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            clf.fit(X[:500], y[:500]).predict_proba(X[500:])
            times.append(time.perf_counter() - start)
        ms = 1e3 * statistics.median(times)
        lines.append(f"| {d} | {k} | {len(clf.class_codes_)} | {ms:.1f} |")
        print(lines[-1], flush=True)
    intro = f"Model `{args.model}`; 500 training and 1000 test points."
    write_results("bench_classifier", intro + "\n\n" + "\n".join(lines), threads=1)


if __name__ == "__main__":
    main()
