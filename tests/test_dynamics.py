"""Properties of the one transition function, and of the simulator built on it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from replenish import OrderUpTo, Poisson, Problem, WeekdayPoisson, simulate
from replenish.model.dynamics import action_mask, clip_orders, feasible_max, step


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
        assert r.costs[0, 3] == 2 * shipped
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
