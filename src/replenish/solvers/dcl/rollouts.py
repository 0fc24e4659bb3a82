"""Rollouts with common random numbers and their labels: the data of one DCL generation.

Everything here is numpy on top of the compiled dynamics
(:func:`replenish.model.dynamics.step`, numba): no torch, no Python loop per
simulated period.  The policy being rolled out is any
:class:`~replenish.policies.base.Policy`; it is called once per *time step* on
all rollouts of a batch at once (one batched ``act``: a torch forward for a
network policy, a vectorised rule for a classic one).

Shapes: ``n`` sampled states, ``K = 2·window + 1`` candidate slots per state,
``R`` rollouts per candidate, ``T = horizon + 1`` periods per rollout (the
candidate's own period, then ``horizon`` periods of the policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from replenish.model.dynamics import clip_orders, feasible_max, kernels, step
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.policies.base import Policy

transition, layout = kernels().transition, kernels().layout

#: largest dense lookup table (entries, int64) of :class:`PolicyTable`
MAX_TABLE_BOX = 20_000_000
#: rollout rows :func:`rollout_costs` advances together: a network policy's forward pass on
#: 32k rows stays in cache; at L = 10 (64×64 classifier) a period costs a third to a half less
#: per row than on the 229k rows of a whole ``rollout_batch`` (measured, one thread)
ROLLOUT_ROWS = 32_768


def sample_states(problem: Problem, policy: Policy, rng: np.random.Generator, *, n: int,
                  warmup: int) -> np.ndarray:
    """int64 (n, d): the states of ``n`` independent paths of ``policy`` after ``warmup``
    periods from the empty state (phase 0), demand drawn from ``rng``."""
    states = np.tile(problem.start_state(), (n, 1))
    for _ in range(warmup):
        phases = states[:, -1] if problem.seasonal else np.zeros(n, dtype=np.int64)
        demand = problem.demand.sample(rng, phases)
        orders = clip_orders(problem, states, policy.act(states))
        states = step(problem, states, orders, demand).states
    return states


def candidate_window(current: np.ndarray, top: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate grid actions around ``current`` (n,): ``(cands, valid)``, both (n, 2·window + 1).

    Slot ``window`` is the current action itself; a slot is valid when its action lies in
    ``[0, top]`` (``top``: the largest feasible grid action of each state).
    """
    cands = np.asarray(current, dtype=np.int64)[:, None] + np.arange(-window, window + 1)[None, :]
    valid = (cands >= 0) & (cands <= np.asarray(top, dtype=np.int64)[:, None])
    return cands, valid


def draw_rollout_demand(problem: Problem, states: np.ndarray, rng: np.random.Generator, *,
                        rollouts: int, periods: int) -> np.ndarray:
    """int64 (n, R, T): the demand paths of each state's rollouts (shared by all its candidates:
    common random numbers); period ``t`` of a state in phase ``w`` has phase ``(w + t) mod P``."""
    n = states.shape[0]
    w0 = states[:, -1] if problem.seasonal else np.zeros(n, dtype=np.int64)
    phases = (w0[:, None, None] + np.arange(periods)[None, None, :]) % problem.period
    return problem.demand.sample(rng, np.broadcast_to(phases, (n, rollouts, periods)))


def rollout_costs(problem: Problem, policy: Policy, states: np.ndarray, first_orders: np.ndarray,
                  demand: np.ndarray) -> np.ndarray:
    """float64 (n, K, R): total cost ($) of ``T`` periods from each state, the first period with the
    candidate order ``first_orders[i, k]`` (feasible, units), then ``policy``, on demand
    ``demand[i, r]`` (n, R, T) — the same demand for every candidate of a state.

    The rows ``(i, k, r)`` of up to :data:`ROLLOUT_ROWS` of them at a time are advanced together:
    per period one ``policy.act`` on all of them and one compiled
    :func:`~replenish.model.dynamics.step`.
    """
    n, K = first_orders.shape
    _, R, T = demand.shape
    out = np.empty((n, K, R))
    per = max(1, ROLLOUT_ROWS // (K * R))  # states a chunk
    for lo in range(0, n, per):
        sl = slice(lo, min(n, lo + per))
        m = sl.stop - lo
        rows = np.repeat(np.ascontiguousarray(states[sl], dtype=np.int64), K * R, axis=0)
        orders = np.repeat(np.asarray(first_orders[sl], dtype=np.int64), R, axis=1).reshape(-1)
        total = np.zeros(m * K * R)
        for t in range(T):
            if t > 0:
                orders = clip_orders(problem, rows, policy.act(rows))
            d_t = np.broadcast_to(demand[sl, None, :, t], (m, K, R)).reshape(-1)
            res = step(problem, rows, orders, d_t)
            total += res.total_cost
            rows = res.states
        out[sl] = total.reshape(m, K, R)
    return out


@dataclass(frozen=True)
class PolicyTable:
    """A policy that depends on the reduced state, as a dense array for the compiled rollouts.

    Attributes:
        orders: int64 (box,), the order (units) of each reduced state by its key
            (:meth:`StateSpace.encode <replenish.model.statespace.StateSpace.encode>`);
            ``-1`` outside the state space.
        offsets, strides: the reduced space's key coefficients.
        low: the lowest represented net inventory (deeper backlogs are looked up there, as
            :class:`~replenish.policies.table.TablePolicy` does).
    """

    orders: np.ndarray
    offsets: np.ndarray
    strides: np.ndarray
    low: int

    @classmethod
    def build(cls, problem: Problem, policy: Policy, *, max_states: int) -> PolicyTable | None:
        """The table of ``policy`` (one batched ``act`` on every reduced state, represented by
        ``[y, 0, β_2, ..]``), or ``None`` when ``policy`` uses the full state or the space
        exceeds ``max_states`` states or :data:`MAX_TABLE_BOX` keys."""
        if not (policy.uses_reduced_state or problem.fold == 0):
            return None
        space = StateSpace(problem, reduced=True)
        if space.count() > max_states or float(np.prod(space.sizes.astype(np.float64))) > MAX_TABLE_BOX:
            return None
        red = space.enumerate(max_states=max_states)
        full = space.expand(red)
        orders = np.concatenate([clip_orders(problem, full[i:i + 65536], policy.act(full[i:i + 65536]))
                                 for i in range(0, len(full), 65536)])
        dense = np.full(int(np.prod(space.sizes)), -1, dtype=np.int64)
        dense[space.encode(red)] = orders
        return cls(orders=dense, offsets=space.offsets.copy(), strides=space.strides.copy(),
                   low=int(space.offsets[0]))


@nb.njit(cache=True)
def _table_rollouts(states, first, demand, table, offsets, strides, low, lead_time, rules, period,
                    cost, out):  # pragma: no cover - compiled
    """``out[i, k, r]``: cost of the rollout ``(i, k, r)`` (see :func:`table_rollout_costs`)."""
    n, K = first.shape
    R, T = demand.shape[1], demand.shape[2]
    d = states.shape[1]
    cur = np.empty(d, dtype=np.int64)
    nxt = np.empty(d, dtype=np.int64)
    fold = layout(lead_time, rules)[1]
    for i in range(n):
        for k in range(K):
            for r in range(R):
                for j in range(d):
                    cur[j] = states[i, j]
                total = 0.0
                for t in range(T):
                    if t == 0:
                        a = first[i, k]
                    else:  # the table's order in the reduced state [α + β_1, β_2.., (w)]
                        if fold >= 1:
                            key = (max(cur[0] + cur[1], low) - offsets[0]) * strides[0]
                            for j in range(2, d):
                                key += (cur[j] - offsets[j - 1]) * strides[j - 1]
                        else:
                            key = (max(cur[0], low) - offsets[0]) * strides[0]
                            for j in range(1, d):
                                key += (cur[j] - offsets[j]) * strides[j]
                        a = table[key]
                    h, so, o, rev, wc, _, _, _ = transition(cur, a, demand[i, r, t], lead_time,
                                                            rules, period, cost, nxt)
                    total += h + so + o - rev + wc
                    for j in range(d):
                        cur[j] = nxt[j]
                out[i, k, r] = total


def table_rollout_costs(problem: Problem, table: PolicyTable, states: np.ndarray, first_orders: np.ndarray,
                        demand: np.ndarray) -> np.ndarray:
    """:func:`rollout_costs` with the policy given as a :class:`PolicyTable`: the whole batch in
    one compiled loop (:func:`replenish.model.dynamics.transition` per period, the order looked
    up in the table), the same costs."""
    n, K = first_orders.shape
    out = np.empty((n, K, demand.shape[1]))
    _table_rollouts(np.ascontiguousarray(states, dtype=np.int64),
                    np.ascontiguousarray(first_orders, dtype=np.int64),
                    np.ascontiguousarray(demand, dtype=np.int64), table.orders, table.offsets,
                    table.strides, table.low, problem.lead_time, problem.rules, problem.period,
                    problem.cost_params(), out)
    return out


@dataclass
class RolloutStats:
    """Sums over the rollouts of ``G`` distinct states (identical sampled states pool their rollouts).

    Attributes:
        count: int64 (G,), rollouts per candidate of each state.
        total: float64 (G, K), sum of the rollout costs of each candidate ($).
        dsum, dsq: float64 (G, K), sums of the paired differences ``cost(k, r) − cost(current, r)``
            and of their squares (same demand path ``r``).
    """

    count: np.ndarray
    total: np.ndarray
    dsum: np.ndarray
    dsq: np.ndarray

    @classmethod
    def empty(cls, groups: int, slots: int) -> RolloutStats:
        z = np.zeros((groups, slots))
        return cls(np.zeros(groups, dtype=np.int64), z, z.copy(), z.copy())

    def add(self, group: np.ndarray, costs: np.ndarray, current: int) -> None:
        """Add the rollout costs (n, K, R) of sampled states belonging to ``group`` (n,)."""
        diff = costs - costs[:, current:current + 1, :]
        np.add.at(self.count, group, costs.shape[2])
        np.add.at(self.total, group, costs.sum(axis=2))
        np.add.at(self.dsum, group, diff.sum(axis=2))
        np.add.at(self.dsq, group, (diff * diff).sum(axis=2))


@dataclass(frozen=True)
class Labels:
    """The labels of ``G`` distinct states from their rollout statistics.

    Attributes:
        label: int64 (G,), the chosen slot (index into the candidate window).
        best: int64 (G,), the slot of the lowest mean rollout cost.
        mean: float64 (G, K), mean rollout cost per candidate ($; ``inf`` for infeasible slots).
        diff_mean, diff_se: float64 (G,), mean and standard error of the paired difference
            ``cost(best) − cost(current)`` over the rollouts.
        switched: bool (G,), the label differs from the current slot.
    """

    label: np.ndarray
    best: np.ndarray
    mean: np.ndarray
    diff_mean: np.ndarray
    diff_se: np.ndarray
    switched: np.ndarray


def label_states(stats: RolloutStats, valid: np.ndarray, current: int, significance: float) -> Labels:
    """Label each state with the best candidate, unless it is statistically indistinguishable from
    the current one.

    ``valid`` (G, K) marks the feasible slots, ``current`` is the slot of the current policy's
    action (valid in every row).  ``best`` = argmin of the mean cost over valid slots (the lowest
    slot among exact ties).  The paired differences ``cost(best, r) − cost(current, r)`` share the
    demand of rollout ``r``, so their standard error is small where the candidates' costs are
    correlated; the label is ``best`` only when their mean is below ``−significance`` standard
    errors, else the current slot: ties and noise keep the current action, so a policy is changed
    only where the rollouts say it is worse.  (``best`` is selected on the same rollouts, so with
    many candidates a small ``significance`` switches on noise: its minimum over ``K − 1`` null
    differences is biased low.)
    """
    n = stats.count.astype(np.float64)
    mean = np.where(valid, stats.total / n[:, None], np.inf)
    best = np.argmin(mean, axis=1)
    rows = np.arange(best.shape[0])
    dm = stats.dsum[rows, best] / n
    var = np.maximum(stats.dsq[rows, best] - n * dm * dm, 0.0) / np.maximum(n - 1, 1)
    se = np.sqrt(var / n)
    switched = dm < -significance * se
    label = np.where(switched, best, current)
    return Labels(label=label, best=best, mean=mean, diff_mean=dm, diff_se=se, switched=switched)


def grid_top(problem: Problem, states: np.ndarray, order_step: int) -> np.ndarray:
    """The largest feasible grid action of each state (order ``j·order_step <= a_max(s)``)."""
    return feasible_max(problem, states) // order_step
