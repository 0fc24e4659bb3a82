"""Exact evaluation (``replenish.evaluation.markov``) against independent facts.

Independent facts: stationary distributions of tiny chains solved by hand,
closed forms of order-up-to policies (the position after ordering is always the
level, so the state is the level minus a Poisson demand), flow conservation
(under lost sales every unit sold was ordered), birth-death chains with a
geometric stationary law, absorption probabilities of a hand-made chain, and
long simulations with explicit generators.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from replenish import (
    SS,
    CappedBaseStock,
    Empirical,
    OrderUpTo,
    Poisson,
    Problem,
    evaluate_exact,
    simulate,
)
from replenish.evaluation.markov import limiting_distribution


def stationary_by_state(ev) -> dict[tuple[int, ...], float]:
    return {tuple(int(v) for v in s): float(p)
            for s, p in zip(ev.chain.states, ev.stationary, strict=True)}


def poisson_pmf(lam: float, k: int) -> float:
    return math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))


# ------------------------------------------------------------ hand chains
def test_two_state_chain_by_hand():
    """L = 0, C = 1, D ∈ {0, 1, 2}: order-up-to 1 keeps y = 1 every morning, so
    α' = 1 with prob p0 and 0 otherwise; π(1) = p0, π(0) = 1 − p0."""
    p0, p1, p2 = 0.5, 0.3, 0.2
    h, p, K, c, r = 2.0, 7.0, 3.0, 0.5, 4.0
    prob = Problem(demand=Empirical((p0, p1, p2)), lead_time=0, capacity=1, holding_cost=h,
                   stockout_cost=p, fixed_order_cost=K, unit_cost=c, price=r)
    ev = evaluate_exact(prob, OrderUpTo(problem=prob, level=1))
    pi = stationary_by_state(ev)
    assert set(pi) == {(0,), (1,)}
    assert pi[(1,)] == pytest.approx(p0, abs=1e-12)
    assert pi[(0,)] == pytest.approx(1 - p0, abs=1e-12)
    holding = h * p0                 # one unit left iff D = 0
    stockout = p * p2                # one unit lost iff D = 2
    ordering = (K + c) * (1 - p0)    # one unit ordered in state 0
    revenue = r * (1 - p0)           # one unit sold iff D >= 1
    assert ev.breakdown["holding"] == pytest.approx(holding, abs=1e-12)
    assert ev.breakdown["stockout"] == pytest.approx(stockout, abs=1e-12)
    assert ev.breakdown["ordering"] == pytest.approx(ordering, abs=1e-12)
    assert ev.breakdown["revenue"] == pytest.approx(revenue, abs=1e-12)
    assert ev.average_cost == pytest.approx(holding + stockout + ordering - revenue, abs=1e-12)
    assert ev.fill_rate == pytest.approx((1 - p0) / (p1 + 2 * p2), abs=1e-12)
    assert ev.stockout_probability == pytest.approx(p2, abs=1e-12)
    assert ev.average_on_hand == pytest.approx(p0, abs=1e-12)
    assert ev.n_states == 2 and ev.truncation_mass == 0.0


def test_three_state_ss_chain_by_hand():
    """L = 0, C = 2, D ∈ {0, 1, 2} w.p. (a, b, c), (s, S) = (0, 2).

    States 0 and 2 both start the day with 2 units, state 1 with 1 unit.  With
    u = π0 + π2: π1 = b·u + a·π1 and π2 = a·u, so
    π = ((1 − a)², b, a(1 − a)) / (1 − a + b).
    """
    a, b, c = 0.5, 0.3, 0.2
    h, p, K, cu, r = 1.0, 4.0, 2.0, 0.5, 3.0
    prob = Problem(demand=Empirical((a, b, c)), lead_time=0, capacity=2, holding_cost=h,
                   stockout_cost=p, fixed_order_cost=K, unit_cost=cu, price=r)
    ev = evaluate_exact(prob, SS(problem=prob, s=0, S=2))
    z = 1 - a + b
    pi0, pi1, pi2 = (1 - a) ** 2 / z, b / z, a * (1 - a) / z
    pi = stationary_by_state(ev)
    assert pi == pytest.approx({(0,): pi0, (1,): pi1, (2,): pi2}, abs=1e-12)
    u = pi0 + pi2
    holding = h * (u * (2 * a + b) + pi1 * a)
    stockout = p * pi1 * c                  # only state 1 loses a unit, when D = 2
    ordering = pi0 * (K + 2 * cu)
    sold = u * (b + 2 * c) + pi1 * (b + c)
    g = holding + stockout + ordering - r * sold
    assert ev.average_cost == pytest.approx(g, abs=1e-12)
    assert ev.breakdown == pytest.approx({"holding": holding, "stockout": stockout,
                                          "ordering": ordering, "revenue": r * sold, "waste": 0.0},
                                         abs=1e-12)
    assert ev.fill_rate == pytest.approx(sold / (b + 2 * c), abs=1e-12)
    assert ev.stockout_probability == pytest.approx(pi1 * c, abs=1e-12)
    assert ev.average_on_hand == pytest.approx(holding / h, abs=1e-12)
    # the chain's transition matrix is stochastic and π is stationary
    P = ev.chain.P.toarray()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(ev.stationary @ P, ev.stationary, atol=1e-14)


# ------------------------------------------------- order-up-to closed forms
@pytest.mark.parametrize("lead, lam, S", [(0, 2.0, 3), (1, 3.0, 8), (2, 1.5, 6)])
def test_backorder_order_up_to_closed_form(lead, lam, S):
    """Backorders, base stock S: the position after ordering is always S, so the
    end-of-day net stock is S − D over L + 1 days ~ S − Poisson((L + 1)λ)."""
    h, p = 1.0, 9.0
    prob = Problem(demand=Poisson(lam), lead_time=lead, excess_demand="backorder",
                   holding_cost=h, stockout_cost=p)
    ev = evaluate_exact(prob, OrderUpTo(problem=prob, level=S))
    mu = (lead + 1) * lam
    ks = np.arange(0, 200)
    pk = np.array([poisson_pmf(mu, int(k)) for k in ks])
    on_hand = float(pk @ np.maximum(S - ks, 0))
    backlog = float(pk @ np.maximum(ks - S, 0))
    assert ev.average_on_hand == pytest.approx(on_hand, abs=1e-9)
    assert ev.average_cost == pytest.approx(h * on_hand + p * backlog, abs=1e-9)
    # the morning shelf stock is S minus the demand of the L previous days; a day
    # is short when its demand exceeds what is on the shelf (any demand if none is)
    d1 = np.array([poisson_pmf(lam, int(k)) for k in ks])
    dl = np.array([poisson_pmf(lead * lam, int(k)) for k in ks]) if lead else (ks == 0) * 1.0
    p_short = sum(dl[j] * d1[max(S - j, 0) + 1:].sum() for j in ks)
    assert ev.stockout_probability == pytest.approx(p_short, abs=1e-9)
    # the position at the review, α + Σβ, is S minus one day's demand
    position = {}
    for state, q in stationary_by_state(ev).items():
        position[sum(state)] = position.get(sum(state), 0.0) + q
    for k in range(12):
        assert position.get(S - k, 0.0) == pytest.approx(poisson_pmf(lam, k), abs=1e-10)


def test_truncation_mass_with_backlog_bound():
    """L = 0, backorders, backlog bound b, base stock S: the net stock S − D is
    clipped when D > S + b; the chain reports that probability, and the cost
    (which depends only on y = S and D when c = 0) is unaffected."""
    lam, S, b = 3.0, 2, 1
    h, p = 1.0, 4.0
    prob = Problem(demand=Poisson(lam), lead_time=0, excess_demand="backorder", holding_cost=h,
                   stockout_cost=p, backlog_bound=b, position_bound=10)
    ev = evaluate_exact(prob, OrderUpTo(problem=prob, level=S))
    pk = np.array([poisson_pmf(lam, k) for k in range(200)])
    k = np.arange(200)
    assert ev.truncation_mass == pytest.approx(pk[S + b + 1:].sum(), abs=1e-12)
    assert ev.truncation_mass > 0.1  # a real truncation, not a rounding residue
    pi = stationary_by_state(ev)
    assert min(s[0] for s in pi) == -b
    assert pi[(-b,)] == pytest.approx(pk[S + b:].sum(), abs=1e-12)
    assert pi[(S,)] == pytest.approx(pk[0], abs=1e-12)
    g = h * float(pk @ np.maximum(S - k, 0)) + p * float(pk @ np.maximum(k - S, 0))
    assert ev.average_cost == pytest.approx(g, abs=1e-9)
    # with the derived bound the truncation is negligible
    wide = prob.replace(backlog_bound=None, position_bound=None)
    assert evaluate_exact(wide, OrderUpTo(problem=wide, level=S)).truncation_mass < 1e-6


# ------------------------------------------------------------ conservation
def test_breakdown_sums_and_flow_conservation():
    lam, r, c, K, h, p = 3.0, 4.0, 1.0, 5.0, 1.0, 3.0
    prob = Problem(demand=Poisson(lam), lead_time=1, capacity=12, holding_cost=h, stockout_cost=p,
                   fixed_order_cost=K, unit_cost=c, price=r)
    ev = evaluate_exact(prob, SS(problem=prob, s=3, S=9))
    bd = ev.breakdown
    assert set(bd) == {"holding", "stockout", "ordering", "revenue", "waste"}
    assert bd.pop("waste") == 0.0  # the product keeps
    assert all(v > 0 for v in bd.values())
    assert bd["holding"] + bd["stockout"] + bd["ordering"] - bd["revenue"] == \
        pytest.approx(ev.average_cost, abs=1e-12)
    sold = ev.fill_rate * lam
    assert bd["revenue"] == pytest.approx(r * sold, rel=1e-10)
    assert bd["stockout"] == pytest.approx(p * (lam - sold), rel=1e-9)
    assert bd["holding"] == pytest.approx(h * ev.average_on_hand, rel=1e-12)
    # lost sales: in the long run every unit sold was ordered
    orders = ev.chain.orders
    p_order = float(ev.stationary @ (orders > 0))
    units = float(ev.stationary @ orders)
    assert units == pytest.approx(sold, rel=1e-9)
    assert bd["ordering"] == pytest.approx(K * p_order + c * units, rel=1e-10)


# ------------------------------------------------------- exact vs simulated
def test_stationary_distribution_matches_long_simulation(bike):
    """Capped base-stock (7, 4) on the bike shop: the occupation frequencies of
    y = α + β_1 over 200 independent paths agree with π within 4.5 standard errors."""
    pol = CappedBaseStock(problem=bike, level=7, cap=4)
    ev = evaluate_exact(bike, pol)
    assert ev.average_cost == pytest.approx(16.2569, abs=1e-3)  # README table
    pi = {}
    for s, q in stationary_by_state(ev).items():
        pi[s[0]] = pi.get(s[0], 0.0) + q
    sim = simulate(bike, pol, rng=np.random.default_rng(2024), n_paths=200, horizon=1500,
                   warmup=100, record=True)
    states = sim.trajectory["states"][:, 101:, :]  # evening states after the warm-up
    y = states[:, :, 0] + states[:, :, 1]
    n_paths = y.shape[0]
    for v in range(0, 11):
        per_path = (y == v).mean(axis=1)
        se = per_path.std(ddof=1) / math.sqrt(n_paths)
        assert abs(per_path.mean() - pi.get(v, 0.0)) <= 4.5 * se + 1e-12, v
    assert sim.ci95[0] <= ev.average_cost <= sim.ci95[1]
    assert sim.fill_rate == pytest.approx(ev.fill_rate, abs=0.01)
    assert sim.stockout_days == pytest.approx(ev.stockout_probability, abs=0.01)
    assert sim.average_on_hand == pytest.approx(ev.average_on_hand, abs=0.05)


def test_backorder_breakdown_matches_simulation():
    prob = Problem(demand=Poisson(2.5), lead_time=2, excess_demand="backorder", holding_cost=1,
                   stockout_cost=6, fixed_order_cost=4, unit_cost=0.5)
    pol = SS(problem=prob, s=7, S=12)
    ev = evaluate_exact(prob, pol)
    assert ev.truncation_mass < 1e-9
    sim = simulate(prob, pol, rng=np.random.default_rng(5), n_paths=100, horizon=2000, warmup=100)
    assert sim.ci95[0] <= ev.average_cost <= sim.ci95[1]
    for k, v in ev.breakdown.items():
        assert sim.breakdown[k] == pytest.approx(v, rel=0.03), k


@pytest.mark.parametrize("lead", [0, 1, 2])
def test_backorder_revenue_is_price_times_mean_demand(lead):
    """Under backorders every unit demanded is eventually sold: revenue = r·λ, for
    any stable policy; and the exact value agrees with simulation."""
    lam, r = 2.5, 2.0
    prob = Problem(demand=Poisson(lam), lead_time=lead, excess_demand="backorder", holding_cost=1,
                   stockout_cost=6, fixed_order_cost=4, unit_cost=0.5, price=r)
    pol = SS(problem=prob, s=7, S=12)
    ev = evaluate_exact(prob, pol)
    assert ev.breakdown["revenue"] == pytest.approx(r * lam, rel=1e-9)
    sim = simulate(prob, pol, rng=np.random.default_rng(5), n_paths=100, horizon=2000, warmup=100)
    assert sim.ci95[0] <= ev.average_cost <= sim.ci95[1]


# ------------------------------------------------------- limiting distribution
def birth_death(n: int, up: float, down: float) -> sp.csr_matrix:
    P = sp.lil_matrix((n, n))
    for i in range(n):
        if i + 1 < n:
            P[i, i + 1] = up
        if i > 0:
            P[i, i - 1] = down
        P[i, i] = 1.0 - P[i].sum()
    return P.tocsr()


@pytest.mark.parametrize("n", [40, 2100])  # dense solve / power iteration (> 2000 states)
def test_limiting_distribution_birth_death(n):
    up, down = 0.2, 0.7
    P = birth_death(n, up, down)
    pi = limiting_distribution(P, start=10)
    rho = up / down
    exact = rho ** np.arange(n)
    exact /= exact.sum()
    assert np.abs(pi - exact).sum() < 1e-9


def test_limiting_distribution_several_closed_classes():
    """From 0: absorbed in {1} w.p. 0.3/0.8, in the 2-cycle {2, 3} w.p. 0.5/0.8."""
    P = sp.csr_matrix(np.array([[0.2, 0.3, 0.5, 0.0],
                                [0.0, 1.0, 0.0, 0.0],
                                [0.0, 0.0, 0.0, 1.0],
                                [0.0, 0.0, 1.0, 0.0]]))
    pi = limiting_distribution(P, start=0)
    np.testing.assert_allclose(pi, [0.0, 0.375, 0.3125, 0.3125], atol=1e-12)
    np.testing.assert_allclose(limiting_distribution(P, start=1), [0, 1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(limiting_distribution(P, start=3), [0, 0, 0.5, 0.5], atol=1e-12)


def test_periodic_weekday_chain_has_uniform_phases():
    """Weekday demand makes the chain periodic (period 7); each phase has mass 1/7."""
    from replenish import WeekdayPoisson

    prob = Problem(demand=WeekdayPoisson((1, 1, 2, 2, 3, 4, 0)), lead_time=1, capacity=8,
                   holding_cost=1, stockout_cost=9)
    ev = evaluate_exact(prob, OrderUpTo(problem=prob, level=6))
    phase = ev.chain.states[:, -1]
    for w in range(7):
        assert ev.stationary[phase == w].sum() == pytest.approx(1 / 7, abs=1e-12)
    # Sunday (phase 6) has no demand: the evening before it never loses anything
    sat = phase == 5
    assert ev.chain.short[phase == 6].max() == 0 and ev.chain.short[sat].max() > 0
