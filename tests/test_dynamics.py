"""Properties of the one transition function, its reduced-state and truncation
helpers, and of the simulator built on it."""

from __future__ import annotations

import itertools
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replenish import Empirical, Myopic, OrderUpTo, Poisson, Problem, WeekdayPoisson, simulate
from replenish.model import dynamics as dyn
from replenish.model.demand import TAIL
from replenish.model.dynamics import (
    action_mask,
    clip_backlog_rows,
    clip_orders,
    expand_rows,
    feasible_max,
    kernels,
    reduce_rows,
    step,
)
from replenish.model.statespace import StateSpace
from replenish.policies.classic import effective_shortage_cost

#: The kernels twice: as plain Python (the module's functions) and compiled.
PLAIN = types.SimpleNamespace(**{name: getattr(dyn, name) for name in dyn._KERNELS})
COMPILED = kernels()


@st.composite
def problem_state_order(draw):
    L = draw(st.integers(0, 3))
    lost = draw(st.booleans())
    cap = draw(st.one_of(st.none(), st.integers(1, 30)))
    m = draw(st.integers(1, 3))
    if cap is not None and cap < m:
        cap = m
    seasonal = draw(st.booleans())
    demand = WeekdayPoisson((1, 2, 3, 4, 5, 6, 0)) if seasonal else Poisson(3)
    prob = Problem(demand=demand, lead_time=L, capacity=cap, order_multiple=m,
                   excess_demand="lost" if lost else "backorder", holding_cost=1.5,
                   stockout_cost=7, fixed_order_cost=3, unit_cost=0.5, price=2,
                   position_bound=None if cap is not None else 25)
    B = prob.bound
    alpha = draw(st.integers(0 if lost else -10, B))
    pipe = []
    room = B - max(alpha, 0)
    for _ in range(L):
        v = draw(st.integers(0, max(0, min(room, prob.max_order_units)) // m)) * m
        pipe.append(v)
        room -= v
    state = [alpha, *pipe] + ([draw(st.integers(0, 6))] if seasonal else [])
    state = np.array(state, dtype=np.int64)
    want = draw(st.integers(0, 40))
    demand_val = draw(st.integers(0, 40))
    return prob, state, want, demand_val


@settings(max_examples=300, deadline=None)
@given(problem_state_order())
def test_transition_properties(case):
    prob, state, want, d = case
    s = state[None, :]
    a = clip_orders(prob, s, np.array([want]))
    amax = feasible_max(prob, s)[0]
    assert 0 <= a[0] <= amax and a[0] % prob.order_multiple == 0
    assert action_mask(prob, s)[0].sum() == amax // prob.order_multiple + 1
    r = step(prob, s, a, np.array([d]))
    nxt = r.states[0]
    L = prob.lead_time
    alpha, pipe = state[0], state[1 : L + 1]
    arrival = a[0] if L == 0 else pipe[0]
    # pipeline shifts and the order enters the newest slot
    if L >= 1:
        assert list(nxt[1 : L + 1]) == [*pipe[1:], a[0]]
    if prob.seasonal:
        assert nxt[-1] == (state[-1] + 1) % 7
    # capacity / position bound respected after ordering
    assert alpha + pipe.sum() + a[0] <= prob.bound or a[0] == 0
    served, short = int(r.served[0]), int(r.short[0])
    assert served + short == d
    if prob.lost_sales:
        assert nxt[0] >= 0
        # conservation: start + arrivals = sales + end
        assert alpha + arrival == served + nxt[0]
        assert r.costs[0, 1] == 7 * short
    else:
        # net inventory balance: start + arrivals − demand = end
        assert alpha + arrival - d == nxt[0]
        # shipped units: on hand + arrivals − end on hand; backlog change = demand − shipped
        shipped = max(alpha, 0) + arrival - max(nxt[0], 0)
        assert max(-nxt[0], 0) - max(-alpha, 0) == d - shipped
        assert r.costs[0, 3] == 2 * d  # revenue booked when demanded (shipped now or later)
        assert r.costs[0, 1] == 7 * max(-nxt[0], 0)
    assert r.costs[0, 0] == 1.5 * max(nxt[0], 0)
    assert r.costs[0, 2] == (3 if a[0] > 0 else 0) + 0.5 * a[0]


def test_simulation_common_random_numbers_and_determinism():
    prob = Problem(demand=Poisson(4), lead_time=1, capacity=10, holding_cost=8, stockout_cost=10)
    pol = OrderUpTo(problem=prob, level=7)
    a = simulate(prob, pol, rng=np.random.default_rng(3), n_paths=20, horizon=300, warmup=10)
    b = simulate(prob, pol, rng=np.random.default_rng(3), n_paths=20, horizon=300, warmup=10)
    c = simulate(prob, pol, rng=np.random.default_rng(4), n_paths=20, horizon=300, warmup=10)
    assert np.array_equal(a.path_costs, b.path_costs)
    assert not np.array_equal(a.path_costs, c.path_costs)


def test_simulation_replays_given_demand_by_hand():
    """Order-up-to 3, L = 0, lost sales, h = 1, p = 5, K = 2: a hand calculation."""
    prob = Problem(demand=Poisson(2), lead_time=0, holding_cost=1, stockout_cost=5,
                   fixed_order_cost=2, position_bound=10)
    pol = OrderUpTo(problem=prob, level=3)
    demand = np.array([[1, 4, 0, 2]])
    # day 1: order 3 (K=2), stock 3, demand 1 -> 2 left: cost 2 + 2 = 4
    # day 2: order 1 (K=2), stock 3, demand 4 -> 0 left, 1 lost: 2 + 5 = 7
    # day 3: order 3 (K=2), stock 3, demand 0 -> 3 left: 2 + 3 = 5
    # day 4: order 0, stock 3, demand 2 -> 1 left: 1
    r = simulate(prob, pol, demand=demand, warmup=0, record=True)
    assert r.trajectory["orders"].tolist() == [[3, 1, 3, 0]]
    assert r.trajectory["cost"].tolist() == [[4.0, 7.0, 5.0, 1.0]]
    assert r.average_cost == (4 + 7 + 5 + 1) / 4
    assert r.fill_rate == 6 / 7
    assert r.stockout_days == 0.25


def test_simulation_paths_keep_their_own_weekday():
    """Paths started on different weekdays draw each day's demand from its own weekday."""
    prob = Problem(demand=WeekdayPoisson((0, 0, 0, 0, 0, 0, 5)), lead_time=0, holding_cost=1,
                   stockout_cost=1, position_bound=10)
    pol = OrderUpTo(problem=prob, level=0)
    start = np.array([[0, 6], [0, 0]])  # path 0 starts on Sunday, path 1 on Monday
    r = simulate(prob, pol, rng=np.random.default_rng(1), n_paths=2, horizon=7, warmup=0,
                 start=start, record=True)
    d = r.trajectory["demand"]
    assert d[0, 0] + d[1, 6] > 0  # the Sunday draws (Poisson(5) twice: zero has prob. e^-10)
    assert np.all(d[0, 1:] == 0)  # Monday..Saturday are closed for path 0
    assert np.all(d[1, :6] == 0)  # path 1: Monday..Saturday closed, Sunday last


# ----------------------------------------------------------------------------
# Reduced states and truncation: the helpers beside transition
# ----------------------------------------------------------------------------
COST = np.array([1.5, 7.0, 3.0, 0.5, 2.0, 0.0])  # h, p, K, c, r, w


def _reduced_step(k, red, order, demand, L, lost, period, low):
    """One period on reduced states composed as the DP and the chain builder compose it:
    representative full state → transition → reduce_state → clip_backlog."""
    d = L + 1 + (1 if period > 1 else 0)
    full, out = np.zeros(d, dtype=np.int64), np.zeros(d, dtype=np.int64)
    k.expand_state(np.array(red, dtype=np.int64), L, full)
    res = k.transition(full, order, demand, L, lost, period, COST, out)
    succ = out.tolist()
    r = k.reduce_state(out, L)
    out[r], clipped = k.clip_backlog(out[r], low)
    return (*res, bool(clipped)), out[r:].tolist(), succ


def _truncated_step(k, state, order, demand, L, lost, period, low):
    out = np.zeros(len(state), dtype=np.int64)
    res = k.truncated_transition(np.array(state, dtype=np.int64), order, demand, L, lost, period,
                                 COST, low, out)
    return res, out.tolist()


@pytest.mark.parametrize("k", [PLAIN, COMPILED], ids=["plain", "compiled"])
def test_reduction_and_truncation_by_hand(k):
    x = np.array([-3, 4, 2, 5])  # [α, β_1, β_2, w]
    assert k.reduce_state(x, 2) == 1 and x[1:].tolist() == [1, 2, 5]  # folded in place
    x = np.array([4, 6])
    assert k.reduce_state(x, 0) == 0 and x.tolist() == [4, 6]  # L = 0: the state itself
    full = np.zeros(4, dtype=np.int64)
    k.expand_state(np.array([1, 2, 5]), 2, full)
    assert full.tolist() == [1, 0, 2, 5]
    k.expand_state(np.array([4, 6]), 0, full[:2])
    assert full[:2].tolist() == [4, 6]
    assert k.clip_backlog(-7, -5) == (-5, True) and k.clip_backlog(-5, -5) == (-5, False)
    assert k.clip_backlog(3, 0) == (3, False)
    # backorders, L = 2: reduced [y = α + β_1 = 1, β_2 = 2], order 3, demand 5:
    # y − D = −4 on the evening, β_2 arrives next, the order enters the pipeline
    res, nxt, out = _reduced_step(k, [1, 2], 3, 5, 2, False, 1, -10)
    assert out == [-4, 2, 3] and nxt == [-2, 3]
    h, s, o, r, w, served, short, expired, clipped = res
    assert (h, s, o, w, served, short, expired, clipped) == (0.0, 7.0 * 4, 3.0 + 0.5 * 3, 0.0, 1, 4,
                                                             0, False)
    assert r == 2.0 * 5  # backorders: the 5 units demanded are sold (1 shipped now, 4 later)
    # the same with the table ending at −1: y' = −4 + 2 = −2 is truncated to −1
    res, nxt, _ = _reduced_step(k, [1, 2], 3, 5, 2, False, 1, -1)
    assert nxt == [-1, 3] and res[8] and res[1] == 7.0 * 4  # the period's backlog is charged in full
    # lost sales, L = 2, phase 6 of 7: reduced [3, 2, 6], order 1, demand 5 → 2 lost
    res, nxt, out = _reduced_step(k, [3, 2, 6], 1, 5, 2, True, 7, 0)
    assert out == [0, 2, 1, 0] and nxt == [2, 1, 0]
    assert res == (0.0, 7.0 * 2, 3.0 + 0.5, 2.0 * 3, 0.0, 3, 2, 0, False)
    # full states: α truncated after the period, costs of the untruncated period
    res, out = _truncated_step(k, [-3, 4, 2], 3, 9, 2, False, 1, -5)
    assert out == [-5, 2, 3] and res == (0.0, 7.0 * 8, 4.5, 2.0 * 9, 0.0, 1, 8, 0, True)  # 9 sold
    res, out = _truncated_step(k, [2, 1], 0, 1, 1, False, 1, -5)
    assert out == [2, 0] and res == (1.5 * 2, 0.0, 0.0, 2.0, 0.0, 1, 0, 0, False)


@settings(max_examples=300, deadline=None)
@given(problem_state_order(), st.integers(-12, 0))
def test_reduced_successor_is_the_reduction_of_the_full_successor(case, low):
    """The reduced state is sufficient: the reduced successor of the reduction of any
    full state is the reduction of its full successor, with the same costs and flows."""
    prob, state, want, d = case
    L, lost, P = prob.lead_time, prob.lost_sales, prob.period
    a = int(clip_orders(prob, state[None, :], np.array([want]))[0])
    low = 0 if lost else low
    red = reduce_rows(state[None, :], L)[0]
    for k in (PLAIN, COMPILED):
        out = np.zeros_like(state)
        full_res = k.transition(state, a, d, L, lost, P, COST, out)
        res, nxt, _ = _reduced_step(k, red.tolist(), a, d, L, lost, P, low)
        want_nxt = reduce_rows(out[None, :], L)[0]
        clipped = bool(want_nxt[0] < low)
        assert nxt == clip_backlog_rows(want_nxt[None, :], low)[0].tolist()
        assert res == (*full_res, clipped)
        # the reduction in place (the chain builder's) agrees too
        folded = out.copy()
        r = k.reduce_state(folded, L)
        assert folded[r:].tolist() == want_nxt.tolist()
        # and the truncated full transition is transition + clip
        tres, tout = _truncated_step(k, state.tolist(), a, d, L, lost, P, low)
        assert tres == (*full_res, bool(out[0] < low))
        assert tout == [max(out[0], low), *out[1:].tolist()]
    # the vectorised coordinate maps are the kernels row by row
    rep = expand_rows(red[None, :], L)
    folded = state.copy()
    r = PLAIN.reduce_state(folded, L)
    assert np.array_equal(folded[r:], red) and np.array_equal(reduce_rows(rep, L)[0], red)
    full = np.empty_like(state)
    PLAIN.expand_state(red, L, full)
    assert np.array_equal(full, rep[0]) and (L == 0 or rep[0, 1] == 0)


# ----------------------------------------------------------------------------
# Lazy compilation: the interpreted and compiled kernels agree
# ----------------------------------------------------------------------------
def _agreement_problems():
    yield Problem(demand=Poisson(4), lead_time=1, capacity=10, holding_cost=8, stockout_cost=10)
    for L, lost, seasonal in itertools.product(range(4), (True, False), (False, True)):
        demand = (WeekdayPoisson((1, 2, 3, 4, 5, 6, 0)) if seasonal
                  else Empirical((0.1, 0.2, 0.3, 0.0, 0.15, 0.25)))
        yield Problem(demand=demand, lead_time=L, excess_demand="lost" if lost else "backorder",
                      capacity=(12 + 3 * L) if L % 2 else None,
                      position_bound=None if L % 2 else 20 + 2 * L,
                      max_order=[None, 7, 9, 5][L], order_multiple=[1, 2, 3, 1][L],
                      holding_cost=1.5, stockout_cost=7, fixed_order_cost=3, unit_cost=0.5, price=2)


@pytest.mark.parametrize("prob", list(_agreement_problems()), ids=lambda p: f"L{p.lead_time}-"
                         f"{p.excess_demand}-m{p.order_multiple}-P{p.period}")
def test_interpreted_and_compiled_kernels_agree(prob):
    rng = np.random.default_rng(prob.lead_time * 7 + prob.period + prob.lost_sales)
    n, L, P = 200, prob.lead_time, prob.period
    lo = prob.min_net_inventory
    states = np.column_stack(
        [rng.integers(lo - 3, prob.bound + 3, n)]
        + [rng.integers(0, prob.max_order_units // prob.order_multiple + 1, n) * prob.order_multiple
           for _ in range(L)]
        + ([rng.integers(0, P, n)] if P > 1 else [])).astype(np.int64)
    args = (prob.position_slots, prob.bound, prob.max_order_units, prob.order_multiple)
    amax = PLAIN.max_feasible_batch(states, *args)
    assert np.array_equal(amax, COMPILED.max_feasible_batch(states, *args))
    assert amax.dtype == np.int64 and np.all(amax % prob.order_multiple == 0) and np.all(amax >= 0)
    orders = (rng.integers(0, 10**6, n) % (amax // prob.order_multiple + 1)) * prob.order_multiple
    demands = rng.integers(0, 12, n)
    cost = prob.cost_params()
    results = []
    for k in (PLAIN, COMPILED):
        out = np.empty_like(states)
        costs, flows = np.empty((n, 5)), np.empty((n, 3), dtype=np.int64)
        k.step_batch(states, orders, demands, L, prob.rules, P, cost, out, costs, flows)
        red_out = []
        for i in range(n):
            red = reduce_rows(states[i][None, :], L)[0]
            red_out.append(_reduced_step(k, red.tolist(), orders[i], demands[i], L, prob.lost_sales,
                                         P, lo))
            red_out.append(_truncated_step(k, states[i].tolist(), orders[i], demands[i], L,
                                           prob.lost_sales, P, lo))
        results.append((out, costs, flows, red_out))
    (o1, c1, f1, r1), (o2, c2, f2, r2) = results
    assert np.array_equal(o1, o2) and np.array_equal(c1, c2) and np.array_equal(f1, f2)
    assert r1 == r2
    # the public API gives the same answer on small (interpreted) and large (compiled) batches
    small = np.concatenate([feasible_max(prob, states[i: i + 50]) for i in range(0, n, 50)])
    assert np.array_equal(small, amax) and np.array_equal(feasible_max(prob, states), amax)


IMPORT_CHECK = """
import sys
import numpy as np
import replenish.model.dynamics as d
assert "numba" not in sys.modules
from replenish import Poisson, Problem
p = Problem(demand=Poisson(3), lead_time=2, capacity=10)
assert d.clip_orders(p, np.array([[1, 2, 3]]), np.array([9])).tolist() == [4]
assert "numba" not in sys.modules  # one state: the interpreted kernel
assert d.feasible_max(p, np.zeros((100, 3), dtype=np.int64)).tolist() == [10] * 100
assert "numba" in sys.modules  # a large batch: compiled
"""


def test_importing_dynamics_does_not_import_numba():
    subprocess.run([sys.executable, "-c", "import replenish.model.dynamics, sys; "
                    "assert 'numba' not in sys.modules"], check=True)
    subprocess.run([sys.executable, "-c", IMPORT_CHECK], check=True)


# ----------------------------------------------------------------------------
# The myopic policy's projection against the dynamics
# ----------------------------------------------------------------------------
def _myopic_objective_by_enumeration(prob, red):
    """``K·1[a > 0] + E[h·(I_L + a − D)^+ + p'·(D − I_L − a)^+]`` for every feasible ``a``,
    with ``I_L`` from every demand path of days 1..L through :func:`transition` (order 0)
    and the arrival day through :func:`transition` with ``L = 0`` and costs ``[h, p', K, 0, 0]``."""
    L, P, lost = prob.lead_time, prob.period, prob.lost_sales
    full = expand_rows(np.array([red]), L)[0]
    pmfs = [prob.demand.pmf(w, tail=TAIL) for w in range(P)]
    w0 = int(full[-1]) if P > 1 else 0
    dist = {tuple(full.tolist()): 1.0}
    for _ in range(L):
        new: dict = {}
        for s, ps in dist.items():
            q = pmfs[s[-1] if P > 1 else 0]
            for dval in np.flatnonzero(q > 0):
                out = np.empty(len(s), dtype=np.int64)
                dyn.transition(np.array(s), 0, int(dval), L, lost, P, COST, out)
                key = tuple(out.tolist())
                new[key] = new.get(key, 0.0) + ps * q[dval]
        dist = new
    arrival = np.array([prob.holding_cost, effective_shortage_cost(prob), prob.fixed_order_cost, 0, 0, 0])
    q = pmfs[(w0 + L) % P]
    amax = int(feasible_max(prob, full[None, :])[0])
    H = []
    for a in range(0, amax + 1, prob.order_multiple):
        tot = 0.0
        for s, ps in dist.items():
            for dval in np.flatnonzero(q > 0):
                h, sc, o, _, _, _, _, _ = dyn.transition(np.array([s[0]]), a, int(dval), 0, lost, 1, arrival,
                                                   np.empty(1, dtype=np.int64))
                tot += ps * q[dval] * (h + sc + o)
        H.append(tot)
    return np.array(H)


@pytest.mark.parametrize("L, lost, seasonal, K", [(0, True, False, 0), (1, True, False, 2),
                                                  (2, True, True, 0), (2, False, False, 1),
                                                  (1, False, True, 0), (3, True, False, 0)])
def test_myopic_choice_minimises_the_objective_computed_with_transition(L, lost, seasonal, K):
    demand = WeekdayPoisson((1, 2, 4, 3, 2, 5, 1)) if seasonal else Poisson(2.5)
    prob = Problem(demand=demand, lead_time=L, excess_demand="lost" if lost else "backorder",
                   capacity=14, holding_cost=1, stockout_cost=6, fixed_order_cost=K, unit_cost=0.5,
                   price=2, backlog_bound=None if lost else 6)
    pol = Myopic(problem=prob)
    space = StateSpace(prob, reduced=True)
    states = space.enumerate()
    rng = np.random.default_rng(L + 10 * lost)
    for red in states[rng.choice(len(states), size=min(8, len(states)), replace=False)]:
        H = _myopic_objective_by_enumeration(prob, red)
        a = pol.order(space.expand(red[None, :])[0])
        assert H[a // prob.order_multiple] <= H.min() + 1e-9 * max(1.0, abs(H.min())), (red, a, H)
