"""Input normalisation, applied identically in training and at inference.

"standardize" shifts and scales each dataset by its own context's mean and
standard deviation (per feature for x), so a model trained this way is
equivariant to the units of its data: scaling y by 1000 scales every prediction
by 1000. With fewer than two context points there is no spread to estimate:
one point only shifts, none leaves the data as it is. "none" keeps the prior's units.

Standardised inputs beyond 4 context standard deviations are compressed
logarithmically (``compress_outliers``): with two or three context points the
context's spread can be tiny, and a query would otherwise reach the network as
a value in the thousands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

MODES = ("none", "standardize")


def context_location_scale(
    v: torch.Tensor, min_scale: float = 1e-6, *, scale_invariant: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over the context axis (dim 1) of v (B, n, ...), keeping that axis.

    n = 0 gives (0, 1); n = 1 gives (v, 1); a constant feature gets scale 1.

    "Constant" means, by default (training), a spread of at most ``min_scale`` in absolute terms.
    With ``scale_invariant`` (inference, on float64 inputs) it means a spread within rounding of
    the values themselves (at most 64 machine epsilons of the largest |v|, or below the smallest
    normal number), and the mean and spread are computed on v rescaled by a power of two, so
    neither overflows nor underflows: standardising is then equivariant at any scale the dtype
    can represent, from y in units of 1e-300 to units of 1e300.
    """
    n = v.shape[1]
    if n == 0:
        shape = (v.shape[0], 1, *v.shape[2:])
        return v.new_zeros(shape), v.new_ones(shape)
    if scale_invariant:
        return _scale_invariant_location_scale(v)
    loc = v.mean(1, keepdim=True)
    if n == 1:
        return loc, torch.ones_like(loc)
    scale = v.std(1, keepdim=True, correction=0)
    return loc, torch.where(scale > min_scale, scale, torch.ones_like(scale))


def _scale_invariant_location_scale(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`context_location_scale` with a relative criterion for "constant" (n >= 1)."""
    finfo = torch.finfo(v.dtype)
    if v.shape[0] == 0:  # no datasets: nothing to estimate
        shape = (0, 1, *v.shape[2:])
        return v.new_zeros(shape), v.new_ones(shape)
    largest = v.abs().amax(1, keepdim=True)
    _, exponent = torch.frexp(largest)
    unit = torch.ldexp(torch.ones_like(largest), exponent - 1)  # a power of two: |v| / unit < 2, exactly
    u = v / unit
    loc = u.mean(1, keepdim=True) * unit
    if v.shape[1] == 1:
        return loc, torch.ones_like(loc)
    spread = u.std(1, keepdim=True, correction=0)
    scale = spread * unit
    constant = (spread <= 64 * finfo.eps) | (scale < finfo.tiny)
    return loc, torch.where(constant, torch.ones_like(scale), scale)


def compress_outliers(v: torch.Tensor, knee: float = 4.0) -> torch.Tensor:
    """Identity on [-knee, knee]; beyond it, knee + log(1 + excess): continuous, with slope 1 at the knee."""
    excess = (v.abs() - knee).clamp_min(0)
    return torch.where(excess > 0, v.sign() * (knee + torch.log1p(excess)), v)


@dataclass(frozen=True)
class ContextStatistics:
    """Per-dataset shifts and scales fitted on a context: x (B, 1, d), y (B, 1)."""

    x_loc: torch.Tensor | None
    x_scale: torch.Tensor | None
    y_loc: torch.Tensor
    y_scale: torch.Tensor

    def x(self, x: torch.Tensor) -> torch.Tensor:
        if self.x_loc is None or self.x_scale is None:  # fitted together: both or neither
            return x
        return compress_outliers((x - self.x_loc) / self.x_scale)

    def y(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.y_loc) / self.y_scale


@dataclass(frozen=True)
class Normalization:
    """How x and y are normalised before the network sees them ("none" or "standardize")."""

    x: str = "none"
    y: str = "none"

    def __post_init__(self) -> None:
        for name in ("x", "y"):
            if getattr(self, name) not in MODES:
                raise ValueError(f"normalization {name} must be one of {MODES}, got {getattr(self, name)!r}")

    def fit(self, x_ctx: torch.Tensor, y_ctx: torch.Tensor, *, scale_invariant: bool = False) -> ContextStatistics:
        """Shifts and scales from the context x (B, n, d) and y (B, n).

        ``scale_invariant`` (for inference, on float64 inputs) calls a spread "none" only relative to
        the values' size; see :func:`context_location_scale`. Training keeps the absolute threshold.
        """
        x_loc = x_scale = None
        if self.x == "standardize":
            x_loc, x_scale = context_location_scale(x_ctx, scale_invariant=scale_invariant)
        if self.y == "standardize":
            y_loc, y_scale = context_location_scale(y_ctx, scale_invariant=scale_invariant)
        else:
            y_loc, y_scale = y_ctx.new_zeros(y_ctx.shape[0], 1), y_ctx.new_ones(y_ctx.shape[0], 1)
        return ContextStatistics(x_loc, x_scale, y_loc, y_scale)

    def apply(
        self, x_ctx: torch.Tensor, y_ctx: torch.Tensor, x_qry: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised (x_ctx, y_ctx, x_qry) and the y location and scale, each (B, 1), to map back."""
        stats = self.fit(x_ctx, y_ctx)
        return stats.x(x_ctx), stats.y(y_ctx), stats.x(x_qry), stats.y_loc, stats.y_scale

    @property
    def units(self) -> str:
        """ "equivariant" when predictions follow the units of y, "prior" when they are the prior's."""
        return "equivariant" if self.y == "standardize" else "prior"

    def to_dict(self) -> dict[str, str]:
        return {**asdict(self), "units": self.units}
