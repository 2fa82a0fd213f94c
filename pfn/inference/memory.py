"""Bounded memory at inference: chunk sizes, and the one guard that turns running out into ``MemoryError``.

Every allocation that grows with the number of datasets, context points or queries
(encoding the context, decoding the queries, materialising logits, reducing them to
statistics) runs inside :func:`memory_guard`, so running out of memory, on any device,
raises ``MemoryError`` with a message that says what was being done and how to need less.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: elements a query chunk may give any one tensor (the logits, the probabilities, a cumulative sum):
#: 16 MB in float32. Decoding and every statistic work chunk by chunk within this budget.
CHUNK_ELEMENTS = 2**22

#: predictions whose logits hold at most this many elements are computed at once and kept (fast
#: repeated statistics); larger ones are decoded again, chunk by chunk, whenever a statistic is asked
#: for, so memory stays bounded in the number of queries.
STORED_ELEMENTS = 2**24


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` reports an allocation failure (torch on any device, or Python's own)."""
    if isinstance(err, MemoryError):
        return True
    if not isinstance(err, RuntimeError):
        return False
    if type(err).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA), a RuntimeError
        return True
    text = str(err).lower()
    return "out of memory" in text or "can't allocate" in text or "failed to allocate" in text


@contextlib.contextmanager
def memory_guard(task: str, advice: str) -> Iterator[None]:
    """Re-raise an out-of-memory failure inside the block as ``MemoryError``.

    Args:
        task: what was being done, e.g. "predicting 1000000 queries for 1 dataset(s) on cpu".
        advice: how to need less memory, e.g. "set a smaller predictor.chunk_size".
    """
    try:
        yield
    except (MemoryError, RuntimeError) as err:
        if not is_out_of_memory(err) or isinstance(err, _GuardedMemoryError):
            raise
        raise _GuardedMemoryError(f"out of memory {task}: {advice}") from err


class _GuardedMemoryError(MemoryError):
    """A ``MemoryError`` already explained by a guard (an enclosing guard passes it on unchanged)."""
