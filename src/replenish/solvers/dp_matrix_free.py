"""Matrix-free dynamic programming: Bellman and evaluation sweeps with no stored MDP.

The explicit DP (:mod:`replenish.solvers.dp`) enumerates every (state, order,
demand) once, stores the successors in CSR form and then sweeps over them.  On
Zipkin's lost-sales instances most of its time is that build, and its memory
is the successor lists (279 MB at ``L = 4``; tens of GB at ``L = 6``).  Here
nothing but the values, the policy and a few small tables is kept: every sweep
recomputes each successor from a **state ranking**.

Structure used (checked against the one rule, see below)
-------------------------------------------------------
A reduced state is ``[y, β_2, .., β_L, (w)]`` (:mod:`replenish.model.statespace`).
One period of :func:`replenish.model.dynamics.transition` on its representative
``[y, 0, β_2, .., β_L, (w)]`` with order ``a`` and demand ``d`` gives, after
:func:`~replenish.model.dynamics.reduce_state` and
:func:`~replenish.model.dynamics.clip_backlog`, the successor

    ``[max(n(s₀, d) + b, low), β_3, .., β_L, a, (w + 1 mod P)]``

with the pre-demand stock ``s₀ = y`` (``s₀ = α + a`` when ``L = 0``), the net
inventory after demand ``n(s₀, d)``, ``b = β_2`` (``b = a`` when ``L = 1``,
``0`` when ``L = 0``) and the cost ``f_w(s₀, d) + o(a)`` (holding, stockout and
revenue of the day, plus the ordering cost).  The tables ``n``, ``f`` and ``o``
are **computed by calling** ``transition`` — the rules are not restated here —
and every solve first checks the factorisation itself against ``transition``
on a random sample of (state, order, demand) triples (:func:`check_factorisation`;
the tests check it exhaustively on small spaces).  A change of the dynamics
that breaks it (e.g. an age-structured stock) stops the solve with an error
instead of giving a wrong optimum.

Ranking
-------
States are ordered by (suffix ``u = (β_2..β_L)``, phase ``w``, ``y``); ``y``
runs over ``[low, B − Σu]``, contiguous.  Suffixes are ranked
lexicographically among the vectors of multiples of ``m`` (at most ``a_max``
each) with sum at most ``B − low`` (combinatorial number system, a table
``G[j, rest, v]`` of how many suffixes precede a coordinate value; O(L) per
rank).  The successors of one state under one order then sit in one
contiguous run of the value array (only ``y`` varies with the demand), and the
successor suffixes of consecutive orders ``a`` have consecutive ranks, so a
sweep touches memory almost sequentially.  Memory: 3 float64 per state (values,
new values, scratch) plus the policy.

Action bounds (proven, not guessed)
-----------------------------------
With no fixed or unit cost or price (``K = c = r = 0``), no pack size or order
cap (``m = 1``, no ``max_order``), stationary demand, the average-cost
objective and a position bound ``B`` not below it, the optimal order never
raises the inventory position above ``S̄``, the smallest level whose
``L + 1``-period demand cdf exceeds ``p / (p + h)``: for backorders this is the
optimal base-stock policy itself (Karlin & Scarf 1958; Zipkin 2000, §9.4); for
lost sales it is Morton's upper bound (Morton 1971, *Oper. Res.* 19(7); restated
in Zipkin 2008, "On the structure of lost-sales inventory models", *Oper. Res.*
56(4)).  The orders are then searched in ``[0, min(a_feasible, S̄ − position)]``
only (``action_bound="auto"``); restricting the action set to one that still
contains an optimal policy leaves the optimal gain unchanged.  The tests solve
every instance they can with the full action set and compare.  Under that
bound the set of states with position ``<= S̄`` is closed, so
``position_bound = S̄`` gives the unbounded problem's optimum exactly (the
benchmark's L = 5 and 6 runs use it).

Algorithm, stopping rule and tie-breaking are those of the explicit DP:
relative value iteration with the aperiodicity transformation and modified
policy iteration (Puterman 1994, §8.5–8.7), stopped on the Odoni (1969) gain
bracket; value iteration for the discounted objective.  Every sweep's bracket
bounds the optimal gain, so an interrupted run (Ctrl-C) returns the tightest
bracket seen so far (``interrupted=True``).

Threads: the sweeps run over states in parallel (numba ``prange``) when the
model is large (:data:`PARALLEL_MIN_STATES`); numba was chosen over C
extensions because the transition kernel it checks against is numba code too.

Size: about 900 lines, kept together on purpose: the ranking, the period tables, the
factorisation check and the sweeps share one indexing of the reduced states, and the
compiled sweeps inline the ranking helpers; a change to one must be read with the others.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numba as nb
import numpy as np

from replenish.core.jit import variants
from replenish.core.validate import SpecError
from replenish.model.demand import TAIL, multi_period_pmf
from replenish.model.dynamics import clip_orders, expand_rows, kernels, reduce_rows
from replenish.model.spec import Problem

Objective = Literal["average", "discounted"]

_k = kernels()
transition, reduce_state, clip_backlog = _k.transition, _k.reduce_state, _k.clip_backlog
expand_state, max_feasible = _k.expand_state, _k.max_feasible

#: models with at least this many states use the threaded sweeps
PARALLEL_MIN_STATES = 200_000
#: bytes per state the sweeps hold: value, new value, scratch (float64) and the order (int32)
BYTES_PER_STATE = 3 * 8 + 4


# ----------------------------------------------------------------------------
# Ranking of reduced states
# ----------------------------------------------------------------------------
@nb.njit(cache=True)
def _suffixes(k, total, m, amax, n):  # pragma: no cover
    """All suffixes in rank order (lexicographic, first coordinate most significant)."""
    out = np.zeros((n, max(k, 1)), dtype=np.int64)
    u = np.zeros(max(k, 1), dtype=np.int64)
    s = 0
    i = 0
    while True:
        for j in range(k):
            out[i, j] = u[j]
        i += 1
        j = k - 1
        while j >= 0:
            if u[j] + m <= amax and s + m <= total:
                u[j] += m
                s += m
                break
            s -= u[j]
            u[j] = 0
            j -= 1
        if j < 0:
            break
    return out


@nb.njit(cache=True)
def _rank_rows(suffix, k, total, m, G):  # pragma: no cover
    """Ranks of suffix rows (n, k)."""
    n = suffix.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        r = 0
        rest = total
        for j in range(k):
            v = suffix[i, j]
            r += G[k - 1 - j, rest, v // m]
            rest -= v
        out[i] = r
    return out


@dataclass(frozen=True)
class RankedSpace:
    """The reduced state space of a problem, ranked without a lookup table.

    Attributes:
        problem: the problem.
        k: suffix length ``max(L − 1, 0)``.
        low: lowest net inventory ``Problem.min_net_inventory``; ``bound``: ``B``.
        total: largest suffix sum ``B − low``.
        G: int64 (k, total + 1, n_values + 1), ranking table.
        suffixes: int64 (n_suffixes, max(k, 1)), suffixes in rank order.
        sums: int64 (n_suffixes,), their sums.
        start: int64 (n_suffixes·P + 1,), first state index of each (suffix, phase)
            group; a group holds ``y = low .. B − sum``.
    """

    problem: Problem
    k: int
    low: int
    bound: int
    total: int
    G: np.ndarray = field(repr=False)
    suffixes: np.ndarray = field(repr=False)
    sums: np.ndarray = field(repr=False)
    start: np.ndarray = field(repr=False)

    @property
    def n_states(self) -> int:
        return int(self.start[-1])

    @property
    def period(self) -> int:
        return self.problem.period

    @staticmethod
    def count(problem: Problem) -> tuple[int, int]:
        """``(states, suffixes)`` without enumerating (for memory estimates)."""
        C = _count_table(problem)
        k = max(problem.lead_time - 1, 0)
        low, B = problem.min_net_inventory, problem.bound
        # Σ over suffixes of (B − sum − low + 1) = Σ_s (#suffixes with sum exactly s)·(total − s + 1)
        exact = np.diff(np.concatenate([[0.0], C[k]]))
        total = B - low
        n = float(np.sum(exact * (total - np.arange(total + 1) + 1)))
        return int(n) * problem.period, int(C[k][-1])

    @classmethod
    def of(cls, problem: Problem) -> RankedSpace:
        C = _count_table(problem)
        k = max(problem.lead_time - 1, 0)
        low, B, m = problem.min_net_inventory, problem.bound, problem.order_multiple
        total = B - low
        nv = problem.max_order_units // m + 1
        G = np.zeros((max(k, 1), total + 1, nv + 1), dtype=np.int64)
        for j in range(k):
            for rest in range(total + 1):
                acc = 0
                for vi in range(nv + 1):
                    G[j, rest, vi] = acc
                    if vi < nv and vi * m <= rest:
                        acc += int(C[j][rest - vi * m])
        n_suf = int(C[k][-1])
        suffixes = _suffixes(k, total, m, problem.max_order_units, n_suf)
        sums = suffixes[:, :k].sum(axis=1) if k else np.zeros(1, dtype=np.int64)
        P = problem.period
        size = np.repeat(B - sums - low + 1, P)
        start = np.zeros(n_suf * P + 1, dtype=np.int64)
        np.cumsum(size, out=start[1:])
        return cls(problem=problem, k=k, low=low, bound=B, total=total, G=G, suffixes=suffixes,
                   sums=sums, start=start)

    def states(self) -> np.ndarray:
        """All reduced states ``[y, β_2.., (w)]`` (int64 (n, dim)) in index order."""
        P, k = self.period, self.k
        n = self.n_states
        dim = 1 + k + (1 if self.problem.seasonal else 0)
        out = np.empty((n, dim), dtype=np.int64)
        sizes = np.diff(self.start)
        g = np.repeat(np.arange(sizes.size), sizes)
        out[:, 0] = self.low + np.arange(n) - self.start[:-1][g]
        r = g // P
        if k:
            out[:, 1:1 + k] = self.suffixes[r, :k]
        if self.problem.seasonal:
            out[:, -1] = g - r * P
        return out

    def index(self, reduced: np.ndarray) -> np.ndarray:
        """Indices of reduced states (n, dim), as :meth:`states` orders them."""
        x = np.atleast_2d(np.asarray(reduced, dtype=np.int64))
        k = self.k
        r = _rank_rows(np.ascontiguousarray(x[:, 1:1 + k]) if k else np.zeros((len(x), 1), np.int64),
                       k, self.total, self.problem.order_multiple, self.G)
        w = x[:, -1] if self.problem.seasonal else 0
        return self.start[r * self.period + w] + x[:, 0] - self.low


def _count_table(problem: Problem) -> list[np.ndarray]:
    """``C[j][s]``: number of length-``j`` suffixes (multiples of ``m``, each at most
    ``a_max``) with sum at most ``s``, for ``s = 0..B − low`` (float64: counts can pass 2^53
    only for spaces far beyond any memory, which :func:`solve_matrix_free` refuses)."""
    if problem.perishable:
        raise SpecError("dp.engine", "matrix-free", "is not available for a perishable product "
                        "(problem.shelf_life); use the explicit DP")
    k = max(problem.lead_time - 1, 0)
    total = problem.bound - problem.min_net_inventory
    m, amax = problem.order_multiple, problem.max_order_units
    exact = np.zeros(total + 1)
    exact[0] = 1.0
    tables = [np.cumsum(exact)]
    for _ in range(k):
        new = np.zeros(total + 1)
        for v in range(0, min(amax, total) + 1, m):
            new[v:] += exact[: total + 1 - v]
        exact = new
        tables.append(np.cumsum(exact))
    return tables


# ----------------------------------------------------------------------------
# The period's tables, computed by calling the one transition function
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PeriodTables:
    """One period's outcome as a function of the pre-demand stock ``s₀``.

    Attributes:
        succ_ptr: int64 (P, n_s0 + 1), successor entries of ``(w, s₀)`` are
            ``succ_ptr[w, s₀ − low] .. succ_ptr[w, s₀ − low + 1] − 1``.
        succ_net: int64, net inventory after demand ``n(s₀, d)`` (distinct values,
            demands with the same value merged).
        succ_prob: float64, their probabilities.
        pre_cost: float64 (P, n_s0), ``E f_w(s₀, D)`` (holding + stockout − revenue, $).
        order_cost: float64 (n_orders,), ``o(a)`` for ``a = 0, m, 2m..`` ($).
        feasible: int64 (B − low + 1,), largest order searched at inventory position
            ``low + i`` (feasibility, and the action bound when it applies).
        action_bound: ``S̄`` when the proven bound is used, else ``None``.
    """

    succ_ptr: np.ndarray
    succ_net: np.ndarray
    succ_prob: np.ndarray
    pre_cost: np.ndarray
    order_cost: np.ndarray
    feasible: np.ndarray
    action_bound: int | None


def _representative(problem: Problem, s0: int, w: int) -> np.ndarray:
    full = np.zeros(problem.state_dim, dtype=np.int64)
    full[0] = s0
    if problem.seasonal:
        full[-1] = w
    return full


def morton_bound(problem: Problem, objective: Objective = "average") -> int | None:
    """``S̄`` when the proven order bound applies to ``problem`` (see module docstring), else ``None``."""
    p = problem
    if (objective != "average" or p.seasonal or p.fixed_order_cost or p.unit_cost or p.price
            or p.order_multiple != 1 or p.max_order is not None):
        return None
    ratio = p.stockout_cost / (p.stockout_cost + p.holding_cost) if p.holding_cost else 1.0
    if ratio >= 1.0:
        return None
    cdf = np.cumsum(multi_period_pmf(p.demand, p.lead_time + 1))
    above = np.flatnonzero(cdf > ratio + 1e-9)  # strictly above: ties keep every optimal level
    if above.size == 0:
        return None
    s_bar = int(above[0])
    return s_bar if s_bar <= p.bound else None  # a binding bound B voids the theorem


@nb.njit(cache=True)
def _tables_nb(L, lost, P, cost, low, B, pmf, supp, nsupp, dim):  # pragma: no cover
    """Successor lists and expected day cost per (phase, pre-demand stock), by ``transition``."""
    n_s0 = B - low + 1
    cap = 0
    for w in range(P):
        cap += n_s0 * nsupp[w]
    ptr = np.zeros((P, n_s0 + 1), dtype=np.int64)
    nets = np.empty(max(cap, 1), dtype=np.int64)
    probs = np.empty(max(cap, 1))
    pre = np.zeros((P, n_s0))
    state = np.zeros(dim, dtype=np.int64)
    out = np.zeros(dim, dtype=np.int64)
    t = 0
    for w in range(P):
        if w > 0:
            ptr[w, 0] = t
        for i in range(n_s0):
            for j in range(dim):
                state[j] = 0
            state[0] = low + i  # the representative [s₀, 0, .., 0, (w)]
            if P > 1:
                state[dim - 1] = w
            first = t
            for jd in range(nsupp[w]):
                d = supp[w, jd]
                h, s, o, r, _, _, _, _ = transition(state, 0, d, L, lost, P, cost, out)
                pre[w, i] += pmf[w, d] * (h + s + o - r)
                if t > first and nets[t - 1] == out[0]:
                    probs[t - 1] += pmf[w, d]
                else:
                    nets[t] = out[0]
                    probs[t] = pmf[w, d]
                    t += 1
            ptr[w, i + 1] = t
    return ptr, nets[:t].copy(), probs[:t].copy(), pre


def period_tables(problem: Problem, *, tail: float = TAIL, action_bound: str = "auto",
                  objective: Objective = "average") -> PeriodTables:
    """Tables of one period, by calling :func:`~replenish.model.dynamics.transition`."""
    from replenish.evaluation.markov import demand_support

    p = problem
    L, P, low, B, m = p.lead_time, p.period, p.min_net_inventory, p.bound, p.order_multiple
    cost = p.cost_params()
    pmfs = [p.demand.pmf(w, tail=tail) for w in range(P)]
    pmf = np.zeros((P, max(len(x) for x in pmfs)))
    for w, x in enumerate(pmfs):
        pmf[w, : len(x)] = x
    supp, nsupp = demand_support(pmf)
    ptr, nets, probs, pre = _tables_nb(L, p.rules, P, cost, low, B, pmf, supp, nsupp,
                                       p.state_dim)
    out = np.zeros(p.state_dim, dtype=np.int64)
    zero = _representative(p, 0, 0)
    n_orders = p.max_order_units // m + 1
    order_cost = np.array([transition(zero, a * m, 0, L, p.rules, P, cost, out)[2]
                           for a in range(n_orders)])
    n_s0 = B - low + 1
    feasible = np.array([max_feasible(_representative(p, low + i, 0), L + 1, B, p.max_order_units, m)
                         for i in range(n_s0)], dtype=np.int64)
    s_bar = morton_bound(p, objective) if action_bound == "auto" else None
    if s_bar is not None:
        feasible = np.minimum(feasible, np.maximum(s_bar - (low + np.arange(n_s0)), 0))
    return PeriodTables(succ_ptr=ptr, succ_net=nets, succ_prob=probs, pre_cost=pre,
                        order_cost=order_cost, feasible=feasible, action_bound=s_bar)


@nb.njit(cache=True)
def _rank_one(x, k, total, m, G, start, P, low, seasonal):  # pragma: no cover
    """Index of one reduced state ``x`` (the ranking of :class:`RankedSpace`)."""
    r = 0
    rest = total
    for j in range(k):
        v = x[1 + j]
        r += G[k - 1 - j, rest, v // m]
        rest -= v
    w = x[x.shape[0] - 1] if seasonal else 0
    return start[r * P + w] + x[0] - low


@nb.njit(cache=True)
def _check_nb(states, orders, demands, L, lost, P, cost, k, total, m, G, start, low, seasonal,
              succ_ptr, succ_net, order_cost, dim):  # pragma: no cover
    """First row whose factorised period disagrees with ``transition``, or −1."""
    full = np.zeros(dim, dtype=np.int64)
    out = np.zeros(dim, dtype=np.int64)
    rep = np.zeros(dim, dtype=np.int64)
    day = np.zeros(dim, dtype=np.int64)
    nxt = np.zeros(states.shape[1], dtype=np.int64)
    for i in range(states.shape[0]):
        red = states[i]
        a = orders[i]
        d = demands[i]
        # the one rule: transition → reduce_state → clip_backlog
        expand_state(red, L, full)
        h, s, o, r, _, _, _, _ = transition(full, a, d, L, lost, P, cost, out)
        k0 = reduce_state(out, L)
        out[k0], _ = clip_backlog(out[k0], low)
        want = _rank_one(out[k0:], k, total, m, G, start, P, low, seasonal)
        # the factorisation the sweeps use: the day of the representative [s₀, 0.., (w)], the
        # pipeline shift with the order appended, b added to the net inventory, truncation
        w = red[red.shape[0] - 1] if seasonal else 0
        s0 = red[0] if L >= 1 else red[0] + a
        for j in range(dim):
            rep[j] = 0
        rep[0] = s0
        if seasonal:
            rep[dim - 1] = w
        h2, s2, o2, r2, _, _, _, _ = transition(rep, 0, d, L, lost, P, cost, day)
        found = False
        for t in range(succ_ptr[w, s0 - low], succ_ptr[w, s0 - low + 1]):
            if succ_net[t] == day[0]:
                found = True
        b = red[1] if L >= 2 else (a if L == 1 else 0)
        nxt[0] = max(day[0] + b, low)
        for j in range(1, k):
            nxt[j] = red[j + 1]
        if k >= 1:
            nxt[k] = a
        if seasonal:
            nxt[nxt.shape[0] - 1] = (w + 1) % P
        got = _rank_one(nxt, k, total, m, G, start, P, low, seasonal)
        c1 = h + s + o - r
        c2 = h2 + s2 + o2 - r2 + order_cost[a // m]
        if not found or got != want or abs(c1 - c2) > 1e-9 * (1.0 + abs(c1)):
            return i
    return -1


def check_factorisation(problem: Problem, space: RankedSpace, tables: PeriodTables, *,
                        samples: int = 4096, rng: np.random.Generator | None = None,
                        exhaustive: bool = False) -> int:
    """Compare the factorised period with :func:`transition` (+ reduction and truncation).

    On ``samples`` random (state, feasible order, demand) triples, or on every
    triple when ``exhaustive``.  Returns the number of triples checked; raises
    ``RuntimeError`` on the first disagreement (successor index or cost).
    """
    p = problem
    L, P, m = p.lead_time, p.period, p.order_multiple
    rng = rng if rng is not None else np.random.default_rng(0)
    n = space.n_states
    rows = np.arange(n) if exhaustive else rng.integers(0, n, size=min(samples, n))
    states = _states_slice(space, rows)
    full = expand_rows(states, L)
    amax = _k.max_feasible_batch(full, L, p.bound, p.max_order_units, m)
    supports = [np.flatnonzero(p.demand.pmf(w, tail=TAIL) > 0) for w in range(P)]
    phase = states[:, -1] if p.seasonal else np.zeros(len(states), dtype=np.int64)
    if exhaustive:
        reps, orders, demands = [], [], []
        for i in range(len(states)):
            a = np.arange(0, amax[i] + 1, m)
            d = supports[phase[i]]
            reps.append(np.full(a.size * d.size, i))
            orders.append(np.repeat(a, d.size))
            demands.append(np.tile(d, a.size))
        idx = np.concatenate(reps)
        states, o, d = states[idx], np.concatenate(orders), np.concatenate(demands)
    else:
        o = rng.integers(0, amax // m + 1) * m
        d = np.zeros(len(states), dtype=np.int64)
        for w in range(P):
            at = phase == w
            d[at] = rng.choice(supports[w], size=int(at.sum()))
    bad = _check_nb(np.ascontiguousarray(states), o.astype(np.int64), d.astype(np.int64), L,
                    p.rules, P, p.cost_params(), space.k, space.total, m, space.G,
                    space.start, space.low, p.seasonal, tables.succ_ptr, tables.succ_net,
                    tables.order_cost, p.state_dim)
    if bad >= 0:
        raise RuntimeError(
            f"internal error: the matrix-free DP's factorised period disagrees with "
            f"replenish.dynamics.transition in state {states[bad].tolist()}, order {o[bad]}, "
            f"demand {d[bad]}; use engine='explicit'")
    return len(states)


# ----------------------------------------------------------------------------
# Sweeps (compiled)
# ----------------------------------------------------------------------------
def _group_py(g, P, k, m, total, G, suffixes, start):  # pragma: no cover
    """Group ``g`` = (suffix ``r``, phase ``w``): ``(r, w, w + 1 mod P, first index, size,
    rank of the successor suffix without its last coordinate, b = β_2)``."""
    r = g // P
    w = g - r * P
    base_r = 0
    rest = total
    bnext = 0
    if k >= 1:
        bnext = suffixes[r, 0]
        for j in range(k - 1):
            v = suffixes[r, j + 1]
            base_r += G[k - 1 - j, rest, v // m]
            rest -= v
    return r, w, (w + 1) % P, start[g], start[g + 1] - start[g], base_r, bnext


def _target_py(a, L, k, m, P, w2, low, base_r, bnext, start):  # pragma: no cover
    """For order ``a``: ``b`` added to the net inventory, and the successors' base index
    (the successor ``y'`` sits at ``base + y'``; consecutive orders → consecutive suffixes)."""
    if k >= 1:
        r2 = base_r + a // m
        b = bnext
    else:
        r2 = 0
        b = a if L == 1 else 0
    return b, start[r2 * P + w2] - low


def _expect_py(w, c, b, b2, low, succ_ptr, succ_net, succ_prob, V):  # pragma: no cover
    """``Σ_d P(d) V(successor)`` from pre-demand stock index ``c`` in phase ``w``."""
    acc = 0.0
    for t in range(succ_ptr[w, c], succ_ptr[w, c + 1]):
        y2 = succ_net[t] + b
        if y2 < low:
            y2 = low
        acc += succ_prob[t] * V[b2 + y2]
    return acc


_group = nb.njit(inline="always", cache=True)(_group_py)
_expect = nb.njit(inline="always", cache=True)(_expect_py)
_target = nb.njit(inline="always", cache=True)(_target_py)


def _bellman_py(L, k, P, low, m, total, G, sums, suffixes, start, feasible, succ_ptr, succ_net,
                succ_prob, pre_cost, order_cost, V, gamma, keep, new, pol, glo, ghi):  # pragma: no cover
    """``new = min_a c(s,a) + γ Σ P(s'|s,a) V(s')`` (ties to the smaller order), the argmin
    in ``pol``, and per group the min / max of ``new − keep·V`` in ``glo`` / ``ghi``."""
    n_groups = start.shape[0] - 1
    for g in nb.prange(n_groups):
        r, w, w2, i0, ny, base_r, bnext = _group(g, P, k, m, total, G, suffixes, start)
        sig = sums[r]
        for j in range(ny):
            new[i0 + j] = np.inf
            pol[i0 + j] = 0
        amax = feasible[sig]  # at the group's lowest position, low + sig
        for a in range(0, amax + 1, m):
            b, b2 = _target(a, L, k, m, P, w2, low, base_r, bnext, start)
            oc = order_cost[a // m]
            for j in range(ny):
                if a > feasible[j + sig]:
                    break
                c = j + a if L == 0 else j  # s₀ − low
                q = pre_cost[w, c] + oc + gamma * _expect(w, c, b, b2, low, succ_ptr, succ_net,
                                                          succ_prob, V)
                idx = i0 + j
                if q < new[idx] - 1e-12 * (1.0 + abs(q)):
                    new[idx] = q
                    pol[idx] = a
        lo_d = np.inf
        hi_d = -np.inf
        for j in range(ny):
            dv = new[i0 + j] - keep * V[i0 + j]
            lo_d = min(lo_d, dv)
            hi_d = max(hi_d, dv)
        glo[g] = lo_d
        ghi[g] = hi_d


def _evaluate_py(L, k, P, low, m, total, G, sums, suffixes, start, succ_ptr, succ_net, succ_prob,
                 pre_cost, order_cost, pol, V, gamma, keep, out, glo, ghi):  # pragma: no cover
    """``out = c_π + γ P_π V + keep·V`` for the policy ``pol``; per group the min / max of
    ``out − V − keep·V`` (the policy's gain bracket when ``keep = 1 − τ``)."""
    n_groups = start.shape[0] - 1
    for g in nb.prange(n_groups):
        _, w, w2, i0, ny, base_r, bnext = _group(g, P, k, m, total, G, suffixes, start)
        lo_d = np.inf
        hi_d = -np.inf
        for j in range(ny):
            idx = i0 + j
            a = pol[idx]
            b, b2 = _target(a, L, k, m, P, w2, low, base_r, bnext, start)
            c = j + a if L == 0 else j
            acc = _expect(w, c, b, b2, low, succ_ptr, succ_net, succ_prob, V)
            q = pre_cost[w, c] + order_cost[a // m] + gamma * acc + keep * V[idx]
            out[idx] = q
            dv = q - V[idx]
            lo_d = min(lo_d, dv)
            hi_d = max(hi_d, dv)
        glo[g] = lo_d
        ghi[g] = hi_d


def _shift_py(src, dst, shift, keep_old, old):  # pragma: no cover
    """``dst = src + keep_old·old − shift`` (in place allowed when ``dst is old``)."""
    for i in nb.prange(src.shape[0]):
        dst[i] = src[i] + keep_old * old[i] - shift


_bellman_serial, _bellman_parallel = variants(_bellman_py)
_evaluate_serial, _evaluate_parallel = variants(_evaluate_py)
_shift_serial, _shift_parallel = variants(_shift_py)


# ----------------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------------
def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo; else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:  # pragma: no cover
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 * 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory the matrix-free sweeps need (bytes), computed before anything is allocated."""

    states: int
    suffixes: int
    bytes: int

    def __str__(self) -> str:
        return f"{self.states:,} states, about {self.bytes / 2**30:.3g} GiB"


def estimate_memory(problem: Problem, *, table: bool = False) -> MemoryEstimate:
    """Memory of :func:`solve_matrix_free` on ``problem`` (``table``: plus the state array of a
    :class:`~replenish.policies.table.TablePolicy`)."""
    n, n_suf = RankedSpace.count(problem)
    k = max(problem.lead_time - 1, 0)
    per = BYTES_PER_STATE + (8 * (problem.state_dim + 1) if table else 0)
    b = n * per + n_suf * (8 * (k + 1) + 8 * problem.period * 3)
    return MemoryEstimate(states=n, suffixes=n_suf, bytes=int(b))


def check_memory(problem: Problem, *, table: bool = False, limit: int | None = None) -> MemoryEstimate:
    """The estimate, or a one-line :class:`SpecError` when it exceeds ``limit`` (default: 90% of
    the memory available now)."""
    est = estimate_memory(problem, table=table)
    cap = int(0.9 * available_memory()) if limit is None else int(limit)
    if est.bytes > cap:
        raise SpecError("problem.bound", problem.bound,
                        f"the exact DP needs {est} and {cap / 2**30:.3g} GiB are available: lower "
                        "the bound or capacity, or use --method dqn or a classic policy evaluated "
                        "by simulation")
    return est


# ----------------------------------------------------------------------------
# Solvers
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MatrixFreeResult:
    """Result of :func:`solve_matrix_free` (and :func:`evaluate_matrix_free`).

    Attributes:
        space: the ranked state space; ``space.states()`` gives the states in the
            order of ``orders`` and ``values``.
        orders: int32 (n,), the (ε-)optimal order of each state (the evaluated
            policy's for :func:`evaluate_matrix_free`).
        values: float64 (n,), relative values ``h`` (average) or costs ``V`` (discounted), $.
        objective: ``"average"`` or ``"discounted"``.
        gain_bounds: average: ``(lower, upper)`` bracket of the gain from the last
            sweep; ``best_bounds``: the tightest bracket over all sweeps (each is valid).
        iterations: Bellman (or evaluation) sweeps.
        converged: whether the stopping rule was met; ``interrupted``: stopped by Ctrl-C.
        action_bound: ``S̄`` when the proven order bound cut the action set.
        memory: the estimate made before the run.
        seconds: wall time.
    """

    space: RankedSpace = field(repr=False)
    tables: PeriodTables = field(repr=False)
    orders: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    objective: Objective
    gain_bounds: tuple[float, float] | None
    best_bounds: tuple[float, float] | None
    iterations: int
    converged: bool
    interrupted: bool
    action_bound: int | None
    memory: MemoryEstimate
    seconds: float

    @property
    def gain(self) -> float | None:
        """Midpoint of the tightest gain bracket (average objective)."""
        if self.best_bounds is None:
            return None
        return 0.5 * (self.best_bounds[0] + self.best_bounds[1])

    def action_values(self, full_state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(orders, Q)`` of every feasible order in one full state (with the DP's values)."""
        p = self.space.problem
        red = reduce_rows(np.asarray(full_state, dtype=np.int64)[None, :], p.lead_time)
        red[:, 0] = np.maximum(red[:, 0], self.space.low)
        full = np.zeros(p.state_dim, dtype=np.int64)
        expand_state(red[0], p.lead_time, full)
        amax = max_feasible(full, p.position_slots, p.bound, p.max_order_units, p.order_multiple)
        orders = np.arange(0, amax + 1, p.order_multiple, dtype=np.int64)
        gamma = 1.0 if self.objective == "average" else p.discount
        q = np.empty(orders.size)
        pmf_w = int(red[0, -1]) if p.seasonal else 0
        pmf = p.demand.pmf(pmf_w, tail=TAIL)
        out = np.zeros(p.state_dim, dtype=np.int64)
        cost = p.cost_params()
        for j, a in enumerate(orders):
            acc = 0.0
            for d in np.flatnonzero(pmf > 0):
                h, s, o, r, _, _, _, _ = transition(full, int(a), int(d), p.lead_time, p.rules,
                                              p.period, cost, out)
                k0 = reduce_state(out, p.lead_time)
                out[k0], _ = clip_backlog(out[k0], self.space.low)
                acc += pmf[d] * (h + s + o - r + gamma * self.values[
                    int(self.space.index(out[k0:][None, :])[0])])
            q[j] = acc
        return orders, q


def _sweep_args(problem: Problem, space: RankedSpace,
                tables: PeriodTables) -> tuple[tuple, tuple, np.ndarray, np.ndarray]:
    """The sweeps' arguments: ranking, period tables, and per-group bracket buffers."""
    common = (problem.lead_time, space.k, problem.period, space.low, problem.order_multiple,
              space.total, space.G, space.sums, space.suffixes, space.start)
    succ = (tables.succ_ptr, tables.succ_net, tables.succ_prob, tables.pre_cost, tables.order_cost)
    n_groups = space.start.shape[0] - 1
    return common, succ, np.empty(n_groups), np.empty(n_groups)


def _kernels(n: int) -> tuple[Callable, Callable, Callable]:
    if n >= PARALLEL_MIN_STATES:
        return _bellman_parallel, _evaluate_parallel, _shift_parallel
    return _bellman_serial, _evaluate_serial, _shift_serial


def solve_matrix_free(problem: Problem, *, objective: Objective = "average", tol: float = 1e-9,
                      eval_sweeps: int = 3, tau: float | None = None, max_iter: int = 100_000,
                      tail: float = TAIL, action_bound: Literal["auto", "none"] = "auto",
                      memory_limit: int | None = None, check_samples: int = 4096,
                      progress: Callable[[int, float, float], None] | None = None) -> MatrixFreeResult:
    """Optimal policy of ``problem`` by matrix-free DP (the algorithm of ``solve_dp``).

    Args:
        problem: problem with a known demand distribution.
        objective, tol, eval_sweeps, tau, max_iter, tail: as :func:`~replenish.solvers.dp.solve_dp`.
        action_bound: ``"auto"`` cuts the orders by the proven bound where it
            applies (module docstring); ``"none"`` searches every feasible order.
        memory_limit: bytes; default 90% of the memory available now.  The
            estimate is checked before any allocation (one-line
            :class:`SpecError` when over).
        check_samples: random triples on which the factorised period is checked
            against :func:`~replenish.model.dynamics.transition` first.
        progress: called after every Bellman sweep with ``(sweep, lower, upper)``
            (the gain bracket; for the discounted objective the sup-norm change twice).

    Ctrl-C during the sweeps stops the run and returns the last policy with
    ``interrupted=True`` and the tightest bracket seen.
    """
    t0 = time.perf_counter()
    if objective not in ("average", "discounted"):
        raise SpecError("objective", objective, "must be 'average' or 'discounted'")
    if action_bound not in ("auto", "none"):
        raise SpecError("action_bound", action_bound, "must be 'auto' or 'none'")
    if tau is None:
        tau = 0.5 if problem.seasonal else 0.95
    if not 0 < tau <= 1:
        raise SpecError("tau", tau, "must be in (0, 1]")
    memory = check_memory(problem, limit=memory_limit)
    space = RankedSpace.of(problem)
    tables = period_tables(problem, tail=tail, action_bound=action_bound, objective=objective)
    if check_samples:
        check_factorisation(problem, space, tables, samples=check_samples)
    n = space.n_states
    bellman, evaluate, shift = _kernels(n)
    common, succ, glo, ghi = _sweep_args(problem, space, tables)
    V = np.zeros(n)
    new = np.empty(n)
    scratch = np.empty(n)
    pol = np.zeros(n, dtype=np.int32)
    converged = interrupted = False
    bounds: tuple[float, float] | None = None
    best: tuple[float, float] | None = None
    it = 0
    average = objective == "average"
    gamma = tau if average else problem.discount
    try:
        for it in range(1, max_iter + 1):
            bellman(*common, tables.feasible, *succ, V, gamma, tau if average else 1.0, new, pol,
                    glo, ghi)
            if average:
                lo, hi = float(glo.min()), float(ghi.max())
                bounds = (lo, hi)
                best = (lo, hi) if best is None else (max(best[0], lo), min(best[1], hi))
                if progress is not None:
                    progress(it, lo, hi)
                if hi - lo <= tol * max(1.0, abs(lo)):
                    converged = True
                    break
                # V ← T̃V = new + (1 − τ)V, then relative to the first state
                shift(new, V, float(new[0] + (1.0 - tau) * V[0]), 1.0 - tau, V)
                for _ in range(eval_sweeps):
                    evaluate(*common, *succ, pol, V, tau, 1.0 - tau, scratch, glo, ghi)
                    shift(scratch, V, float(scratch[0]), 0.0, V)
            else:
                delta = float(max(-glo.min(), ghi.max()))  # ‖new − V‖∞
                eps = tol * max(1.0, float(np.max(np.abs(new))))
                V, new = new, V
                if progress is not None:
                    progress(it, -delta, delta)
                if delta < eps * (1 - gamma) / (2 * gamma):
                    converged = True
                    break
                for _ in range(eval_sweeps):
                    evaluate(*common, *succ, pol, V, gamma, 0.0, scratch, glo, ghi)
                    V, scratch = scratch, V
    except KeyboardInterrupt:
        interrupted = True
    values = tau * V if average else V
    return MatrixFreeResult(space=space, tables=tables, orders=pol, values=values,
                            objective=objective, gain_bounds=bounds, best_bounds=best,
                            iterations=it, converged=converged, interrupted=interrupted,
                            action_bound=tables.action_bound, memory=memory,
                            seconds=time.perf_counter() - t0)


def evaluate_matrix_free(problem: Problem, orders: np.ndarray | Callable[[np.ndarray], np.ndarray],
                         *, tol: float = 1e-9, tau: float | None = None, max_iter: int = 1_000_000,
                         tail: float = TAIL, memory_limit: int | None = None,
                         batch: int = 1_000_000) -> MatrixFreeResult:
    """Long-run average cost of a fixed policy by matrix-free relative value iteration.

    ``orders`` is an int array over ``RankedSpace.of(problem).states()`` or a
    function mapping full states (n, d) to orders (a policy's ``act`` on
    batches of the representative full states).  The result's ``best_bounds``
    bracket the policy's gain (Odoni bounds of its own operator); valid when the
    policy's chain has a single recurrent class, as every policy in replenish has
    from the states it reaches.
    """
    t0 = time.perf_counter()
    memory = check_memory(problem, limit=memory_limit)
    space = RankedSpace.of(problem)
    tables = period_tables(problem, tail=tail, action_bound="none")
    n = space.n_states
    if callable(orders):
        pol = np.empty(n, dtype=np.int32)
        for lo_i in range(0, n, batch):
            idx = np.arange(lo_i, min(n, lo_i + batch))
            red = _states_slice(space, idx)
            full = expand_rows(red, problem.lead_time)
            pol[idx] = clip_orders(problem, full, np.asarray(orders(full)))
    else:
        pol = np.ascontiguousarray(orders, dtype=np.int32)
        if pol.shape != (n,):
            raise SpecError("orders", f"shape {pol.shape}", f"must have one order per state ({n:,})")
    if tau is None:
        tau = 0.5 if problem.seasonal else 0.95
    _, evaluate, shift = _kernels(n)
    common, succ, glo, ghi = _sweep_args(problem, space, tables)
    V = np.zeros(n)
    scratch = np.empty(n)
    best: tuple[float, float] | None = None
    bounds: tuple[float, float] | None = None
    converged = interrupted = False
    it = 0
    try:
        for it in range(1, max_iter + 1):  # noqa: B007
            # T̃_π V − V = c + τ(PV − V): the bracket of the transformed chain (same gain)
            evaluate(*common, *succ, pol, V, tau, 1.0 - tau, scratch, glo, ghi)
            lo, hi = float(glo.min()), float(ghi.max())
            bounds = (lo, hi)
            best = (lo, hi) if best is None else (max(best[0], lo), min(best[1], hi))
            if hi - lo <= tol * max(1.0, abs(lo)):
                converged = True
                break
            shift(scratch, V, float(scratch[0]), 0.0, V)
    except KeyboardInterrupt:
        interrupted = True
    return MatrixFreeResult(space=space, tables=tables, orders=pol, values=tau * V,
                            objective="average", gain_bounds=bounds, best_bounds=best,
                            iterations=it, converged=converged, interrupted=interrupted,
                            action_bound=None, memory=memory, seconds=time.perf_counter() - t0)


def _states_slice(space: RankedSpace, idx: np.ndarray) -> np.ndarray:
    """Reduced states of the given indices (without materialising all of them)."""
    P, k = space.period, space.k
    g = np.searchsorted(space.start, idx, side="right") - 1
    r = g // P
    dim = 1 + k + (1 if space.problem.seasonal else 0)
    out = np.empty((idx.size, dim), dtype=np.int64)
    out[:, 0] = space.low + idx - space.start[g]
    if k:
        out[:, 1:1 + k] = space.suffixes[r, :k]
    if space.problem.seasonal:
        out[:, -1] = g - r * P
    return out
