"""Resampled demand paths from a sales series (day or week blocks) for simulation-based tuning.
"""

from __future__ import annotations

import numpy as np

from replenish.core.validate import require
from replenish.workflows.history.series import DemandSeries, _fit_days


# ----------------------------------------------------------------------------
# bootstrap
# ----------------------------------------------------------------------------
def bootstrap_demand(series: DemandSeries, rng: np.random.Generator, *, n_paths: int, horizon: int,
                     start_phase: int = 0, block: str = "day",
                     exclude_holidays: bool = False) -> np.ndarray:
    """Demand matrices resampled from a (training) series, aligned to weekdays.

    Args:
        series: the training window.
        rng: the caller's generator (the only source of randomness).
        n_paths, horizon: shape of the result.
        start_phase: weekday of column 0 (Monday = 0); column ``t`` has weekday
            ``(start_phase + t) mod 7``.
        block: ``"day"`` draws every day independently among the training days
            of the same weekday (the same distribution as
            :func:`fit_weekday_empirical`); ``"week"`` draws whole Monday-to-Sunday
            weeks of the training window (keeping within-week correlation;
            incomplete weeks at the window edges are not used).
        exclude_holidays: leave holidays out of the pool (``block = "day"``).

    Returns:
        int64 (n_paths, horizon) demand.
    """
    require(isinstance(n_paths, int) and n_paths >= 1, "n_paths", n_paths, "must be >= 1")
    require(isinstance(horizon, int) and horizon >= 1, "horizon", horizon, "must be >= 1")
    require(block in ("day", "week"), "block", block, "must be 'day' or 'week'")
    phases = (start_phase + np.arange(horizon)) % 7
    if block == "day":
        demand, wd = _fit_days(series, exclude_holidays)
        out = np.empty((n_paths, horizon), dtype=np.int64)
        for w in range(7):
            pool = demand[wd == w]
            cols = np.flatnonzero(phases == w)
            if cols.size:
                out[:, cols] = pool[rng.integers(0, pool.size, size=(n_paths, cols.size))]
        return out
    wd = series.weekdays
    first_monday = int(np.flatnonzero(wd == 0)[0]) if np.any(wd == 0) else len(series)
    n_weeks = (len(series) - first_monday) // 7
    require(n_weeks >= 1, "series", series.name, "needs at least one full Monday-to-Sunday week")
    weeks = series.demand[first_monday: first_monday + 7 * n_weeks].reshape(n_weeks, 7)
    n_blocks = (start_phase + horizon + 6) // 7
    pick = rng.integers(0, n_weeks, size=(n_paths, n_blocks))
    flat = weeks[pick].reshape(n_paths, n_blocks * 7)
    return np.ascontiguousarray(flat[:, start_phase: start_phase + horizon])
