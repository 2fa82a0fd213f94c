"""Compare a PFN's posterior predictive with the exact GP posterior on held-out prior datasets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from pfn.inference.predictor import Predictor
from priors.gp import GPPrior


@dataclass(frozen=True)
class ContextSizeResult:
    """Mean NLL per query point at one context size, with the standard error of the gap."""

    num_context: int
    pfn_nll: float
    exact_nll: float
    gap_stderr: float

    @property
    def gap(self) -> float:
        return self.pfn_nll - self.exact_nll


def compare_with_exact_gp(
    predictor: Predictor,
    prior: GPPrior,
    context_sizes: Sequence[int],
    num_datasets: int = 256,
    num_queries: int = 50,
    seed: int = 1234,
) -> list[ContextSizeResult]:
    """Mean NLL of held-out targets under the PFN and under the exact GP, per context size.

    For each context size n, draws ``num_datasets`` datasets of n + ``num_queries`` points
    from ``prior`` (seeded, so every call sees the same data), conditions both models on
    the first n points and scores the rest. The gap's standard error is over datasets.
    """
    results = []
    d = predictor.num_features
    for n in context_sizes:
        gen = torch.Generator().manual_seed(seed + n)
        batch = prior.sample(num_datasets, n + num_queries, d, gen)
        x_ctx, y_ctx, x_qry, y_qry = batch.x[:, :n], batch.y[:, :n], batch.x[:, n:], batch.y[:, n:]
        pfn_nll = -predictor.predict(x_ctx, y_ctx, x_qry).log_prob(y_qry).double()  # (B, m)
        exact_nll = -prior.posterior_predictive(x_ctx, y_ctx, x_qry).log_prob(y_qry)  # (B, m)
        gap_per_dataset = (pfn_nll - exact_nll).mean(1)
        results.append(
            ContextSizeResult(
                num_context=n,
                pfn_nll=pfn_nll.mean().item(),
                exact_nll=exact_nll.mean().item(),
                gap_stderr=(gap_per_dataset.std() / num_datasets**0.5).item(),
            )
        )
    return results


def format_table(results: Sequence[ContextSizeResult]) -> str:
    """Markdown table of the comparison, with the mean over context sizes as the last row."""
    lines = [
        "| context size | PFN NLL | exact GP NLL | gap (nats) |",
        "|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.num_context} | {r.pfn_nll:.4f} | {r.exact_nll:.4f} | {r.gap:+.4f} ± {r.gap_stderr:.4f} |")
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    lines.append(
        f"| mean | {mean([r.pfn_nll for r in results]):.4f} | {mean([r.exact_nll for r in results]):.4f} "
        f"| {mean([r.gap for r in results]):+.4f} |"
    )
    return "\n".join(lines)
