"""The inventory dynamics, defined once.

:func:`transition` is the single compiled (numba) statement of the rules of one
period; the Gymnasium environment, the batched simulator, exact policy
evaluation and the dynamic-programming solver all call it (directly or through
:func:`step_batch`).  Nothing else in the package re-states these rules.

State vector (int64): ``[α, β_1, .., β_L, (w)]``: on-hand ``α`` after the last
demand (negative = backlog), pipeline ``β_1 .. β_L`` (``β_1`` arrives next),
and the phase ``w`` of the next demand day when demand is seasonal.

Timeline of one period (the evening order ``a`` starts it):

1. order ``a`` is placed (cost ``K·1[a > 0] + c·a``);
2. the oldest pipeline slot ``β_1`` arrives (with ``L = 0`` the order ``a``
   itself arrives);
3. demand ``D`` is served from stock; unmet demand is lost (``α' = (α + β_1 −
   D)^+``) or backordered (``α' = α + β_1 − D``);
4. costs ``h·(α')^+`` and ``p·`` (lost units, or backlog ``(−α')^+``); revenue
   ``r·`` units sold; the pipeline shifts, ``a`` enters its newest slot; the
   phase advances.

Feasibility (also defined only here): ``0 <= a``, ``a`` a multiple of ``m``,
``a <= a_max`` and ``α + Σβ + a <= B`` (capacity or position bound).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from replenish.model.spec import Problem

#: Columns of the cost breakdown arrays: holding, stockout, ordering, revenue.
COST_COLUMNS = ("holding", "stockout", "ordering", "revenue")


@nb.njit(cache=True, inline="always")
def transition(state, order, demand, lead_time, lost, period, cost, out):  # pragma: no cover
    """Apply one period to ``state`` (read only), writing the next state to ``out``.

    Args:
        state: int64[d], ``[α, β_1..β_L, (w)]``.
        order: ``a`` (units), assumed feasible.
        demand: ``D`` (units) of the period.
        lead_time: ``L``.
        lost: True for lost sales, False for backorders.
        period: number of demand phases ``P`` (phase slot present iff ``P > 1``).
        cost: float64[5], ``[h, p, K, c, r]``.
        out: int64[d], receives the next state (must not alias ``state``).

    Returns:
        ``(holding, stockout, ordering, revenue, served, short)``: the cost
        components ($) of the period, units served from stock on the day of
        demand, and units of demand not served that day (lost or backordered).
    """
    alpha = state[0]
    arrive = order if lead_time == 0 else state[1]
    n1 = alpha + arrive
    served = min(demand, max(n1, 0))
    n2 = n1 - demand
    short = demand - served
    if lost:
        if n2 < 0:
            n2 = 0
        sold = served
        stockout = cost[1] * short
    else:
        sold = max(alpha, 0) + arrive - max(n2, 0)
        stockout = cost[1] * max(-n2, 0)
    out[0] = n2
    for i in range(1, lead_time):
        out[i] = state[i + 1]
    if lead_time >= 1:
        out[lead_time] = order
    if period > 1:
        out[lead_time + 1] = (state[lead_time + 1] + 1) % period
    holding = cost[0] * max(n2, 0)
    ordering = cost[3] * order + (cost[2] if order > 0 else 0.0)
    revenue = cost[4] * sold
    return holding, stockout, ordering, revenue, served, short


@nb.njit(cache=True)
def max_feasible(state, lead_time, bound, max_units, multiple):  # pragma: no cover
    """Largest feasible order (units) in ``state``: ``min(a_max, B − position)`` rounded to ``m``."""
    position = state[0]
    for i in range(1, lead_time + 1):
        position += state[i]
    room = bound - position
    if room > max_units:
        room = max_units
    if room < 0:
        return 0
    return (room // multiple) * multiple


@nb.njit(cache=True)
def step_batch(states, orders, demands, lead_time, lost, period, cost,
               out_states, out_costs, out_flows):  # pragma: no cover
    """Vectorised :func:`transition` over rows: ``states`` (n, d) → ``out_states``.

    ``out_costs`` (n, 4) receives holding, stockout, ordering, revenue;
    ``out_flows`` (n, 2) receives served and short units.
    """
    for i in range(states.shape[0]):
        h, s, o, r, served, short = transition(states[i], orders[i], demands[i], lead_time,
                                               lost, period, cost, out_states[i])
        out_costs[i, 0] = h
        out_costs[i, 1] = s
        out_costs[i, 2] = o
        out_costs[i, 3] = r
        out_flows[i, 0] = served
        out_flows[i, 1] = short


@nb.njit(cache=True)
def max_feasible_batch(states, lead_time, bound, max_units, multiple):  # pragma: no cover
    """Vectorised :func:`max_feasible` over rows of ``states``."""
    out = np.empty(states.shape[0], dtype=np.int64)
    for i in range(states.shape[0]):
        out[i] = max_feasible(states[i], lead_time, bound, max_units, multiple)
    return out


@dataclass(frozen=True)
class StepResult:
    """Outcome of one period for ``n`` states.

    Attributes:
        states: int64 (n, d), the next states.
        costs: float64 (n, 4), holding, stockout, ordering, revenue ($).
        served: int64 (n,), units served from stock on the day.
        short: int64 (n,), units of demand not served on the day.
    """

    states: np.ndarray
    costs: np.ndarray
    served: np.ndarray
    short: np.ndarray

    @property
    def total_cost(self) -> np.ndarray:
        """Cost of the period per row: holding + stockout + ordering − revenue."""
        return self.costs[:, 0] + self.costs[:, 1] + self.costs[:, 2] - self.costs[:, 3]


def step(problem: Problem, states: np.ndarray, orders: np.ndarray, demands: np.ndarray) -> StepResult:
    """Apply one period to a batch of states (orders must be feasible)."""
    states = np.ascontiguousarray(states, dtype=np.int64)
    n = states.shape[0]
    out_states = np.empty_like(states)
    costs = np.empty((n, 4))
    flows = np.empty((n, 2), dtype=np.int64)
    step_batch(states, np.ascontiguousarray(orders, dtype=np.int64),
               np.ascontiguousarray(demands, dtype=np.int64), problem.lead_time,
               problem.lost_sales, problem.period, problem.cost_params(), out_states, costs, flows)
    return StepResult(out_states, costs, flows[:, 0], flows[:, 1])


def feasible_max(problem: Problem, states: np.ndarray) -> np.ndarray:
    """Largest feasible order (units) for each row of ``states`` (n, d)."""
    states = np.ascontiguousarray(np.atleast_2d(states), dtype=np.int64)
    return max_feasible_batch(states, problem.lead_time, problem.bound, problem.max_order_units,
                              problem.order_multiple)


def clip_orders(problem: Problem, states: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Round orders down to the order multiple and clip them to the feasible range."""
    m = problem.order_multiple
    orders = np.maximum(np.asarray(orders, dtype=np.int64), 0)
    orders = (orders // m) * m
    return np.minimum(orders, feasible_max(problem, states))


def action_mask(problem: Problem, states: np.ndarray) -> np.ndarray:
    """Boolean (n, n_actions): action ``k`` (order ``k·m``) is feasible."""
    amax = feasible_max(problem, states) // problem.order_multiple
    return np.arange(problem.n_actions)[None, :] <= amax[:, None]
