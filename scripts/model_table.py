"""The table of shipped models for the docs, read from each checkpoint's header (no figure typed by hand).

    python scripts/model_table.py        # writes docs/results/models.md

For models with a reference posterior, each context size is classed by its NLL gap and standard
error: "better" when gap + 2 se < 0, "worse" when gap - 2 se > 0, otherwise indistinguishable.
"""

from __future__ import annotations

from results import write_results

from pfn.pretrained import list_pretrained


def _sizes(sizes: list[int]) -> str:
    return ", ".join(str(s) for s in sizes) if sizes else "none"


def gap_summary(evaluation: dict) -> str:
    """Where the model beats, matches or trails its reference, by context size."""
    rows = [r for r in evaluation.get("rows", []) if r.get("gap") is not None and r.get("gap_stderr") is not None]
    if "ece" in evaluation:  # a classifier
        return (
            f"no reference posterior (classifier: accuracy {evaluation['accuracy']:.3f}, ECE {evaluation['ece']:.3f})"
        )
    if not rows:
        return "no reference posterior"
    better = [r["num_context"] for r in rows if r["gap"] + 2 * r["gap_stderr"] < 0]
    worse = [r["num_context"] for r in rows if r["gap"] - 2 * r["gap_stderr"] > 0]
    same = [r["num_context"] for r in rows if r["num_context"] not in better + worse]
    reference = evaluation.get("reference", "reference")
    if reference == "exact GP" and "mean_gap_to_reference" in evaluation:
        reference += f" (mean gap {evaluation['mean_gap_to_reference']:+.4f} nats)"
    parts = [f"better at {_sizes(better)}" if better else "", f"worse at {_sizes(worse)}" if worse else "",
             f"indistinguishable at {_sizes(same)}" if same else ""]  # fmt: skip
    return f"vs {reference}: " + "; ".join(p for p in parts if p)


def coverage_summary(evaluation: dict) -> str:
    per_size = [r["coverage"]["0.90"] for r in evaluation.get("rows", []) if "0.90" in r.get("coverage", {})]
    overall = evaluation.get("coverage", {}).get("90%")
    if overall is None:
        return "—"
    spread = f" ({min(per_size):.3f}–{max(per_size):.3f} per size)" if per_size else ""
    return f"{overall:.3f}{spread}"


def main() -> None:
    lines = [
        "| name | prior | units | mean NLL | 90% coverage | gap to a reference posterior (context sizes) "
        "| datasets per size | size (MB) |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    for m in list_pretrained():
        ev = m["evaluation"]
        nll = f"{ev['mean_nll']:.3f}" if "mean_nll" in ev else "—"
        lines.append(
            f"| `{m['name']}` | {m['prior'].get('name', '?')} | {m['units']} | {nll} | {coverage_summary(ev)} | "
            f"{gap_summary(ev)} | {ev.get('datasets_per_size', '—')} | {m['size_mb']} |"
        )
    note = (
        "Mean NLL per held-out point over the context sizes 1 and up, on held-out prior datasets; "
        "a gap is *better* when gap + 2 se < 0 and *worse* when gap − 2 se > 0 (negative gaps favour the PFN)."
    )
    write_results("models", "\n".join(lines) + "\n\n" + note)


if __name__ == "__main__":
    main()
