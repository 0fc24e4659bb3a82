"""Replay a policy on actual sales through the one dynamics function: the test-window cost of every
method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.validate import require
from replenish.workflows.history.series import DemandSeries


# ----------------------------------------------------------------------------
# replay
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayResult:
    """A policy replayed on an actual demand series.

    Attributes:
        total_cost: $ over the window (holding + stockout + ordering − revenue + waste).
        average_cost: $/day.
        breakdown: $/day by component: holding, stockout, ordering, revenue, waste.
        fill_rate: units served from stock on the day / units demanded.
        stockout_days: number of days with unmet demand.
        stockout_rate: fraction of days with unmet demand.
        average_on_hand: mean end-of-day on-hand stock (units).
        days: length of the window.
        wasted: units that expired over the window (0 for a product that keeps).
        waste_rate: units expired / units ordered over the window.
        dates: ``datetime64[D]`` (days,) the days replayed.
        start_state: the full state the evening before the first day.
        trajectory: ``states`` (days + 1, d), ``orders``, ``demand``, ``cost``,
            ``short``, ``expired`` (days,) arrays, for plotting.
    """

    total_cost: float
    average_cost: float
    breakdown: dict[str, float]
    fill_rate: float
    stockout_days: int
    stockout_rate: float
    average_on_hand: float
    days: int
    dates: np.ndarray = field(repr=False)
    start_state: np.ndarray = field(repr=False)
    trajectory: dict[str, np.ndarray] = field(repr=False)
    wasted: int = 0
    waste_rate: float = 0.0

    def to_json(self, prefix: str = "") -> dict[str, Any]:
        """Scalar fields as a JSON-serialisable dict, keys prefixed with ``prefix``."""
        d = {"total_cost": self.total_cost, "average_cost": self.average_cost,
             "breakdown": self.breakdown, "fill_rate": self.fill_rate,
             "stockout_days": self.stockout_days, "stockout_rate": self.stockout_rate,
             "average_on_hand": self.average_on_hand, "days": self.days,
             "first_day": str(self.dates[0]), "last_day": str(self.dates[-1]),
             "start_state": self.start_state.tolist(), "wasted": self.wasted,
             "waste_rate": self.waste_rate}
        return {f"{prefix}{k}": v for k, v in d.items()}


def default_start_state(problem: Any, series: DemandSeries) -> np.ndarray:
    """The common start of every replay: the evening before the first day of ``series``.

    Nothing in transit; on hand ``α₀ = ⌈Σ_{j<L} E[D_{w₀+j}]⌉`` under the
    problem's (fitted) model, i.e. enough for the expected demand of the ``L``
    days before tonight's order can arrive (0 when ``L = 0``), capped at the
    position bound (a perishable product: fresh, in its youngest age class; with a
    shelf life of one day, arriving tomorrow morning as ``β_1``, rounded up to the pack);
    phase = that of the first day (its weekday for weekday models, its day
    index for a :class:`~replenish.model.demand.DatedDemand`).  The same for every
    policy, so differences in replayed cost come from the policies alone.
    """
    from replenish.model.demand import phase_of_date

    w0 = phase_of_date(problem.demand, series.dates[0]) if len(series) else 0
    return problem.stocked_state(w0)


def replay(problem: Any, policy: Any, series: DemandSeries | np.ndarray, *,
           start_state: np.ndarray | None = None, start_phase: int | None = None) -> ReplayResult:
    """Replay ``policy`` on the actual demand of ``series`` (one path, every day counted).

    Args:
        problem: the problem (costs, lead time, bounds; its demand model is not
            used to draw anything, only for :func:`default_start_state`).
        policy: any :class:`~replenish.policies.base.Policy`.
        series: a :class:`DemandSeries` (dates give the weekday phases), or an
            int array of daily demand (then ``start_phase`` gives the weekday
            of the first day, default 0; dates are numbered from 1970-01-05, a Monday).
        start_state: the full state the evening before the first day; default
            :func:`default_start_state`.  Its phase slot is set to the first
            day's weekday when demand is seasonal.

    Runs :func:`replenish.simulate.simulate` with ``demand = series[None, :]``
    and no warm-up, so the dynamics are the package's one compiled transition.
    """
    from replenish.evaluation.simulate import simulate

    if not isinstance(series, DemandSeries):
        arr = np.asarray(series)
        require(arr.ndim == 1 and arr.size >= 1, "series", arr.shape, "must be a non-empty 1-d array")
        require(np.issubdtype(arr.dtype, np.integer) and bool(np.all(arr >= 0)), "series", "values",
                "demand must be non-negative integers")
        first = np.datetime64("1970-01-05") + int(start_phase or 0)
        series = DemandSeries(first + np.arange(arr.size), arr.astype(np.int64), name="array")
    require(len(series) >= 1, "series", series.name, "is empty")
    if start_state is None:
        start = default_start_state(problem, series)
    else:
        start = np.array(start_state, dtype=np.int64).reshape(-1)
        require(start.shape[0] == problem.state_dim, "start_state", start.tolist(),
                f"must have {problem.state_dim} entries "
                f"[{'α_1..α_n' if problem.perishable else 'α'}, β_1..β_L, (w)]")
        if problem.seasonal:
            from replenish.model.demand import phase_of_date

            start[-1] = phase_of_date(problem.demand, series.dates[0])
    sim = simulate(problem, policy, demand=series.demand[None, :], start=start, warmup=0,
                   record=True)
    assert sim.trajectory is not None
    traj = {k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in sim.trajectory.items()}
    n = len(series)
    short = traj["short"]
    return ReplayResult(total_cost=float(traj["cost"].sum()), average_cost=sim.average_cost,
                        breakdown=sim.breakdown, fill_rate=sim.fill_rate,
                        stockout_days=int((short > 0).sum()), stockout_rate=sim.stockout_days,
                        average_on_hand=sim.average_on_hand, days=n, dates=series.dates,
                        start_state=start, trajectory=traj, wasted=int(traj["expired"].sum()),
                        waste_rate=float(traj["expired"].sum() / max(int(traj["orders"].sum()), 1)))
