"""What every sub-command shares: JSON on stdout and the plain-text results table.

The CLI is the only layer that prints; workflows return result objects.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from replenish.core.io import dumps_json

#: Help of ``-q/--quiet`` (every command that shows progress).
QUIET_HELP = ("no progress output (a bar on a terminal, a line every 10%% of the work otherwise); "
              "--no-progress is the same")

#: Help of ``--report`` (``solve``, ``compare``): the same meaning in every command.
REPORT_HELP = ("folder for the HTML report: report.html (self-contained, opens offline; the decision "
               "at the top), its figures as PNG/SVG, results.json and results.csv; every file is "
               "written atomically")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet`` (alias ``--no-progress``): hide progress bars and progress lines."""
    p.add_argument("-q", "--quiet", "--no-progress", dest="quiet", action="store_true", help=QUIET_HELP)


def print_json(obj: Any) -> None:
    sys.stdout.write(dumps_json(obj) + "\n")


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "—" if x is None else format(x, spec)


def format_results(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of result JSON objects (method, cost, CI, gap, time)."""
    head = (f"{'method':<22} {'avg cost/period':>16} {'95% CI / exact':>21} "
            f"{'gap to optimum':>15} {'seconds':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ci = "exact" if r.get("exact") else (
            f"±{(r['ci95'][1] - r['ci95'][0]) / 2:.4f}" if r.get("ci95") else "—")
        gap = "—" if r.get("gap") is None else f"{100 * r['gap']:+.2f}%"
        label = r.get("label") or r["method"]
        lines.append(f"{label:<22} {_fmt(r['average_cost']):>16} {ci:>21} {gap:>15} "
                     f"{r.get('seconds', 0.0):>8.2f}")
    return "\n".join(lines)


def bound_note(problem: Any) -> str | None:
    """A note when the capacity (or ``position_bound``) is far above the demand-derived
    bound the methods use instead (``None`` otherwise)."""
    for key in ("capacity", "position_bound"):
        given = getattr(problem, key, None)
        if given is not None and given > 2 * problem.bound:
            return (f"note: problem.{key} = {given} is far above what the demand can use; "
                    f"positions are bounded at {problem.bound} units (the demand-derived bound)")
    return None
