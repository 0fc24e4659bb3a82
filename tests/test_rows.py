"""unique_rows: the same partition as numpy.unique on rows, in each of its branches."""

from __future__ import annotations

import numpy as np
import pytest

from replenish.core import rows
from replenish.core.rows import unique_rows


def _check(a: np.ndarray) -> None:
    first, inverse = unique_rows(a)
    ref = np.unique(a, axis=0)
    assert len(first) == len(ref)  # as many groups as distinct rows
    np.testing.assert_array_equal(a[first][inverse], a)  # every row maps to its own value
    assert len(np.unique(a[first], axis=0)) == len(first)  # the representatives are distinct
    assert np.all(np.diff(first) > 0) and first.dtype == inverse.dtype == np.int64


@pytest.mark.parametrize("shape,low,high", [
    ((2000, 4), 0, 5),           # dense lookup, many duplicates
    ((300, 3), -7, 3),           # negative entries (backorders)
    ((50, 2), 0, 2**20),         # key range (2^40) past the lookup array: sorted integer keys
    ((40, 3), -(2**40), 2**40),  # too wide for one int64 key: rows sorted
    ((9, 1), 0, 2),
])
def test_unique_rows_partitions_like_numpy_unique(shape, low, high):
    rng = np.random.default_rng(7)
    a = rng.integers(low, high, size=shape)
    _check(a)
    _check(np.concatenate([a, a[::-1]]))  # every row twice


def test_unique_rows_sorted_key_branch_and_edge_cases(monkeypatch):
    monkeypatch.setattr(rows, "DENSE_KEYS", 1)  # force the sorted-key branch on a small range
    _check(np.random.default_rng(1).integers(0, 300, size=(20, 3)))
    first, inverse = unique_rows(np.zeros((0, 3), dtype=np.int64))
    assert first.size == inverse.size == 0
    with pytest.raises(TypeError, match="2-D integer"):
        unique_rows(np.zeros((3, 2)))
