"""Type aliases of the public API: what user data may be, and what comes back.

>>> from pfn import PosteriorPredictive
>>> from pfn.types import Array, ArrayLike
>>> def my_acquisition(pred: PosteriorPredictive, best: ArrayLike) -> Array: ...
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import torch

#: User data: Python numbers and (nested) sequences of them, NumPy arrays of any real dtype and
#: strides, and torch tensors of any real dtype on any device (NumPy's ``ArrayLike`` plus tensors).
ArrayLike: TypeAlias = npt.ArrayLike | torch.Tensor

#: What statistics return: a NumPy array when the data were given as NumPy arrays (or lists,
#: numbers), a torch tensor when they were torch tensors ("NumPy in, NumPy out").
Array: TypeAlias = np.ndarray | torch.Tensor

__all__ = ["Array", "ArrayLike"]
