"""Property-based tests (Hypothesis, derandomized: the same examples on every run) of the public entry points
that take user data: prior, kernel and hyperprior constructors, and `pfn evaluate`'s arguments.

Constructors: every argument has a strategy of valid values and one of invalid values. All-valid arguments
build a prior that samples datasets of the asked shape, float32 and finite; one invalid argument among
valid ones raises a ValueError whose message names that argument (never a TypeError, never later).
"""

import contextlib
import functools
import io
import math
import re
from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pfn
from pfn.checkpoint import save_checkpoint
from pfn.cli import evaluate_parser
from pfn.evaluation.scoring import check_counts, context_sizes_for
from pfn.model import BarDistribution, PFNTransformer
from priors import (
    Batch,
    BNNClassificationPrior,
    BNNPrior,
    FunctionPrior,
    GPPrior,
    LearningCurvePrior,
    MixturePrior,
    TabularClassificationPrior,
    TabularRegressionPrior,
)
from priors.bnn import ACTIVATIONS
from priors.hyperpriors import Choice, Gamma, LogNormal, LogUniform, Uniform, lowest_value
from priors.kernels import RBF, Linear, Matern12, Matern32, Matern52, Periodic
from priors.learning_curves import FAMILIES

SETTINGS = settings(derandomize=True, deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
# 16 constructors with 2 to 8 arguments each: more examples, so each (constructor, argument) pair gets several
MORE = settings(SETTINGS, max_examples=400)


def linear_prior(batch_size, num_points, num_features, generator):
    """A user's prior function: y = x . w, w ~ N(0, I)."""
    x = torch.rand(batch_size, num_points, num_features, generator=generator)
    w = torch.randn(batch_size, num_features, 1, generator=generator)
    return Batch(x=x, y=(x @ w).squeeze(-1))


# -- values ----------------------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
# Never valid where a number is expected: wrong types (a bool is not a number here), NaN and infinities.
not_a_number = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)  # fmt: skip
not_an_integer = st.one_of(not_a_number, st.floats(allow_nan=False).filter(lambda v: v != int(v) if math.isfinite(v)
                                                                          else True))  # fmt: skip


def number(low: float, high: float) -> st.SearchStrategy:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def below(bound: float, inclusive: bool) -> st.SearchStrategy:
    """Finite numbers < bound (<= bound when ``inclusive``): out of range for "> bound" (">= bound")."""
    return st.floats(max_value=bound, exclude_max=not inclusive, allow_nan=False, allow_infinity=False)


def positive_spec(low: float, high: float) -> st.SearchStrategy:
    """A positive hyperparameter: a number in [low, high] or a hyperprior over that range."""
    return st.one_of(
        number(low, high),
        st.integers(max(1, math.ceil(low)), max(1, math.floor(high))) if high >= 1 else number(low, high),
        st.builds(lambda a, b: LogUniform(min(a, b), max(a, b) * 1.01), number(low, high), number(low, high)),
        st.builds(lambda v: Choice([v, v / 2]), number(low, high)),
        st.builds(lambda m: LogNormal(math.log(m), 0.3), number(low, high)),
        st.builds(lambda m: Gamma(4.0, 4.0 / m), number(low, high)),
    )


# Hyperpriors whose draws go to zero or below, and plain values out of range: invalid for positive hyperparameters.
nonpositive_spec = st.one_of(not_a_number, below(0, True), st.builds(Uniform, number(-2, -0.1), number(0.2, 1)),
                             st.builds(lambda v: Choice([v, 1.0]), below(0, True)))  # fmt: skip
negative_spec = st.one_of(not_a_number, below(0, False).filter(lambda v: v < 0),
                          st.builds(Uniform, number(-2, -0.1), number(0.2, 1)))  # fmt: skip


@dataclass
class Arg:
    valid: st.SearchStrategy
    invalid: st.SearchStrategy


def name_lists(options, max_size: int = 3) -> st.SearchStrategy:
    return st.lists(st.sampled_from(sorted(options)), min_size=1, max_size=max_size)


bad_name_lists = st.one_of(
    st.none(), st.integers(), st.text(max_size=8), st.just([]), st.lists(st.integers(), min_size=1, max_size=2),
    st.lists(st.text(max_size=5).filter(lambda s: s not in ACTIVATIONS and s not in FAMILIES), min_size=1, max_size=2),
)  # fmt: skip
max_features = Arg(st.integers(1, 3), st.one_of(not_an_integer, st.integers(max_value=0)))


def bad_option(options) -> st.SearchStrategy:
    return st.one_of(st.none(), st.integers(), st.text(max_size=8).filter(lambda s: s not in options), st.just([]))


def stationary(cls) -> st.SearchStrategy:
    return st.builds(cls, positive_spec(0.05, 5.0), positive_spec(0.01, 10.0), st.booleans())


kernels = st.deferred(
    lambda: st.one_of(
        *[stationary(cls) for cls in (RBF, Matern12, Matern32, Matern52)],
        st.builds(Periodic, positive_spec(0.2, 3.0), positive_spec(0.1, 2.0), positive_spec(0.01, 10.0)),
        st.builds(Linear, positive_spec(0.01, 3.0), number(-2, 2)),
        st.builds(lambda a, b: a + b, kernels, kernels),
        st.builds(lambda a, b: a * b, kernels, kernels),
    )
)
integer_spec = st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1, max_size=3).map(Choice))
bad_integer_spec = st.one_of(
    not_a_number, st.integers(max_value=0), number(1.1, 2.9).filter(lambda v: v != int(v)),
    st.builds(lambda v: Choice([1, v]), st.integers(max_value=0)), st.builds(LogUniform, number(1, 2), number(3, 4)),
)  # fmt: skip
bnn_args = {
    "num_layers": Arg(integer_spec, bad_integer_spec),
    "width": Arg(st.one_of(st.integers(1, 32), st.lists(st.integers(1, 32), min_size=1, max_size=3).map(Choice)),
                 bad_integer_spec),
    "activations": Arg(name_lists(ACTIVATIONS), bad_name_lists),
    "weight_scale": Arg(positive_spec(0.1, 3.0), nonpositive_spec),
    "bias_scale": Arg(st.one_of(st.just(0.0), positive_spec(0.01, 1.0)), negative_spec),
    "noise_std": Arg(st.one_of(st.just(0), positive_spec(0.001, 0.5)), negative_spec),
    "x_distribution": Arg(st.sampled_from(["normal", "uniform"]), bad_option(["normal", "uniform"])),
    "max_features": max_features,
}  # fmt: skip

CONSTRUCTORS = {
    GPPrior: {
        "kernel": Arg(st.one_of(st.none(), kernels), st.one_of(st.text(max_size=5), st.integers(), st.just(RBF))),
        "noise": Arg(positive_spec(1e-4, 1.0), nonpositive_spec),
        "x_distribution": Arg(st.sampled_from(["uniform", "normal"]), bad_option(["uniform", "normal"])),
        "max_features": max_features,
    },
    BNNPrior: bnn_args,
    BNNClassificationPrior: {
        **bnn_args,
        "num_classes": Arg(st.integers(2, 5), st.one_of(not_an_integer, st.integers(max_value=1))),
        "method": Arg(st.sampled_from(["argmax", "threshold"]), bad_option(["argmax", "threshold"])),
    },
    TabularClassificationPrior: {
        **{name: arg for name, arg in bnn_args.items() if name != "x_distribution"},
        "num_classes": Arg(st.integers(2, 5), st.one_of(not_an_integer, st.integers(max_value=1))),
        "min_classes": Arg(st.just(2), st.one_of(not_an_integer, st.integers(max_value=1), st.integers(6, 9))),
        "threshold_prob": Arg(number(0, 1), st.one_of(not_a_number, number(1.01, 3), below(0, False))),
        "irrelevant_prob": Arg(number(0, 1), st.one_of(not_a_number, number(1.01, 3), below(0, False))),
        "max_correlation": Arg(number(0, 3), st.one_of(not_a_number, below(0, False))),
        "feature_mix": Arg(st.just((0.2, 0.2, 0.2, 0.2, 0.2)),
                           st.one_of(not_a_number, st.just((0.5, 0.5)), st.just((1.0, 1.0, 0.0, 0.0, -1.0)),
                                     st.just((0.1, 0.1, 0.1, 0.1, 0.1)), st.just(("a", 1, 0, 0, 0)))),
    },
    TabularRegressionPrior: {
        **{name: arg for name, arg in bnn_args.items() if name not in ("x_distribution", "noise_std")},
        "signal_to_noise": Arg(positive_spec(0.1, 30.0), nonpositive_spec),
        "skewed_prob": Arg(number(0, 1), st.one_of(not_a_number, number(1.01, 3), below(0, False))),
        "irrelevant_prob": Arg(number(0, 1), st.one_of(not_a_number, number(1.01, 3), below(0, False))),
        "max_correlation": Arg(number(0, 3), st.one_of(not_a_number, below(0, False))),
        "feature_mix": Arg(st.just((0.2, 0.2, 0.2, 0.2, 0.2)),
                           st.one_of(not_a_number, st.just((0.5, 0.5)), st.just((1.0, 1.0, 0.0, 0.0, -1.0)))),
    },
    LearningCurvePrior: {
        "families": Arg(name_lists(FAMILIES), bad_name_lists),
        "noise_log_mean": Arg(number(-6, -1), not_a_number),
        "noise_log_std": Arg(number(0.1, 1.5), st.one_of(not_a_number, below(0, True))),
        "weights": Arg(st.sampled_from(["uniform", "dirichlet"]), bad_option(["uniform", "dirichlet"])),
        "max_epochs": Arg(st.one_of(st.none(), st.integers(1, 200)),
                          st.one_of(not_an_integer.filter(lambda v: v is not None), st.integers(max_value=0))),
        "max_slowdown": Arg(number(1, 10), st.one_of(not_a_number, below(1, False))),
        "max_tries": Arg(st.integers(50, 200), st.one_of(not_an_integer, st.integers(max_value=0))),
    },
    MixturePrior: {
        "priors": Arg(
            st.lists(st.sampled_from([GPPrior(max_features=3), BNNPrior(max_features=3), linear_prior]),
                     min_size=1, max_size=3),
            st.one_of(st.none(), st.just([]), st.text(max_size=3), st.lists(st.integers(), min_size=1, max_size=2)),
        ),
        "per": Arg(st.sampled_from(["dataset", "batch"]), bad_option(["dataset", "batch"])),
    },
    FunctionPrior: {
        "fn": Arg(
            st.sampled_from([linear_prior, functools.partial(linear_prior),
                             "tests.test_prior_properties.linear_prior"]),
            st.one_of(st.none(), st.integers(), st.just("nodots"), st.just("os.path"),
                      st.just("tests.test_prior_properties.missing"), st.just("no_such_package_xyz.fn")),
        ),
        "max_features": max_features,
        "name": Arg(st.one_of(st.none(), st.text(min_size=1, max_size=8)), st.one_of(st.integers(), st.just([]))),
        "samples_on_any_device": Arg(st.booleans(), st.one_of(st.none(), st.integers(), st.text(max_size=4))),
    },
    Uniform: {"low": Arg(number(-5, 0), not_a_number), "high": Arg(number(0.5, 5), not_a_number)},
    LogUniform: {"low": Arg(number(1e-3, 1), st.one_of(not_a_number, below(0, True))), "high": Arg(number(2, 5),
                 not_a_number)},
    LogNormal: {"loc": Arg(number(-3, 3), not_a_number), "scale": Arg(number(0.1, 2), st.one_of(not_a_number,
                below(0, True)))},
    Gamma: {"concentration": Arg(number(0.5, 5), st.one_of(not_a_number, below(0, True))),
            "rate": Arg(number(0.5, 5), st.one_of(not_a_number, below(0, True)))},
    Choice: {"values": Arg(st.lists(number(0.1, 5), min_size=2, max_size=2),
                           st.one_of(st.none(), st.just([]), st.text(max_size=3), st.lists(not_a_number, min_size=1,
                                                                                            max_size=2))),
             "weights": Arg(st.one_of(st.none(), st.lists(number(0.1, 1), min_size=2, max_size=2)),
                            st.one_of(st.lists(number(0.1, 1), min_size=3, max_size=3),
                                      st.lists(below(0, False).filter(lambda v: v < 0), min_size=2, max_size=2),
                                      st.just([0.0, 0.0]), st.text(min_size=1, max_size=3)))},
    RBF: {"lengthscale": Arg(positive_spec(0.05, 5.0), nonpositive_spec),
          "outputscale": Arg(positive_spec(0.01, 10.0), nonpositive_spec),
          "ard": Arg(st.booleans(), st.one_of(st.none(), st.integers(), st.text(max_size=3)))},
    Periodic: {"lengthscale": Arg(positive_spec(0.2, 3.0), nonpositive_spec),
               "period": Arg(positive_spec(0.1, 2.0), nonpositive_spec),
               "outputscale": Arg(positive_spec(0.01, 10.0), nonpositive_spec)},
    Linear: {"outputscale": Arg(positive_spec(0.01, 3.0), nonpositive_spec),
             "offset": Arg(number(-2, 2), not_a_number)},
}  # fmt: skip
HYPERPRIORS = (Uniform, LogUniform, LogNormal, Gamma, Choice)
KERNELS = (RBF, Periodic, Linear)


def as_prior_to_sample(obj):
    """A prior that exercises ``obj``: itself, a GP with it as kernel, or a GP with it as noise."""
    if isinstance(obj, KERNELS):
        return GPPrior(kernel=obj, max_features=3)
    if isinstance(obj, HYPERPRIORS):
        return GPPrior(noise=obj) if lowest_value(obj) > 0 else obj
    return obj


@MORE
@given(st.data())
def test_valid_arguments_build_priors_that_sample_finite_batches_of_the_asked_shape(data):
    cls = data.draw(st.sampled_from(list(CONSTRUCTORS)), label="constructor")
    kwargs = {name: data.draw(arg.valid, label=name) for name, arg in CONSTRUCTORS[cls].items()}
    prior = as_prior_to_sample(cls(**kwargs))
    if isinstance(prior, HYPERPRIORS):  # a hyperprior over any reals: its draws
        draws = prior.sample((5,), torch.Generator().manual_seed(0))
        assert draws.shape == (5,) and torch.isfinite(draws).all()
        return
    b = data.draw(st.integers(1, 4), label="batch_size")
    n = data.draw(st.integers(2, 12), label="num_points")
    d = data.draw(st.integers(1, min(prior.max_features, 3)), label="num_features")
    batch = prior.sample(b, n, d, torch.Generator().manual_seed(data.draw(st.integers(0, 2**16), label="seed")))
    assert batch.x.shape == (b, n, d) and batch.y.shape == (b, n)
    assert batch.x.dtype == batch.y.dtype == torch.float32
    assert torch.isfinite(batch.x).all() and torch.isfinite(batch.y).all()


@MORE
@given(st.data())
def test_one_invalid_argument_raises_a_value_error_naming_it(data):
    cls = data.draw(st.sampled_from(list(CONSTRUCTORS)), label="constructor")
    args = CONSTRUCTORS[cls]
    bad = data.draw(st.sampled_from(sorted(args)), label="invalid argument")
    kwargs = {name: data.draw(arg.invalid if name == bad else arg.valid, label=name) for name, arg in args.items()}
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):
        cls(**kwargs)


# -- `pfn evaluate` arguments ----------------------------------------------------------------------------------

integer_text = st.integers(-20, 300).map(str)
junk_text = st.sampled_from(["", "x", "1.5", "1e3", "--", "nan", "0x10", "٣"])


def parses(argv: list[str]) -> tuple[int | None, str]:
    """(status, stderr) of parsing `pfn evaluate` arguments; status None when they parse."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            evaluate_parser().parse_args(argv)
        except SystemExit as stop:
            return stop.code, err.getvalue()
    return None, err.getvalue()


@SETTINGS
@given(
    datasets=st.one_of(integer_text, junk_text),
    queries=st.one_of(integer_text, junk_text),
    sizes=st.lists(st.one_of(integer_text, junk_text), min_size=1, max_size=4),
)
def test_evaluate_parses_counts_and_sizes_or_exits_2_naming_the_option(datasets, queries, sizes):
    def value(text):
        return int(text) if re.fullmatch(r"-?\d+", text) else None

    status, err = parses(["gp", "--datasets", datasets, "--queries", queries, "--context-sizes", *sizes])
    bad = [(opt, t) for opt, low, texts in (("--datasets", 2, [datasets]), ("--queries", 1, [queries]),
                                           ("--context-sizes", 0, sizes))
           for t in texts if value(t) is None or value(t) < low]  # fmt: skip
    if not bad:
        assert status is None, err
        return
    assert status == 2
    # argparse reports the first offending option; a value starting with "-" may read as an unknown option
    assert any(f"argument {opt}:" in err for opt, _ in bad) or "expected" in err or "unrecognized" in err, err


def tiny_model(folder, **training) -> pfn.Predictor:
    net = PFNTransformer(1, 8, d_model=8, n_layers=1, n_heads=2, d_ff=16)
    bar = BarDistribution.from_samples(torch.linspace(-2, 2, 100), 8)
    return pfn.load(save_checkpoint(folder / "m.safetensors", net, bar, prior={}, training=training))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(predictor, prior, lowest and highest valid context size) for a regression and a curve model."""
    root = tmp_path_factory.mktemp("models")
    (root / "gp").mkdir(), (root / "lc").mkdir()
    return [
        (tiny_model(root / "gp", max_context=50, num_points=60), GPPrior(), 0, 50),
        (tiny_model(root / "lc", max_context=29, num_points=30), LearningCurvePrior(), 1, 29),
    ]


@SETTINGS
@given(
    which=st.integers(0, 1),
    sizes=st.lists(st.one_of(st.integers(-5, 60), st.booleans(), number(0, 10), st.text(max_size=2)), max_size=5),
    counts=st.tuples(st.one_of(st.integers(-2, 5), st.booleans(), number(0, 5)),
                     st.one_of(st.integers(-2, 5), st.booleans(), number(0, 5))),
)  # fmt: skip
def test_evaluation_accepts_exactly_the_distinct_context_sizes_in_a_models_range(models, which, sizes, counts):
    predictor, prior, low, high = models[which]
    valid = (
        bool(sizes)
        and all(isinstance(n, int) and not isinstance(n, bool) and low <= n <= high for n in sizes)
        and len(set(sizes)) == len(sizes)
    )
    if valid:
        assert context_sizes_for(predictor, prior, sizes) == sizes
    else:
        with pytest.raises(ValueError, match="context_sizes"):
            context_sizes_for(predictor, prior, sizes)
    datasets, queries = counts
    ok_datasets = isinstance(datasets, int) and not isinstance(datasets, bool) and datasets >= 2
    ok_queries = isinstance(queries, int) and not isinstance(queries, bool) and queries >= 1
    if ok_datasets and ok_queries:
        check_counts(datasets, queries)
    else:
        with pytest.raises(ValueError, match="num_datasets" if not ok_datasets else "num_queries"):
            check_counts(datasets, queries)
