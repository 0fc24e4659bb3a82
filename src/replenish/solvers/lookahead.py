"""Finite-horizon dynamic programming over time-varying demand: the engine of the ``lookahead`` policy.

Each evening the ``lookahead`` policy (model predictive control) solves the
``H``-day problem whose demand is that evening's predictive pmfs
(:class:`~replenish.model.demand.DatedDemand`, day ``t`` = ``e + 1 + t``)
exactly by backward induction (Bellman 1957; Puterman 1994, §4.5)::

    V_H ≡ 0,   V_t(s) = min_a Σ_d P_t(d) [ c(s, a, d) + V_{t+1}(s'(s, a, d)) ],

over the reduced states of :mod:`replenish.model.statespace`, and applies the
first decision.  Every period is :func:`~replenish.model.dynamics.transition`
followed by ``reduce_state`` and ``clip_backlog`` — the same compiled rules as
the average-cost DP, the simulator and the replay.  Only the first stage is
solved for the one current state.

**Grid.**  A series selling hundreds a day has thousands of states; solving
365 such problems would take minutes.  When the position bound ``B`` exceeds
``grid`` units, the problem is solved in units of ``u = m·⌈B/(m·grid)⌉``
(a multiple of the pack size ``m``): demand pmfs are aggregated to the nearest
multiple of ``u``, costs per unit scaled by ``u``, and the decision is mapped
back to units.  With ``B <= grid`` (most bakery series at the default 60) the
DP is exact for the forecast model; ``tests/test_context.py`` checks that with
a stationary forecast it takes the average-cost DP's decisions.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba as nb
import numpy as np

from replenish.model.demand import Empirical
from replenish.model.dynamics import kernels, reduce_rows
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace

_k = kernels()
transition, reduce_state, clip_backlog = _k.transition, _k.reduce_state, _k.clip_backlog
expand_state, max_feasible, layout = _k.expand_state, _k.max_feasible, _k.layout

#: Default largest position bound (units) solved without aggregation.
GRID = 60


@nb.njit(cache=True)
def _backward(states, lut, offsets, strides, lead_time, rules, cost, bound, max_units, multiple,
              pmf, start):  # pragma: no cover
    """Backward induction over ``pmf`` (H, M); returns the best first order in state ``start``
    (index into ``states``) and its expected ``H``-day cost."""
    n, dr = states.shape
    H = pmf.shape[0]
    n_stock, fold = layout(lead_time, rules)
    dfull = n_stock + lead_time
    V = np.zeros(n)
    Vn = np.zeros(n)
    full = np.zeros(dfull, dtype=np.int64)
    out = np.zeros(dfull, dtype=np.int64)
    low = offsets[0]
    supp_n = np.zeros(H, dtype=np.int64)
    supp = np.zeros((H, pmf.shape[1]), dtype=np.int64)
    for t in range(H):
        c = 0
        for d in range(pmf.shape[1]):
            if pmf[t, d] > 0:
                supp[t, c] = d
                c += 1
        supp_n[t] = c
    best_a = 0
    best_v = 0.0
    for t in range(H - 1, -1, -1):
        lo_s, hi_s = (start, start + 1) if t == 0 else (0, n)
        for s in range(lo_s, hi_s):
            expand_state(states[s], fold, full)
            amax = max_feasible(full, dfull, bound, max_units, multiple)
            vbest = np.inf
            abest = 0
            for a in range(0, amax + 1, multiple):
                q = 0.0
                for i in range(supp_n[t]):
                    d = supp[t, i]
                    pd = pmf[t, d]
                    hc, sc, oc, rc, wc, _, _, _ = transition(full, a, d, lead_time, rules, 1, cost,
                                                             out)
                    r = reduce_state(out, fold)
                    out[r], _ = clip_backlog(out[r], low)
                    key = 0
                    for j in range(dr):
                        key += (out[r + j] - offsets[j]) * strides[j]
                    q += pd * (hc + sc + oc - rc + wc + V[lut[key]])
                if a == 0 or q < vbest - 1e-12 * max(1.0, abs(vbest)):
                    vbest = q
                    abest = a
            Vn[s] = vbest
            if t == 0:
                best_a = abest
                best_v = vbest
        V, Vn = Vn, V
    return best_a, best_v


@lru_cache(maxsize=64)
def _space(lead_time: int, rules: int, bound: int, multiple: int, max_order: int | None,
           backlog: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Reduced states (no phase) of a problem with these bounds, with a key → index table."""
    # a stationary stand-in demand whose derived bound exceeds ``bound``: the space then has
    # exactly the given bound (the demand itself is never used here)
    stand_in = Empirical(tuple([0.0] * bound + [1.0]))
    lost, life = bool(rules & 1), rules >> 2
    prob = Problem(demand=stand_in, lead_time=lead_time, order_multiple=multiple,
                   excess_demand="lost" if lost else "backorder", position_bound=bound,
                   max_order=max_order, backlog_bound=None if lost else backlog,
                   shelf_life=life or None, issuing="lifo" if rules & 2 else "fifo")
    space = StateSpace(prob, reduced=True)
    states = space.enumerate()
    keys = space.encode(states)
    lut = np.full(int(np.prod(space.sizes)), -1, dtype=np.int64)
    lut[keys] = np.arange(states.shape[0])
    return states, lut, space.offsets, space.strides, prob.max_order_units


def grid_unit(problem: Problem, grid: int = GRID) -> int:
    """Units per step of the lookahead's grid: 1 when ``B <= grid``, else a multiple of ``m``."""
    B, m = problem.bound, problem.order_multiple
    if B <= grid:
        return 1
    return m * math.ceil(B / (m * grid))


def lookahead_order(problem: Problem, pmfs: np.ndarray, state: np.ndarray, *,
                    grid: int = GRID) -> int:
    """The first order (units) of the ``H``-day problem with demand pmfs ``pmfs`` (H, M + 1).

    Args:
        problem: costs, lead time, pack size, bounds (its demand model is not used).
        pmfs: predictive pmfs of the next ``H`` days, day 1 first.
        state: the full state tonight ``[α, β_1 .. β_L]`` (``[α_1 .. α_n, β_1 .. β_L]``
            for a perishable product; units, no phase).
        grid: largest bound solved at unit resolution (module docstring).
    """
    L = problem.lead_time
    u = grid_unit(problem, grid)
    m = problem.order_multiple if u == 1 else 1
    B = -(-problem.bound // u)
    if u == 1:
        pm = np.asarray(pmfs, dtype=np.float64)
    else:  # aggregate demand to the nearest multiple of u
        k = np.arange(pmfs.shape[1])
        to = np.floor(k / u + 0.5).astype(np.int64)
        pm = np.zeros((pmfs.shape[0], int(to[-1]) + 1))
        for t in range(pmfs.shape[0]):
            pm[t] = np.bincount(to, weights=pmfs[t], minlength=pm.shape[1])
    lost = problem.lost_sales
    backlog = 0 if lost else -(problem.min_net_inventory // u)  # ⌈−min_net / u⌉
    max_order = None if problem.max_order is None else max(problem.max_order // u, m)
    states, lut, offsets, strides, max_units = _space(L, problem.rules, int(B), int(m), max_order,
                                                      backlog)
    cost = problem.cost_params().copy()
    cost[[0, 1, 3, 4, 5]] *= u
    s = np.asarray(state, dtype=np.int64)[: problem.position_slots].copy()
    s = np.floor(s / u + 0.5).astype(np.int64) if u > 1 else s
    red = reduce_rows(s[None, :], problem.fold)[0].copy()
    red[0] = min(max(int(red[0]), int(offsets[0])), B)
    key = int(((red - offsets) * strides).sum())
    idx = int(lut[key]) if 0 <= key < lut.size else -1
    if idx < 0:  # a state outside the grid (position above the bound): order nothing
        return 0
    a, _ = _backward(states, lut, offsets, strides, L, problem.rules, cost, int(B), int(max_units), int(m),
                     np.ascontiguousarray(pm), idx)
    return int(a) * u
