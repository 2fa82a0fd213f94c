"""The interface every prior implements.

A prior is anything with a ``sample(batch_size, num_points, num_features, generator)``
method returning a :class:`Batch`. Classes may subclass :class:`Prior` to get
argument checking; plain callables with the same signature work through
:class:`FunctionPrior`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from priors.checks import check_bool, check_integer


@dataclass(frozen=True)
class Batch:
    """A batch of synthetic supervised datasets.

    Attributes:
        x: inputs, shape (B, N, d).
        y: targets, shape (B, N).
    """

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.ndim != 3 or self.y.ndim != 2 or self.x.shape[:2] != self.y.shape:
            raise ValueError(
                f"a prior batch needs x of shape (B, N, d) and y of shape (B, N); "
                f"got x {tuple(self.x.shape)} and y {tuple(self.y.shape)}"
            )


@runtime_checkable
class SamplesBatches(Protocol):
    def sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch: ...


class Predictive(Protocol):
    """A predictive distribution per query point: what :meth:`Prior.posterior_predictive` returns."""

    def log_prob(self, y: torch.Tensor) -> torch.Tensor: ...


#: the distributions a prior may draw its inputs from, and the range of x each gives (None: unbounded)
INPUT_RANGES: dict[str, tuple[float, float] | None] = {"uniform": (0.0, 1.0), "normal": None}


class Prior:
    """Base class for priors: checks arguments, then calls :meth:`_sample`.

    Besides sampling, a prior says what a model trained on it needs to know, and what evaluation can
    compare it with: the range of its inputs (:attr:`input_range`, recorded as a checkpoint's domain),
    whether its datasets are sequences (:attr:`sequential`), and whether it has an exact posterior
    predictive (:attr:`exact_posterior`, :meth:`posterior_predictive`).
    """

    #: largest number of input features this prior can produce
    max_features: int = 1
    #: True when :meth:`sample` draws every random number from ``generator`` and builds its tensors on
    #: ``generator.device``, so that a generator on a GPU samples on that GPU (``data.sample_on_device``)
    samples_on_any_device: bool = False
    #: True when a dataset is a sequence whose order matters (a learning curve over epochs): its first points
    #: are the context and the rest are to be predicted, never a random split of exchangeable points
    sequential: bool = False

    @property
    def input_range(self) -> tuple[float, float] | None:
        """Range of x the prior produces, the same for every feature (None when unbounded or unknown)."""
        return None

    @property
    def exact_posterior(self) -> str | None:
        """Name of the exact posterior predictive :meth:`posterior_predictive` computes (such as "exact GP"),
        the reference a model trained on this prior can be compared with; None when there is none."""
        return None

    def posterior_predictive(self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor) -> Predictive:
        """The exact posterior predictive at ``x_test`` (B, m, d) given ``x_train`` (B, n, d), ``y_train`` (B, n).

        Only for a prior whose :attr:`exact_posterior` names one; the default has none.
        """
        raise NotImplementedError(f"{type(self).__name__} has no exact posterior predictive")

    def sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        """Draw ``batch_size`` datasets of ``num_points`` points with ``num_features`` inputs.

        All randomness comes from ``generator`` (and tensors live on its device),
        so a generator seeded the same way gives the same batch.
        """
        for name, value in (("batch_size", batch_size), ("num_points", num_points)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if int(num_features) != num_features or not 1 <= num_features <= self.max_features:
            raise ValueError(
                f"num_features must be an integer in [1, {self.max_features}] for "
                f"{type(self).__name__}, got {num_features!r}"
            )
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        return self._sample(int(batch_size), int(num_points), int(num_features), generator)

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description, stored in exported checkpoints."""
        return {"name": type(self).__name__}


class FunctionPrior(Prior):
    """Wraps a plain function ``(batch_size, num_points, num_features, generator) -> Batch``.

    The function may return a :class:`Batch` or a tuple ``(x, y)``. ``fn`` may also be a
    dotted import path such as ``"my_package.priors.linear_regression"``. Pass
    ``samples_on_any_device=True`` when the function draws only from ``generator`` and creates
    its tensors on ``generator.device`` (then it can sample on a GPU).
    """

    def __init__(
        self,
        fn: Callable[..., Batch] | str,
        max_features: int = 1,
        name: str | None = None,
        samples_on_any_device: bool = False,
    ):
        if isinstance(fn, str):
            fn = _import_function(fn)
        if not callable(fn):
            raise ValueError(f"fn must be a callable or a dotted path 'package.module.function', got {fn!r}")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string or None, got {name!r}")
        self.fn = fn
        self.max_features = check_integer(max_features, "max_features")
        self.samples_on_any_device = check_bool(samples_on_any_device, "samples_on_any_device")
        inner = getattr(fn, "func", fn)  # functools.partial, as Hydra's _partial_ builds
        self.name = name or f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', 'function')}"

    def _sample(self, batch_size: int, num_points: int, num_features: int, generator: torch.Generator) -> Batch:
        out = self.fn(batch_size, num_points, num_features, generator)
        pair = isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)
        if not (isinstance(out, Batch) or pair):
            raise TypeError(
                f"the prior function {self.name} (fn, prior.fn in a config) must return a priors.Batch or a tuple "
                f"(x, y) of tensors, x of shape (batch_size, num_points, num_features) and y of shape "
                f"(batch_size, num_points); it returned {_describe(out)}"
            )
        batch = out if isinstance(out, Batch) else Batch(*out)
        want = (batch_size, num_points, num_features)
        if tuple(batch.x.shape) != want or tuple(batch.y.shape) != want[:2]:
            raise ValueError(
                f"the prior function {self.name} (fn, prior.fn in a config) was asked for x of shape {want} and y "
                f"of shape {want[:2]}, and returned x {tuple(batch.x.shape)} and y {tuple(batch.y.shape)}"
            )
        return batch

    def describe(self) -> dict[str, Any]:
        return {"name": "FunctionPrior", "function": self.name}


class RandomInputsPrior(Prior):
    """Base class for priors whose inputs are drawn independently per coordinate from ``x_distribution``:
    "uniform" on [0, 1] or standard "normal" (:data:`INPUT_RANGES`); :attr:`input_range` follows from it."""

    #: the distribution of every input coordinate, a key of :data:`INPUT_RANGES`
    x_distribution: str = "uniform"

    @property
    def input_range(self) -> tuple[float, float] | None:
        """Range of x the prior produces (None when unbounded)."""
        return INPUT_RANGES[self.x_distribution]

    def sample_inputs(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Inputs of the given shape drawn from ``x_distribution`` with ``generator``, on its device."""
        draw = torch.rand if self.x_distribution == "uniform" else torch.randn
        return draw(shape, generator=generator, device=generator.device)


def _import_function(path: str) -> Callable[..., Any]:
    """The object a dotted path 'package.module.function' names; ``ValueError`` naming ``fn`` otherwise."""
    module, _, attr = path.rpartition(".")
    if not module or not attr:
        raise ValueError(f"fn must be a callable or a dotted path 'package.module.function', got {path!r}")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as err:
        raise ValueError(f"fn={path!r}: cannot import module {module!r} ({err}); is it on your PYTHONPATH?") from None
    except AttributeError:
        raise ValueError(f"fn={path!r}: module {module!r} has no attribute {attr!r}") from None


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} ({', '.join(type(v).__name__ for v in value[:4])})"
    return type(value).__name__


def as_prior(obj: Any) -> SamplesBatches:
    """A prior as is; a plain function (or ``functools.partial``) wrapped in :class:`FunctionPrior`."""
    if isinstance(obj, SamplesBatches):
        return obj
    if callable(obj):
        return FunctionPrior(
            obj,
            max_features=getattr(obj, "max_features", 1 << 30),
            samples_on_any_device=bool(getattr(obj, "samples_on_any_device", False)),
        )
    raise TypeError(
        f"a prior must have a sample(batch_size, num_points, num_features, generator) method or be such a "
        f"function, got {type(obj).__name__}"
    )


def prior_name(prior: SamplesBatches) -> str:
    """A short human-readable name: the function's dotted path for a :class:`FunctionPrior`, else the class name."""
    return prior.name if isinstance(prior, FunctionPrior) else type(prior).__name__


def describe_prior(prior: SamplesBatches) -> dict[str, Any]:
    """The prior's own description (its ``describe()``), or its class name when it has none."""
    describe = getattr(prior, "describe", None)
    return describe() if describe is not None else {"name": type(prior).__name__}


def samples_on_any_device(prior: SamplesBatches) -> bool:
    """Whether ``prior`` declares that it samples on the device of the generator it is given."""
    return bool(getattr(prior, "samples_on_any_device", False))


def input_range(prior: SamplesBatches) -> tuple[float, float] | None:
    """The range of x ``prior`` declares (:attr:`Prior.input_range`), None when it declares none."""
    return getattr(prior, "input_range", None)


def is_sequential(prior: SamplesBatches) -> bool:
    """Whether ``prior`` declares its datasets sequences (:attr:`Prior.sequential`)."""
    return bool(getattr(prior, "sequential", False))


def exact_posterior(prior: SamplesBatches) -> str | None:
    """The name of the exact posterior predictive ``prior`` declares (:attr:`Prior.exact_posterior`), or None."""
    return getattr(prior, "exact_posterior", None)
