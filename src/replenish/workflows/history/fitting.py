"""Models fitted on the training window only: the per-weekday empirical demand, the pack size and
position bound, and the problem of a history config.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.validate import require
from replenish.model.demand import WeekdayEmpirical
from replenish.workflows.history.loading import data_path, load_history
from replenish.workflows.history.series import (
    _NICE,
    HISTORY_KEYS,
    TARGET_ACTIONS,
    HistoricalDemand,
)


# ----------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------
def _nice_at_least(x: float) -> int:
    """Smallest of 1, 2, 5, 10, 20, 50, ... that is >= ``x``."""
    if x <= 1:
        return 1
    k = 10 ** math.floor(math.log10(x))
    for mult in (*_NICE, 10):
        if mult * k >= x - 1e-9:
            return mult * k
    return 10 * k  # pragma: no cover


def max_window_demand(model: WeekdayEmpirical, days: int) -> int:
    """``max_w Σ_{j<days} max{k: P(D = k | w + j) > 0}``: the largest ``days``-day demand."""
    tops = [int(np.flatnonzero(np.asarray(model.pmf(w)) > 0)[-1]) for w in range(7)]
    return max(sum(tops[(w + j) % 7] for j in range(days)) for w in range(7))


def derive_order_multiple(model: WeekdayEmpirical, lead_time: int, *,
                          target_actions: int = TARGET_ACTIONS) -> int:
    """Pack size ``m``: the smallest of 1, 2, 5, 10, 20, 50, ... with ``B̂ / m <= target_actions``.

    ``B̂`` is :func:`max_window_demand` over ``L + 1`` days, the largest demand
    between an order and the next order's arrival under the fitted model.
    """
    return _nice_at_least(max_window_demand(model, lead_time + 1) / target_actions)


def problem_from_history(table: Mapping[str, Any], *, problem: Mapping[str, Any] | None = None,
                         name: str | None = None,
                         base_dir: str | Path | None = None) -> tuple[Any, HistoricalDemand]:
    """Build the fitted :class:`~replenish.spec.Problem` from a ``[demand] kind = "history"`` table.

    Args:
        table: the ``[demand]`` table (keys :data:`HISTORY_KEYS`).
        problem: the ``[problem]`` table; ``order_multiple`` and the position
            bound are derived from the data when absent (module docstring).
        name: the problem name (default: the series label).
        base_dir: folder a relative ``file`` resolves against (the config file's).

    Returns:
        ``(problem, history)``: the problem whose demand is the weekday model
        fitted on the training window, and the loaded :class:`HistoricalDemand`.
    """
    from replenish.model.spec import Problem

    require(isinstance(table, Mapping), "demand", table, "must be a table")
    for key in table:
        require(key in HISTORY_KEYS, f"demand.{key}", table[key],
                f"unknown key for kind = 'history' (expected {', '.join(HISTORY_KEYS[1:])})")
    for key in ("file", "train", "test"):
        require(key in table, f"demand.{key}", None, "required for kind = 'history'")
    file = table["file"]
    require(isinstance(file, str) and file != "", "demand.file", file, "must be a file name")
    path = data_path(file, base_dir)
    filt = table.get("filter", {})
    require(isinstance(filt, Mapping), "demand.filter", filt, "must be a table {column = value}")
    for key in ("date_column", "demand_column", "holiday_column", "fractional"):
        if key in table:
            require(isinstance(table[key], str), f"demand.{key}", table[key], "must be a string")
    hist = load_history(path, train=table["train"], test=table["test"],
                        date_column=table.get("date_column", "date"),
                        demand_column=table.get("demand_column", "demand"), filter=dict(filt),
                        exclude_holidays=table.get("exclude_holidays", False),
                        holiday_column=table.get("holiday_column"),
                        fractional=table.get("fractional", "round"))
    model = hist.fit()
    prob = dict(problem or {})
    lead_time = prob.get("lead_time", 0)
    if "order_multiple" not in prob and isinstance(lead_time, int) and 0 <= lead_time <= 52:
        prob["order_multiple"] = derive_order_multiple(model, lead_time)
    data = {"name": name or hist.name, "problem": prob, "demand": model.to_dict()}
    p = Problem.from_dict(data)
    if p.capacity is None and p.position_bound is None:
        m = p.order_multiple
        p = p.replace(position_bound=int(math.ceil(p.bound / m) * m))
    return p, hist
