"""Progress output: a tqdm bar on a terminal, a few plain lines otherwise.

A bar redraws itself many times a second; written to a log file (``make demo >
log``, CI) those redraws pile up (150 KB for the demo) and glue other lines to
them.  :func:`progress_bar` therefore returns a tqdm bar only when standard
error is a terminal, and otherwise a :class:`PlainProgress` that prints one
line at every tenth of the work (and one at the end), e.g.::

    qlearning (seed): 500,000/1,000,000 step (50%), 3.1 s, ETA 3.1 s

Both have ``update(n)``, ``set_postfix(**values)`` and ``close()``.  Callers
that show progress at all take a ``progress`` flag (the CLI's ``--quiet``).
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default: standard error) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class PlainProgress:
    """Progress as plain periodic lines on standard error (for logs, pipes and CI).

    Prints when the count crosses each ``1/steps`` of ``total`` and on
    :meth:`close`; nothing is redrawn, so a log holds ``steps + 1`` lines per run.
    """

    def __init__(self, *, total: int | None, desc: str, unit: str = "step", initial: int = 0,
                 steps: int = 10, stream: TextIO | None = None) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = self.start = int(initial)
        self.steps = max(1, int(steps))
        self.stream = stream
        self.t0 = self._last = time.perf_counter()
        self.postfix: dict[str, Any] = {}
        self._next = self._threshold(self.n)
        self.closed = False
        if not self.total:  # open-ended work: say what starts (e.g. the DP's memory estimate)
            self._print()

    #: with no known total, a line at most this often (seconds)
    every_seconds = 30.0

    def _threshold(self, n: int) -> float:
        """The next count at which a line is printed."""
        if not self.total:
            return float("inf")
        k = int(n * self.steps // self.total) + 1
        return k * self.total / self.steps

    def line(self) -> str:
        """The current progress as one line."""
        el = time.perf_counter() - self.t0
        txt = f"{self.desc}: {self.n:,}"
        if self.total:
            txt += f"/{self.total:,} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            txt += f" {self.unit}"
        txt += f", {el:.1f} s"
        done = self.n - self.start
        if self.total and 0 < done and self.n < self.total:
            txt += f", ETA {el / done * (self.total - self.n):.1f} s"
        if self.postfix:
            txt += ", " + ", ".join(f"{k}={v}" for k, v in self.postfix.items())
        return txt

    def _print(self) -> None:
        self._last = time.perf_counter()
        print(self.line(), file=self.stream if self.stream is not None else sys.stderr, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += int(n)
        if self.n >= self._next and (self.total is None or self.n < self.total):
            self._print()
            self._next = self._threshold(self.n)
        elif not self.total and time.perf_counter() - self._last >= self.every_seconds:
            self._print()  # open-ended work (DP sweeps): a line every so often


    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = {k: v for k, v in values.items()}

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._print()


def progress_bar(*, total: int | None, desc: str, unit: str = "step", initial: int = 0,
                 leave: bool = False) -> Any:
    """A tqdm bar on a terminal, else a :class:`PlainProgress` (plain lines on stderr)."""
    if is_terminal():
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave)
    return PlainProgress(total=total, desc=desc, unit=unit, initial=initial)
