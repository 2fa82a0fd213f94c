"""Peak memory (resident set size) of predicting many queries, against the number of queries.

    python scripts/bench_memory.py [--model gp] [--queries 10000 100000 1000000] [--context 20]

Each measurement runs in a fresh subprocess (so peaks do not carry over) that loads the model,
predicts at m query points and asks for the mean, the standard deviation and the 5% and 95%
quantiles; the parent reads the child's peak RSS from ``resource.getrusage(RUSAGE_CHILDREN)``
(tracemalloc does not see torch's allocations). The first row, m = 0, is the cost of Python, torch
and the model alone. ``--limit-gb`` caps each child's address space, so a run that would need more
fails with ``MemoryError`` instead of starving the machine. A benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from results import write_results

CHILD = """
import json, sys, time, resource
import numpy as np, torch
torch.set_num_threads({threads})
limit = {limit}
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import pfn
predictor = pfn.load({model!r})
rng = np.random.default_rng(0)
d = predictor.min_features
x, y = rng.random(({context}, d)), rng.normal(size={context})
q = rng.random(({queries}, d))
start = time.perf_counter()
status = "ok"
try:
    if {queries}:
        pred = predictor.predict(x, y, q)
        checksum = float(pred.mean.sum() + pred.std.sum() + pred.quantile([0.05, 0.95]).sum())
except MemoryError as err:
    status = "MemoryError: " + str(err)[:120]
print(json.dumps({{"seconds": time.perf_counter() - start, "status": status}}))
"""


def measure(model: str, queries: int, context: int, threads: int, limit_gb: float) -> dict:
    """Run one prediction in a child process; its peak RSS (MiB), wall time and status."""
    limit = int(limit_gb * 2**30) if limit_gb else 0
    code = CHILD.format(model=model, queries=queries, context=context, threads=threads, limit=limit)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far (KiB on Linux)
    if done.returncode != 0:
        return {"peak_mib": peak_kib / 1024, "seconds": wall, "status": f"exit {done.returncode}: {done.stderr[-200:]}"}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if peak_kib <= before:  # an earlier child peaked higher: this one's peak is not visible; say so
        out["status"] += f" (peak at most {before / 1024:.0f} MiB, hidden by an earlier run)"
    return {"peak_mib": peak_kib / 1024, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gp", help="shipped model name or checkpoint path")
    parser.add_argument("--queries", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--context", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit-gb", type=float, default=8.0, help="address-space cap per child (0: none)")
    args = parser.parse_args()
    lines = [f"Model `{args.model}`, {args.context} context points; statistics: mean, std, 5%/95% quantiles; "
             "peak resident memory of a fresh process per row.", "",
             "| queries | peak RSS (MiB) | predict + statistics (s) | status |", "|---:|---:|---:|---|"]  # fmt: skip
    print("\n".join(lines))
    # increasing m: RUSAGE_CHILDREN keeps the largest child's peak, so each row sees its own
    for m in [0, *sorted(args.queries)]:
        r = measure(args.model, m, args.context, args.threads, args.limit_gb)
        lines.append(f"| {m} | {r['peak_mib']:.0f} | {r['seconds']:.1f} | {r['status']} |")
        print(lines[-1], flush=True)
    write_results("bench_memory", "\n".join(lines), threads=args.threads)


if __name__ == "__main__":
    main()
