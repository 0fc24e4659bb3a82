"""Compiling one loop body twice, serial and threaded, with separate on-disk caches.

numba keys a cached compilation on the function's file, qualified name, first
line and bytecode, not on compiler flags: ``njit(parallel=True, cache=True)``
and ``njit(cache=True)`` of the *same* function share one cache entry, so
whichever variant compiled first is what the other loads in later processes
(the threaded DP sweeps could silently run single-threaded, or the serial ones
spawn threads on tiny models).  :func:`variants` compiles copies of the
function whose qualified names differ, hence whose cache entries differ.
numba is imported only when called.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any


def variants(fn: Callable[..., Any]) -> tuple[Any, Any]:
    """``(serial, parallel)`` numba dispatchers of ``fn`` (``cache=True``), cached apart."""
    import numba as nb

    out = []
    for parallel in (False, True):
        copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                                  fn.__closure__)
        copy.__qualname__ = fn.__qualname__ + ("_parallel" if parallel else "_serial")
        copy.__doc__ = fn.__doc__
        out.append(nb.njit(cache=True, parallel=parallel)(copy))
    return out[0], out[1]
