"""The inventory dynamics, defined once.

:func:`transition` is the single statement of the rules of one period; the
Gymnasium environment, the batched simulator, exact policy evaluation, the
dynamic-programming solver and Q-learning all call it (directly or through the
helpers below).  Nothing else in the package re-states these rules.

State vector (int64): ``[α, β_1, .., β_L, (w)]``: on-hand ``α`` after the last
demand (negative = backlog), pipeline ``β_1 .. β_L`` (``β_1`` arrives next),
and the phase ``w`` of the next demand day when demand is seasonal.  A
perishable product (shelf life ``M``, lost sales) has ``n = max(M − 1, 1)``
on-hand entries by remaining life, oldest first: ``[α_1, .., α_n, β_1, ..,
β_L, (w)]``; its period (:func:`_perishable_period`, reached through
:func:`transition`) serves demand by the issuing rule, charges ``w`` per
expired unit and ages the rest.  The rules a kernel applies come as one int,
``Problem.rules`` (lost sales, issuing, shelf life), and the layout as
``Problem.position_slots`` (entries summed into the position) and
``Problem.fold`` (whether ``α`` and ``β_1`` fold into one reduced entry).

Timeline of one period (the evening order ``a`` starts it):

1. order ``a`` is placed (cost ``K·1[a > 0] + c·a``);
2. the oldest pipeline slot ``β_1`` arrives (with ``L = 0`` the order ``a``
   itself arrives);
3. demand ``D`` is served from stock; unmet demand is lost (``α' = (α + β_1 −
   D)^+``) or backordered (``α' = α + β_1 − D``);
4. costs ``h·(α')^+`` and ``p·`` (lost units, or backlog ``(−α')^+``) (a
   perishable product also pays ``w`` per expired unit); revenue
   ``r·`` units sold: the units served under lost sales, the whole demand ``D``
   under backorders (a backordered unit is sold when it is demanded and shipped
   later, so the revenue of a period depends on the state only through ``α +
   β_1`` and the long-run revenue is ``r·E[D]``); the pipeline shifts, ``a``
   enters its newest slot; the phase advances.

Feasibility (also defined only here): ``0 <= a``, ``a`` a multiple of ``m``,
``a <= a_max`` and ``α + Σβ + a <= B`` (capacity or position bound).

Reduced states and truncation (for the tabular methods, also defined only
here).  The reduced state ``[y, β_2, .., β_L, (w)]`` with ``y = α + β_1``
(:func:`reduce_state`; the full state itself when ``L = 0``) is represented by
the full state ``[y, 0, β_2, .., β_L, (w)]`` (:func:`expand_state`).  ``α``
and ``β_1`` enter a period only through their sum, so the reduction of the
successor of a full state is the reduction of the successor of its
representative: one period on reduced states is :func:`transition` of the
representative followed by :func:`reduce_state`.  Under backorders the tables
end at the lowest represented net inventory (``Problem.min_net_inventory``,
the table's ``offsets[0]``): :func:`clip_backlog` raises a successor's first
coordinate (``α`` of a full state, ``y`` of a reduced one) to that bound after
the period's costs were charged, i.e. the far backlog tail is dropped
(:func:`truncated_transition` is a full-state period with it).
:func:`reduce_rows`, :func:`expand_rows` and :func:`clip_backlog_rows` are the
vectorised (numpy) forms of the same maps, for arrays of states
(:class:`~replenish.model.statespace.StateSpace`, table lookups).

Kernels in hot loops.  numba inlines ``inline="always"`` kernels at the level
of its own IR, and every array argument of an inlined call becomes a new
reference: an atomic increment/decrement pair per call, which its reference
pruning removes only when the inlined body is one basic block.  A kernel
nesting :func:`transition` (or any loop) therefore costs each call of the
innermost loops a few atomic operations: composing the period, the reduction
and the truncation in one ``reduced_transition`` kernel (reduced state in,
reduced state out) made the DP's MDP build 30–40% slower on Zipkin's L = 3
and 4 instances, and still 15–25% with the expansion hoisted out of the loop.
So :func:`reduce_state` is an in-place, branch-free fold and
:func:`clip_backlog` works on scalars, and the DP and the chain builder call
``transition`` → ``reduce_state`` → ``clip_backlog`` themselves (two lines
each): the rules stay stated here once, at the speed of the hand-written
loops.  Q-learning's step does enough other work (sampling, table lookups)
that :func:`truncated_transition` costs it nothing measurable.

Compilation is lazy.  The kernels (:func:`transition`, :func:`clip_backlog`,
:func:`reduce_state`, :func:`expand_state`, :func:`truncated_transition`,
:func:`max_feasible`, :func:`step_batch`, :func:`max_feasible_batch`) are
written below as plain Python functions and
:func:`kernels` compiles them with numba on first use (``cache=True``: later
processes load the machine code from ``__pycache__``), returning the
dispatchers; the compiled loops of the DP, the chain builder and Q-learning
take them from there.  Importing numba alone costs ~0.6 s of CPU, so importing
this module does not: ``replenish recommend`` on a saved table policy needs
only :func:`clip_orders` on one state, and :func:`feasible_max` (hence
:func:`clip_orders`, :func:`action_mask`) runs the *same* kernel source
uncompiled, as ordinary Python, on batches of at most :data:`INTERPRETED_MAX_ROWS`
rows as long as the kernels have not been compiled in this process.  It is the
same code either way, on integers, so the results are identical (a test
compares the two paths); once the kernels are compiled (any simulation, solve
or evaluation compiles them) every batch uses them.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replenish.model.spec import Problem, layout  # noqa: F401 - layout: a kernel (compiled below)

#: Columns of the cost breakdown arrays: holding, stockout, ordering, revenue, waste.
COST_COLUMNS = ("holding", "stockout", "ordering", "revenue", "waste")
#: Largest batch :func:`feasible_max` evaluates with the interpreted kernel
#: (only until the kernels are compiled in this process).
INTERPRETED_MAX_ROWS = 64


# ----------------------------------------------------------------------------
# Kernels: plain Python, compiled by :func:`kernels` (numba, nopython mode)
# ----------------------------------------------------------------------------
def transition(state, order, demand, lead_time, rules, period, cost, out):  # pragma: no cover
    """Apply one period to ``state`` (read only), writing the next state to ``out``.

    Args:
        state: int64[d], ``[α_1..α_n, β_1..β_L, (w)]`` (``n = 1`` for a product
            that keeps: ``[α, β_1..β_L, (w)]``).
        order: ``a`` (units), assumed feasible.
        demand: ``D`` (units) of the period.
        lead_time: ``L``.
        rules: :attr:`Problem.rules`: bit 0 lost sales (else backorders), bit 1
            LIFO issuing, bits 2.. the shelf life ``M`` (0: the product keeps).
            A bool (lost sales or not) is accepted for a product that keeps.
        period: number of demand phases ``P`` (phase slot present iff ``P > 1``).
        cost: float64[6], ``[h, p, K, c, r, w]``.
        out: int64[d], receives the next state (must not alias ``state``).

    Returns:
        ``(holding, stockout, ordering, revenue, waste, served, short, expired)``:
        the cost components ($) of the period (``waste = w × expired``), units
        served from stock on the day of demand, units of demand not served
        that day (lost or backordered) and units that expired tonight.
    """
    life = int(rules) >> 2
    if life > 0:
        return _perishable_period(state, order, demand, lead_time, rules, life, period, cost, out)
    alpha = state[0]
    arrive = order if lead_time == 0 else state[1]
    n1 = alpha + arrive
    served = min(demand, max(n1, 0))
    n2 = n1 - demand
    short = demand - served
    if rules & 1:
        if n2 < 0:
            n2 = 0
        sold = served
        stockout = cost[1] * short
    else:
        sold = demand  # booked when demanded: a backordered unit is sold, shipped later
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
    return holding, stockout, ordering, revenue, 0.0, served, short, 0


def _perishable_period(state, order, demand, lead_time, rules, life, period, cost,
                       out):  # pragma: no cover
    """:func:`transition` of a perishable product (lost sales), shelf life ``M = life``.

    The stock by remaining life ``α_1 .. α_n`` (``α_i`` can be sold on ``i``
    more days, tomorrow included) and the arrival ``β_1`` (``M`` days) serve
    demand oldest first (FIFO) or freshest first (LIFO); the units whose last
    day it was (``α_1``, and with ``M = 1`` the arrival too) expire at ``w``
    each; the rest age by a day and are carried overnight at ``h`` each.
    """
    n = life - 1 if life > 1 else 1
    arrive = order if lead_time == 0 else state[n]
    for i in range(n):  # out[0..n-1]: what is left of each age class after demand
        out[i] = state[i]
    rest = demand
    if rules & 2:  # LIFO: the arrival first, then the freshest stock
        take = min(rest, arrive)
        arrive -= take
        rest -= take
        for j in range(n):
            i = n - 1 - j
            take = min(rest, out[i])
            out[i] -= take
            rest -= take
    else:  # FIFO: the oldest stock first, the arrival last
        for i in range(n):
            take = min(rest, out[i])
            out[i] -= take
            rest -= take
        take = min(rest, arrive)
        arrive -= take
        rest -= take
    served = demand - rest
    if life == 1:  # nothing outlives a day: the slot of a one-day product is left empty
        expired = out[0] + arrive
        out[0] = 0
    else:
        expired = out[0]
        for i in range(n - 1):
            out[i] = out[i + 1]
        out[n - 1] = arrive
    carried = 0
    for i in range(n):
        carried += out[i]
    for i in range(lead_time - 1):
        out[n + i] = state[n + i + 1]
    if lead_time >= 1:
        out[n + lead_time - 1] = order
    if period > 1:
        out[n + lead_time] = (state[n + lead_time] + 1) % period
    holding = cost[0] * carried
    stockout = cost[1] * rest
    ordering = cost[3] * order + (cost[2] if order > 0 else 0.0)
    revenue = cost[4] * served
    waste = cost[5] * expired
    return holding, stockout, ordering, revenue, waste, served, rest, expired


def clip_backlog(level, low):  # pragma: no cover
    """Truncation at the lowest represented net inventory: ``(max(level, low), level < low)``.

    ``level`` is a successor's ``α`` (full state) or ``y = α + β_1`` (reduced
    state) and ``low`` the lowest value the tables represent
    (``Problem.min_net_inventory``, ``<= 0``); the period's costs are charged
    before, so the backlog beyond ``−low`` is dropped.  Returns the truncated
    level and whether it was truncated.
    """
    return max(level, low), level < low


def reduce_state(state, fold):  # pragma: no cover
    """Reduce the full ``state`` in place: fold ``α`` into ``β_1`` (``state[1] += state[0]``).

    ``fold`` is :attr:`Problem.fold` (``min(L, 1)``, and 0 for a perishable
    product, whose ages do not fold).  Returns ``k = fold``: ``state[k:]`` is
    then the reduced state ``[α + β_1, β_2.., (w)]`` (with ``fold = 0`` the
    full state, unchanged).  Branch-free, so that it costs nothing inlined in
    the innermost loops.
    """
    k = min(fold, 1)
    state[k] += state[0] * k
    return k


def expand_state(red, fold, full):  # pragma: no cover
    """Write the full state ``[y, 0, β_2.., (w)]`` representing reduced ``red`` to ``full``
    (a copy of ``red`` when ``fold = 0``: ``L = 0`` or a perishable product)."""
    if fold >= 1:
        full[0] = red[0]
        full[1] = 0
        for i in range(1, red.shape[0]):
            full[i + 1] = red[i]
    else:
        for i in range(red.shape[0]):
            full[i] = red[i]


def truncated_transition(state, order, demand, lead_time, rules, period, cost, low,
                         out):  # pragma: no cover
    """:func:`transition` of a full state, the successor's ``α`` truncated at ``low``
    (:func:`clip_backlog`; ``low = 0`` under lost sales, where it never binds).

    Returns:
        ``(holding, stockout, ordering, revenue, waste, served, short, expired, clipped)``:
        :func:`transition`'s results and whether the successor was truncated.
    """
    h, s, o, r, w, served, short, expired = transition(state, order, demand, lead_time, rules,
                                                       period, cost, out)
    out[0], clipped = clip_backlog(out[0], low)
    return h, s, o, r, w, served, short, expired, clipped


def max_feasible(state, slots, bound, max_units, multiple):
    """Largest feasible order (units) in ``state``: ``min(a_max, B − position)`` rounded to ``m``.

    ``slots`` is :attr:`Problem.position_slots` (``n + L``): the position is the sum of
    the state's first ``slots`` entries.
    """
    position = state[0]
    for i in range(1, slots):
        position += state[i]
    room = bound - position
    if room > max_units:
        room = max_units
    if room < 0:
        return 0
    return (room // multiple) * multiple


def step_batch(states, orders, demands, lead_time, rules, period, cost,
               out_states, out_costs, out_flows):  # pragma: no cover
    """Vectorised :func:`transition` over rows: ``states`` (n, d) → ``out_states``.

    ``out_costs`` (n, 5) receives holding, stockout, ordering, revenue, waste;
    ``out_flows`` (n, 3) receives served, short and expired units.
    """
    for i in range(states.shape[0]):
        h, s, o, r, w, served, short, expired = transition(states[i], orders[i], demands[i],
                                                           lead_time, rules, period, cost,
                                                           out_states[i])
        out_costs[i, 0] = h
        out_costs[i, 1] = s
        out_costs[i, 2] = o
        out_costs[i, 3] = r
        out_costs[i, 4] = w
        out_flows[i, 0] = served
        out_flows[i, 1] = short
        out_flows[i, 2] = expired


def max_feasible_batch(states, slots, bound, max_units, multiple):
    """Vectorised :func:`max_feasible` over rows of ``states``."""
    out = np.empty(states.shape[0], dtype=np.int64)
    for i in range(states.shape[0]):
        out[i] = max_feasible(states[i], slots, bound, max_units, multiple)
    return out


#: The kernels and their numba options: the small ones are inlined into their callers;
#: :func:`expand_state` (a loop, once per state) is called.
_KERNELS: dict[str, dict[str, Any]] = {
    "transition": {"inline": "always"},
    "_perishable_period": {},
    "clip_backlog": {"inline": "always"},
    "layout": {"inline": "always"},
    "reduce_state": {"inline": "always"},
    "expand_state": {},
    "truncated_transition": {"inline": "always"},
    "max_feasible": {},
    "step_batch": {},
    "max_feasible_batch": {},
}


@functools.cache
def kernels() -> types.SimpleNamespace:
    """The compiled kernels (numba dispatchers), by name: ``kernels().transition`` ...

    Imports numba on the first call.  Each kernel is compiled from a copy of
    its function sharing the code object (so numba's on-disk cache, keyed by
    file, name and line, applies) with a globals dict in which every kernel
    name is the dispatcher: kernels calling kernels call compiled code.
    """
    import numba as nb

    _drop_stale_numba_cache()
    scope = dict(globals())
    compiled = {}
    for name, options in _KERNELS.items():
        f = scope[name]
        copy = types.FunctionType(f.__code__, scope, name, f.__defaults__, f.__closure__)
        copy.__qualname__ = f.__qualname__
        copy.__doc__ = f.__doc__
        compiled[name] = nb.njit(cache=True, **options)(copy)
    scope.update(compiled)  # before any compilation: names resolve when a kernel is first typed
    return types.SimpleNamespace(**compiled)


def _drop_stale_numba_cache() -> None:
    """Delete the package's numba cache files when any of its sources changed since they were made.

    Numba keys a cached function on its own file only; a compiled loop of
    ``solvers/dp.py`` that inlines :func:`transition` would otherwise keep
    running the old rules after this file changed (seen while developing: a
    fixed revenue rule stayed wrong in the DP until the cache was deleted).  A
    stamp of all the package's sources guards every cache file at once; an
    installed, unchanged package never deletes anything.  Read-only installs
    (numba then caches elsewhere) are left alone.
    """
    import hashlib

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    stamp = root / "__pycache__" / "numba-sources.sha1"
    try:
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for cached in (*root.rglob("__pycache__/*.nbi"), *root.rglob("__pycache__/*.nbc")):
            cached.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # pragma: no cover - read-only install
        pass


@dataclass(frozen=True)
class StepResult:
    """Outcome of one period for ``n`` states.

    Attributes:
        states: int64 (n, d), the next states.
        costs: float64 (n, 5), holding, stockout, ordering, revenue, waste ($).
        served: int64 (n,), units served from stock on the day.
        short: int64 (n,), units of demand not served on the day.
        expired: int64 (n,), units that expired (0 for a product that keeps).
    """

    states: np.ndarray
    costs: np.ndarray
    served: np.ndarray
    short: np.ndarray
    expired: np.ndarray

    @property
    def total_cost(self) -> np.ndarray:
        """Cost of the period per row: holding + stockout + ordering − revenue + waste."""
        return total_cost(self.costs)


def total_cost(costs: np.ndarray) -> np.ndarray:
    """Total cost from breakdown rows (..., 5) in :data:`COST_COLUMNS` order:
    holding + stockout + ordering − revenue + waste."""
    return costs[..., 0] + costs[..., 1] + costs[..., 2] - costs[..., 3] + costs[..., 4]


def step(problem: Problem, states: np.ndarray, orders: np.ndarray, demands: np.ndarray) -> StepResult:
    """Apply one period to a batch of states (orders must be feasible)."""
    states = np.ascontiguousarray(states, dtype=np.int64)
    n = states.shape[0]
    out_states = np.empty_like(states)
    costs = np.empty((n, 5))
    flows = np.empty((n, 3), dtype=np.int64)
    kernels().step_batch(states, np.ascontiguousarray(orders, dtype=np.int64),
                         np.ascontiguousarray(demands, dtype=np.int64), problem.lead_time,
                         problem.rules, problem.period, problem.cost_params(), out_states, costs,
                         flows)
    return StepResult(out_states, costs, flows[:, 0], flows[:, 1], flows[:, 2])


def feasible_max(problem: Problem, states: np.ndarray) -> np.ndarray:
    """Largest feasible order (units) for each row of ``states`` (n, d).

    Small batches run the kernel uncompiled until the kernels are compiled in
    this process (see the module docstring): the same code, the same result.
    """
    states = np.ascontiguousarray(np.atleast_2d(states), dtype=np.int64)
    interpreted = states.shape[0] <= INTERPRETED_MAX_ROWS and kernels.cache_info().currsize == 0
    batch = max_feasible_batch if interpreted else kernels().max_feasible_batch
    return batch(states, problem.position_slots, problem.bound, problem.max_order_units,
                 problem.order_multiple)


def clip_orders(problem: Problem, states: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Round orders down to the order multiple and clip them to the feasible range."""
    m = problem.order_multiple
    orders = np.maximum(np.asarray(orders, dtype=np.int64), 0)
    orders = (orders // m) * m
    return np.minimum(orders, feasible_max(problem, states))


def reduce_rows(states: np.ndarray, fold: int) -> np.ndarray:
    """:func:`reduce_state` on every row of full ``states`` (n, d), vectorised
    (``states`` itself when ``fold = 0``; ``fold`` is :attr:`Problem.fold`)."""
    states = np.asarray(states, dtype=np.int64)
    if fold == 0:
        return states
    out = np.delete(states, 1, axis=1)
    out[:, 0] = states[:, 0] + states[:, 1]
    return out


def expand_rows(red: np.ndarray, fold: int) -> np.ndarray:
    """:func:`expand_state` on every row of reduced ``red`` (n, dim), vectorised
    (``red`` itself when ``fold = 0``)."""
    red = np.asarray(red, dtype=np.int64)
    if fold == 0:
        return red
    return np.insert(red, 1, 0, axis=1)


def clip_backlog_rows(states: np.ndarray, low: int) -> np.ndarray:
    """:func:`clip_backlog` on every row of ``states`` (n, d), vectorised; returns a copy."""
    out = np.array(states, dtype=np.int64, copy=True)
    out[:, 0] = np.maximum(out[:, 0], low)
    return out


def action_mask(problem: Problem, states: np.ndarray) -> np.ndarray:
    """Boolean (n, n_actions): action ``k`` (order ``k·m``) is feasible."""
    amax = feasible_max(problem, states) // problem.order_multiple
    return np.arange(problem.n_actions)[None, :] <= amax[:, None]
