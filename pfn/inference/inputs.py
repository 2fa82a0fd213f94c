"""Turning what users pass (numbers, lists, NumPy arrays of any strides, torch tensors) into float64 tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_REAL_TORCH_DTYPES = {
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.uint16, torch.uint32, torch.uint64,
}  # fmt: skip


def real_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` as a float64 tensor on the CPU, detached from any autograd graph.

    Accepts any real numeric array-like: Python numbers and (nested) sequences of them, NumPy
    arrays of any dtype from bool to float64 and any strides (negative ones included), and torch
    tensors of any real dtype on any device. Complex values, strings, ragged sequences and other
    objects raise ``ValueError`` naming the argument. NaN and inf pass; callers decide about them.
    """
    if value is None:
        raise ValueError(f"{name} must be numeric array-like, got None")
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.is_complex():
            raise ValueError(f"{name} must be real-valued, got a complex tensor ({t.dtype})")
        if not (t.is_floating_point() or t.dtype in _REAL_TORCH_DTYPES):
            raise ValueError(f"{name} must be numeric, got a tensor of {t.dtype}")
        return t.to("cpu", torch.float64).contiguous()  # row-major like the NumPy path: same sums, same results
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nesting, unconvertible objects
        raise ValueError(f"{name} must be numeric array-like, got {type(value).__name__} ({err})") from err
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must be real-valued, got complex values ({arr.dtype})")
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind in "USVMm":  # strings, raw bytes, dates and durations
            raise ValueError(f"{name} must be numeric array-like, got {type(value).__name__} of {arr.dtype}")
        try:  # objects: e.g. a list mixing Python and NumPy numbers, or Decimals
            arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be numeric array-like, got {type(value).__name__} ({err})") from err
    return torch.from_numpy(np.array(arr, dtype=np.float64, order="C"))  # a copy: any strides, even negative
