"""Distinct rows of a small-integer array, without sorting when the values span little.

The DQN's expected targets value every (state, order, demand) successor, tens of thousands
of states per gradient step of which a third are distinct; :func:`numpy.unique` on rows
(``axis=0``, or a void view) sorts them with a generic byte comparison.  States are small
integers, so a mixed-radix integer key per row and a lookup array over the key range find
the same partition in linear time (23,000 random rows of 5 small-integer columns: 2.0 ms
against 7.4 ms for the void-view :func:`numpy.unique`, measured in one run on this 2-core
machine under load); past :data:`DENSE_KEYS` keys the integer keys are sorted instead.
Plain numpy: a numba kernel would save little more, and the lookup array is one vectorised
scatter and gather.
"""

from __future__ import annotations

import numpy as np

DENSE_KEYS = 1 << 22  #: largest key range (entries) given a lookup array (32 MB of int64)


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)`` of the distinct rows of ``rows`` (integer (n, d)).

    ``first``: int64 (k,), ascending, the index of one occurrence of each distinct row
    (not necessarily the first); ``inverse``: int64 (n,), which of them each row is, so
    that ``rows[first][inverse] == rows``.  The order differs from :func:`numpy.unique`'s
    (sorted rows); the partition is the same.
    """
    a = np.asarray(rows)
    if a.ndim != 2 or a.dtype.kind not in "iu":
        raise TypeError(f"unique_rows needs a 2-D integer array, not {a.dtype} with shape {a.shape}")
    n = a.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    a = a.astype(np.int64, copy=False)
    lo = a.min(axis=0)
    span = [int(h) - int(l) + 1 for h, l in zip(a.max(axis=0).tolist(), lo.tolist(), strict=True)]
    size = 1
    for s in span:  # Python integers: no overflow
        size *= s
    if size > 1 << 62:  # too wide for one int64 key: sort the rows themselves
        _, idx, inv = np.unique(a, axis=0, return_index=True, return_inverse=True)
        first_of = idx[inv.ravel()]
    else:
        radix = np.cumprod([1, *span[:-1]]).astype(np.int64)
        key = (a - lo) @ radix
        if size <= max(DENSE_KEYS, 4 * n):
            head = np.empty(size, dtype=np.int64)
            head[key] = np.arange(n)  # one of the rows of each key, whichever write lands last
            first_of = head[key]
        else:
            _, idx, inv = np.unique(key, return_index=True, return_inverse=True)
            first_of = idx[inv.ravel()]
    is_first = first_of == np.arange(n)
    rank = np.cumsum(is_first) - 1
    return np.flatnonzero(is_first), rank[first_of]
