"""Exact DP and exact evaluation against independent facts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from replenish import (
    Empirical,
    OrderUpTo,
    Poisson,
    Problem,
    TablePolicy,
    WeekdayEmpirical,
    WeekdayPoisson,
    evaluate_exact,
    simulate,
    solve_dp,
)
from replenish.model.statespace import StateSpace

# --------------------------------------------------------------- bike shop
BIKE_OPT = 16.1830
BIKE_POLICY = {0: 4, 1: 4, 2: 4, 3: 4, 4: 3, 5: 3, 6: 2, 7: 1, 8: 0, 9: 0, 10: 0}


@pytest.mark.parametrize("objective", ["average", "discounted"])
def test_bike_shop_optimum_and_policy(bike, objective):
    r = solve_dp(bike, objective=objective)
    assert r.converged
    assert r.average_cost == pytest.approx(BIKE_OPT, abs=1e-3)
    if objective == "average":
        lo, hi = r.gain_bounds
        assert lo <= r.average_cost + 1e-9 and r.average_cost <= hi + 1e-9
    if objective == "discounted":
        # the γ-optimal policy depends only on α + β, as published
        for a in range(11):
            for b in range(11 - a):
                assert r.policy.order([a, b]) == BIKE_POLICY[a + b], (a, b)


def test_bike_shop_order_up_to(bike):
    costs = {T: evaluate_exact(bike, OrderUpTo(problem=bike, level=T)).average_cost
             for T in range(11)}
    assert costs[10] == pytest.approx(23.6072, abs=1e-3)
    assert min(costs, key=costs.get) == 7
    assert costs[7] == pytest.approx(16.8230, abs=1e-3)


def test_full_and_reduced_chains_agree(bike):
    """A table over full states (α, β) gives the same exact cost as the reduced one."""
    full = StateSpace(bike, reduced=False).enumerate()
    pol = TablePolicy(problem=bike, states=full, orders=[BIKE_POLICY[a + b] for a, b in full],
                      reduced=False)
    e = evaluate_exact(bike, pol)
    assert e.average_cost == pytest.approx(BIKE_OPT, abs=1e-3)
    assert e.n_states > 11  # evaluated on full states


# ---------------------------------------------------- Zipkin (2008) lost sales
@pytest.mark.parametrize("lead, p, published", [(1, 4, 4.04), (2, 9, 6.09), (3, 19, 8.36)])
def test_zipkin_lost_sales_optimum(lead, p, published):
    """Zipkin (2008), Table 1: optimal cost, Poisson(5), h = 1 (two decimals)."""
    prob = Problem(demand=Poisson(5), lead_time=lead, holding_cost=1, stockout_cost=p)
    r = solve_dp(prob)
    assert r.average_cost == pytest.approx(published, abs=0.006)
    assert r.bound_binding_mass < 1e-9


# ------------------------------------------------ hand-checkable brute force
def _brute_force(pmf, cap, h, p, gamma):
    """Enumerate every deterministic stationary policy of a tiny L = 0 lost-sales
    problem, written out independently of replenish's dynamics."""
    n = cap + 1
    results = []
    for pol in itertools.product(*[range(cap - x + 1) for x in range(n)]):
        P = np.zeros((n, n))
        c = np.zeros(n)
        for x in range(n):
            y = x + pol[x]
            for d, pd in enumerate(pmf):
                P[x, max(y - d, 0)] += pd
                c[x] += pd * (h * max(y - d, 0) + p * max(d - y, 0))
        A = np.vstack([P.T - np.eye(n), np.ones(n)])
        pi = np.linalg.lstsq(A, np.r_[np.zeros(n), 1.0], rcond=None)[0]
        V = np.linalg.solve(np.eye(n) - gamma * P, c)
        results.append((pol, float(pi @ c), V))
    return results


@pytest.mark.parametrize("pmf, h, p", [((0.3, 0.5, 0.2), 1.0, 4.0), ((0.6, 0.1, 0.3), 2.0, 3.0),
                                       ((0.1, 0.2, 0.3, 0.4), 1.0, 10.0),
                                       # sparse supports (gaps), as in empirical sales data
                                       ((0.5, 0.0, 0.0, 0.5), 1.0, 6.0),
                                       ((0.0, 0.7, 0.0, 0.3), 1.0, 4.0)])
def test_dp_matches_brute_force(pmf, h, p):
    cap, gamma = 3, 0.8
    prob = Problem(demand=Empirical(pmf), lead_time=0, capacity=cap, holding_cost=h,
                   stockout_cost=p, discount=gamma)
    brute = _brute_force(pmf, cap, h, p, gamma)
    best_avg = min(r[1] for r in brute)
    best_disc = min(r[2][0] for r in brute)
    avg = solve_dp(prob, objective="average")
    assert avg.average_cost == pytest.approx(best_avg, abs=1e-9)
    disc = solve_dp(prob, objective="discounted", tol=1e-12)
    # the discounted value of the empty state equals the best over all policies
    assert disc.values[0] == pytest.approx(best_disc, abs=1e-6)
    # and every policy's exact average cost matches the independent computation
    for pol, g, _ in brute[:: max(1, len(brute) // 7)]:
        st = np.arange(cap + 1)[:, None]
        tp = TablePolicy(problem=prob, states=st, orders=pol, reduced=True)
        assert evaluate_exact(prob, tp).average_cost == pytest.approx(g, abs=1e-9)


def test_discounted_and_average_policies_differ_when_they_should():
    """Myopia: an order pays back one period later (L = 1); with γ·p below the unit
    cost c it never pays back in the
    discounted problem (order nothing, lose all demand: g = p·E[D] = 30), while
    the average-cost policy orders."""
    prob = Problem(demand=Empirical((0.5, 0.0, 0.0, 0.5)), lead_time=1, capacity=6,
                   holding_cost=1, stockout_cost=20, unit_cost=2, discount=0.05)
    avg = solve_dp(prob, objective="average")
    disc = solve_dp(prob, objective="discounted")
    assert disc.policy.order([0, 0]) == 0
    assert disc.average_cost == pytest.approx(30.0, abs=1e-9)
    assert avg.policy.order([0, 0]) > 0
    assert avg.average_cost < 30.0 - 1


# ---------------------------------------------------------------- backorders
@pytest.mark.parametrize("mu, h, p", [(5, 1, 9), (10, 2, 3)])
def test_backorder_newsvendor(mu, h, p):
    """Backorders, L = 0, K = 0: base-stock at the critical fractile is optimal and
    its cost is the newsvendor cost E[h(S−D)^+ + p(D−S)^+]."""
    prob = Problem(demand=Poisson(mu), lead_time=0, excess_demand="backorder", holding_cost=h,
                   stockout_cost=p)
    S = int(stats.poisson.ppf(p / (p + h), mu))
    d = np.arange(200)
    pmf = stats.poisson.pmf(d, mu)
    nv = float(np.sum(pmf * (h * np.maximum(S - d, 0) + p * np.maximum(d - S, 0))))
    r = solve_dp(prob)
    assert r.average_cost == pytest.approx(nv, abs=1e-6)
    assert evaluate_exact(prob, OrderUpTo(problem=prob, level=S)).average_cost == \
        pytest.approx(nv, abs=1e-6)
    assert r.evaluation.truncation_mass < 1e-6


def test_backorder_lead_time_base_stock():
    """Backorders with lead time L: base-stock S costs E[h(S−D_{L+1})^+ + p(D_{L+1}−S)^+]."""
    mu, L, h, p = 3, 2, 1, 4
    prob = Problem(demand=Poisson(mu), lead_time=L, excess_demand="backorder", holding_cost=h,
                   stockout_cost=p)
    d = np.arange(200)
    pmf = stats.poisson.pmf(d, mu * (L + 1))
    for S in (8, 10, 12):
        want = float(np.sum(pmf * (h * np.maximum(S - d, 0) + p * np.maximum(d - S, 0))))
        got = evaluate_exact(prob, OrderUpTo(problem=prob, level=S)).average_cost
        assert got == pytest.approx(want, abs=1e-6)


# ------------------------------------------------------------- seasonality
def test_weekday_dp_periodic_chain():
    prob = Problem(demand=WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=1, capacity=25,
                   holding_cost=1, stockout_cost=9)
    r = solve_dp(prob)
    assert r.converged
    lo, hi = r.gain_bounds
    assert lo - 1e-7 <= r.average_cost <= hi + 1e-7
    # the optimal policy orders more before the Saturday peak than before Monday
    # (state phase = weekday of the next demand day; the order arrives one day later)
    fri = r.policy.order([0, 0, 4])  # next day Fri, order serves Sat
    sun = r.policy.order([0, 0, 6])  # next day Sun, order serves Mon
    assert fri > sun
    # a weekday-blind policy is strictly worse
    best_static = min(evaluate_exact(prob, OrderUpTo(problem=prob, level=T)).average_cost
                      for T in range(5, 25))
    assert r.average_cost < best_static


# ------------------------------------------------------ exact vs simulation
@pytest.mark.parametrize("make", [
    lambda: Problem(demand=Poisson(4), lead_time=1, capacity=10, holding_cost=8, stockout_cost=10),
    lambda: Problem(demand=Poisson(5), lead_time=2, excess_demand="backorder", holding_cost=1,
                    stockout_cost=9, fixed_order_cost=10, price=2, unit_cost=1),
    lambda: Problem(demand=WeekdayPoisson((3, 3, 3, 4, 6, 9, 0)), lead_time=1, holding_cost=1,
                    stockout_cost=9, order_multiple=2),
    # sparse empirical weekday pmfs with gaps (the chain visits only the support)
    lambda: Problem(demand=WeekdayEmpirical(((0.5, 0, 0, 0, 0.5), (0, 0, 1.0), (0.2, 0, 0, 0, 0, 0, 0.8),
                                             (1.0,), (0, 0.5, 0, 0.5), (0, 0, 0, 0.3, 0, 0, 0, 0, 0.7),
                                             (0.1, 0.9))),
                    lead_time=1, holding_cost=1, stockout_cost=9),
])
def test_exact_matches_simulation(make):
    prob = make()
    pol = OrderUpTo(problem=prob, level=int(prob.bound * 0.6))
    e = evaluate_exact(prob, pol)
    s = simulate(prob, pol, rng=np.random.default_rng(7), n_paths=100, horizon=2000, warmup=100)
    lo, hi = s.ci95
    # 99.9% interval: widen the 95% CI so the test is not flaky but can still fail
    half = (hi - lo) / 2 * 3.291 / 1.96
    assert abs(e.average_cost - s.average_cost) < half
    for k in ("holding", "stockout", "ordering", "revenue"):
        assert e.breakdown[k] == pytest.approx(s.breakdown[k], rel=0.03, abs=0.02)
    assert e.fill_rate == pytest.approx(s.fill_rate, abs=0.01)


def test_statespace_count_matches_enumeration():
    for prob in (Problem(demand=Poisson(5), lead_time=3, position_bound=20),
                 Problem(demand=Poisson(5), lead_time=2, excess_demand="backorder",
                         position_bound=15, backlog_bound=6, order_multiple=3),
                 Problem(demand=WeekdayPoisson((1, 2, 3, 4, 5, 6, 7)), lead_time=1, capacity=9)):
        for reduced in (True, False):
            sp = StateSpace(prob, reduced=reduced)
            st = sp.enumerate()
            assert len(st) == sp.count()
            assert np.array_equal(sp.decode(sp.encode(st)), st)
            assert len(np.unique(sp.encode(st))) == len(st)


@pytest.mark.parametrize("make", [
    lambda: Problem(demand=Poisson(4), lead_time=1, capacity=10, holding_cost=8, stockout_cost=10),
    lambda: Problem(demand=WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=1, capacity=20,
                    holding_cost=1, stockout_cost=9),
])
def test_relative_values_satisfy_the_average_cost_optimality_equation(make):
    """g + h(s) = min_a [c(s, a) + Σ P(s'|s, a) h(s')] for every state (Puterman 1994, §8.4)."""
    prob = make()
    r = solve_dp(prob, tol=1e-11)
    q = r.mdp.q_values(r.values, 1.0)
    best = np.minimum.reduceat(q, r.mdp.sa_ptr[:-1])
    assert np.max(np.abs(r.average_cost + r.values - best)) < 1e-6
    orders, qs = r.action_values(np.array([0, 0] + ([0] if prob.seasonal else [])))
    assert orders[np.argmin(qs)] == r.policy.order([0, 0] + ([0] if prob.seasonal else []))
