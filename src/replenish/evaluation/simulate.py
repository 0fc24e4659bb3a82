"""Batched Monte Carlo simulation with common random numbers.

``n_paths`` sample paths of ``horizon`` periods are advanced together: each
period the policy is called once on all current states (one batched ``act``)
and the compiled :func:`~replenish.dynamics.step_batch` applies the period.
The demand matrix is drawn up front from the caller's generator (or passed in),
so different policies simulated with the same generator seed, or the same
``demand`` matrix, face exactly the same demand (common random numbers).

The long-run average cost is estimated per path over the periods after
``warmup``; the 95% confidence interval uses the spread of the ``n_paths``
independent path averages (Student t).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from replenish.core.validate import require
from replenish.model.dynamics import COST_COLUMNS, clip_orders, step
from replenish.model.spec import Problem
from replenish.policies.base import Policy


@dataclass(frozen=True)
class SimulationResult:
    """Averages over simulated periods (after warm-up).

    Attributes:
        average_cost: mean cost per period ($/period) over all paths.
        ci95: ``(low, high)`` 95% confidence interval of the average cost.
        breakdown: $/period by component: holding, stockout, ordering, revenue, waste.
        fill_rate: units served from stock on the day / units demanded.
        stockout_days: fraction of periods with unmet demand.
        average_on_hand: mean end-of-day on-hand stock (units).
        waste_rate: units expired / units ordered (0 for a product that keeps).
        path_costs: float64 (n_paths,), each path's average cost per period.
        n_paths, horizon, warmup: the simulation size.
        trajectory: optional dict of (n_paths, horizon) arrays (``states``
            (n_paths, horizon + 1, d), ``orders``, ``demand``, ``cost``, ``short``,
            ``expired``).
    """

    average_cost: float
    ci95: tuple[float, float]
    breakdown: dict[str, float]
    fill_rate: float
    stockout_days: float
    average_on_hand: float
    path_costs: np.ndarray = field(repr=False)
    n_paths: int
    horizon: int
    warmup: int
    trajectory: dict[str, np.ndarray] | None = field(default=None, repr=False)
    waste_rate: float = 0.0

    @property
    def half_width(self) -> float:
        """Half-width of the 95% confidence interval ($/period)."""
        return (self.ci95[1] - self.ci95[0]) / 2


def draw_demand(problem: Problem, rng: np.random.Generator, *, n_paths: int, horizon: int,
                start_phase: int | np.ndarray = 0) -> np.ndarray:
    """Demand matrix (n_paths, horizon) int64; path ``i`` is in phase
    ``(start_phase[i] + t) mod P`` in period ``t`` (``start_phase``: int or (n_paths,))."""
    start = np.broadcast_to(np.asarray(start_phase, dtype=np.int64), (n_paths,))
    phases = (start[:, None] + np.arange(horizon)[None, :]) % problem.period
    return problem.demand.sample(rng, phases)


def simulate(problem: Problem, policy: Policy, *, rng: np.random.Generator | None = None,
             n_paths: int = 200, horizon: int = 1000, warmup: int = 100,
             demand: np.ndarray | None = None, start: np.ndarray | None = None,
             record: bool = False) -> SimulationResult:
    """Simulate ``policy`` on ``problem``.

    Args:
        problem: the problem (its demand model draws the demand unless
            ``demand`` is given).
        policy: any :class:`~replenish.policies.base.Policy`.
        rng: generator for demand draws (required unless ``demand`` is given).
        n_paths, horizon, warmup: ``n_paths`` paths of ``horizon`` periods; the
            first ``warmup`` periods are excluded from the averages.
        demand: int (n_paths, horizon) demand to replay instead of drawing it
            (common random numbers across policies, or historical data).
        start: full start state(s), (d,) or (n_paths, d); default empty, phase 0.
        record: keep the full trajectory in the result.
    """
    if demand is None:
        require(rng is not None, "rng", rng, "a numpy Generator is required to draw demand")
        require(isinstance(n_paths, int) and n_paths >= 1, "n_paths", n_paths, "must be >= 1")
        require(isinstance(horizon, int) and horizon >= 1, "horizon", horizon, "must be >= 1")
    else:
        demand = np.asarray(demand)
        require(demand.ndim == 2, "demand", demand.shape, "must be a (n_paths, horizon) array")
        n_paths, horizon = demand.shape
    require(0 <= warmup < horizon, "warmup", warmup, f"must be in [0, horizon = {horizon})")
    if start is None:
        states = np.tile(problem.start_state(), (n_paths, 1))
    else:
        states = np.array(np.broadcast_to(np.asarray(start, dtype=np.int64),
                                          (n_paths, problem.state_dim)))
    start_phase = states[:, -1] if problem.seasonal else 0
    if demand is None:
        assert rng is not None
        demand = draw_demand(problem, rng, n_paths=n_paths, horizon=horizon,
                             start_phase=start_phase)
    demand = np.ascontiguousarray(demand, dtype=np.int64)
    n_keep = horizon - warmup
    costs = np.zeros((n_paths, len(COST_COLUMNS)))
    expired = np.zeros(n_paths)
    ordered = np.zeros(n_paths)
    n_stock = problem.stock_slots
    path_cost = np.zeros(n_paths)
    served = np.zeros(n_paths)
    dem = np.zeros(n_paths)
    short_days = np.zeros(n_paths)
    on_hand = np.zeros(n_paths)
    traj = None
    if record:
        traj = {"states": np.empty((n_paths, horizon + 1, problem.state_dim), dtype=np.int64),
                "orders": np.empty((n_paths, horizon), dtype=np.int64),
                "demand": demand, "cost": np.empty((n_paths, horizon)),
                "short": np.empty((n_paths, horizon), dtype=np.int64),
                "expired": np.empty((n_paths, horizon), dtype=np.int64)}
        traj["states"][:, 0] = states
    for t in range(horizon):
        orders = clip_orders(problem, states, policy.act(states))
        r = step(problem, states, orders, demand[:, t])
        if t >= warmup:
            costs += r.costs
            path_cost += r.total_cost
            served += r.served
            dem += demand[:, t]
            short_days += r.short > 0
            on_hand += np.maximum(r.states[:, 0], 0) + r.states[:, 1:n_stock].sum(axis=1)
            expired += r.expired
            ordered += orders
        if traj is not None:
            traj["states"][:, t + 1] = r.states
            traj["orders"][:, t] = orders
            traj["cost"][:, t] = r.total_cost
            traj["short"][:, t] = r.short
            traj["expired"][:, t] = r.expired
        states = r.states
    per_path = path_cost / n_keep
    mean = float(per_path.mean())
    if n_paths > 1:
        from scipy import stats  # here: 1.5 s of import that simulation-free commands skip

        se = float(per_path.std(ddof=1) / np.sqrt(n_paths))
        half = float(stats.t.ppf(0.975, n_paths - 1)) * se
    else:
        half = float("inf")
    total_dem = dem.sum()
    return SimulationResult(
        average_cost=mean, ci95=(mean - half, mean + half),
        breakdown=dict(zip(COST_COLUMNS, (float(x) for x in costs.sum(0) / (n_paths * n_keep)),
                           strict=True)),
        fill_rate=float(served.sum() / total_dem) if total_dem > 0 else 1.0,
        stockout_days=float(short_days.sum() / (n_paths * n_keep)),
        average_on_hand=float(on_hand.sum() / (n_paths * n_keep)),
        path_costs=per_path, n_paths=n_paths, horizon=horizon, warmup=warmup, trajectory=traj,
        waste_rate=float(expired.sum() / ordered.sum()) if ordered.sum() > 0 else 0.0)
