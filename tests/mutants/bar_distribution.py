"""Mutants of the bar distribution (see scripts/mutation_check.py)."""

MUTANTS = [
    dict(
        name="pareto_tail_scale",
        file="pfn/model/tails.py",
        old="self.s = width / (2 ** (1 / self.shape) - 1)",
        new="self.s = 1.2 * width / (2 ** (1 / self.shape) - 1)",
        tests=["tests/test_bar_distribution.py"],
    ),
]
