"""Classic policies and their optimisers (issue 3).

Independent facts used: the published (s, S) example of Snyder & Shen
(Example 4.7), the DP optimum (the optimal policy under backorders with a fixed
cost is (s, S), Scarf 1960), hand calculations of each rule, exhaustive
enumeration of small parameter grids, and renewal formulas cross-checked
against the Markov-chain evaluation.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replenish import (
    SQ,
    SS,
    CappedBaseStock,
    ConstantOrder,
    Empirical,
    Myopic,
    NegativeBinomial,
    OrderUpTo,
    Poisson,
    Problem,
    WeekdayBaseStock,
    WeekdayPoisson,
    available_methods,
    evaluate_exact,
    load_policy,
    save_policy,
    simulate,
    solve_dp,
)
from replenish.cli import main
from replenish.core.validate import SpecError
from replenish.evaluation.simulate import draw_demand
from replenish.model.demand import multi_period_pmf
from replenish.solvers import classic as C
from replenish.solvers.classic.common import _SSRenewal

BIKE_OPTIMUM = 16.1830


def backorder(demand, **kw) -> Problem:
    return Problem(demand=demand, excess_demand="backorder", **kw)


#: Snyder & Shen, Example 4.7: backorders, L = 0, Poisson(6), h = 1, p = 4, K = 5.
SNYDER = backorder(Poisson(6), holding_cost=1, stockout_cost=4, fixed_order_cost=5, name="snyder-4.7")


def weekday_problem(**kw) -> Problem:
    base = dict(demand=WeekdayPoisson((0.5, 0.5, 0.5, 1.0, 1.0, 2.0, 3.0)), lead_time=1,
                capacity=8, holding_cost=1, stockout_cost=9, name="weekday")
    return Problem(**{**base, **kw})


def orders(policy, states) -> list[int]:
    return policy.act(np.asarray(states, dtype=np.int64)).tolist()


# ============================================================== actions
def test_order_up_to_actions(bike):
    assert orders(OrderUpTo(problem=bike, level=7), [[2, 3], [8, 0], [0, 0], [3, 0]]) == [2, 0, 7, 4]
    # capacity 10 clips the order: position + order <= 10
    assert orders(OrderUpTo(problem=bike, level=12), [[0, 0], [4, 4]]) == [10, 2]


def test_ss_actions(bike):
    pol = SS(problem=SNYDER, s=4, S=10)
    assert orders(pol, [[4], [5], [-3], [10], [0]]) == [6, 0, 13, 0, 10]
    assert orders(SS(problem=bike, s=3, S=9), [[2, 1], [2, 2], [0, 0]]) == [6, 0, 9]


def test_sq_actions():
    pol = SQ(problem=SNYDER, s=4, Q=5)
    # enough batches of 5 to lift the position above s = 4
    assert orders(pol, [[4], [0], [-1], [5], [-6]]) == [5, 5, 10, 0, 15]
    single = SQ(problem=SNYDER, s=4, Q=5, multiples=False)
    assert orders(single, [[-1], [4], [9]]) == [5, 5, 0]


def test_capped_base_stock_actions(bike):
    pol = CappedBaseStock(problem=SNYDER, level=10, cap=3)
    assert orders(pol, [[4], [8], [11], [-5], [10]]) == [3, 2, 0, 3, 0]
    assert orders(CappedBaseStock(problem=bike, level=9, cap=4), [[1, 2], [3, 4]]) == [4, 2]


def test_constant_order_actions(bike):
    pol = ConstantOrder(problem=bike, quantity=3)
    # capacity 10: position 9 leaves room for 1, position 10 for nothing
    assert orders(pol, [[0, 0], [5, 4], [6, 4], [2, 1]]) == [3, 1, 0, 3]


def test_weekday_base_stock_actions():
    prob = weekday_problem(capacity=None, position_bound=30)
    pol = WeekdayBaseStock(problem=prob, levels=(5, 6, 7, 8, 9, 10, 11))
    # state [α, β_1, w]: the level of the weekday w of tomorrow's demand applies
    assert orders(pol, [[3, 0, 2], [3, 1, 6], [12, 0, 0], [0, 0, 0]]) == [4, 7, 0, 5]


def test_myopic_hand_calculation_lost_sales():
    # D ∈ {0, 1} with probability 1/2 each; h = 1, p = 3, lost sales, L = 0:
    # G(0) = 1.5, G(1) = 0.5, G(2) = 1.5 → order up to 1.
    coin = Empirical((0.5, 0.5))
    p0 = Problem(demand=coin, lead_time=0, holding_cost=1, stockout_cost=3, position_bound=5)
    assert orders(Myopic(problem=p0), [[0], [1], [2]]) == [1, 0, 0]
    # L = 1, p = 4, state [α = 0, β_1 = 1]: stock before the order arrives is 1 or 0 (1/2 each);
    # E G(I + a) = 1.25 (a = 0), 1.0 (a = 1), 2.0 (a = 2) → a = 1; a fixed cost 0.3 tips it to 0.
    p1 = Problem(demand=coin, lead_time=1, holding_cost=1, stockout_cost=4, position_bound=6)
    assert orders(Myopic(problem=p1), [[0, 1]]) == [1]
    assert orders(Myopic(problem=p1.replace(fixed_order_cost=0.3)), [[0, 1]]) == [0]


def test_myopic_hand_calculation_backorders():
    # backorders, L = 1: cost of the arrival day is G2(x + a) with D1 + D2 ∈ {0, 1, 2}
    # (1/4, 1/2, 1/4): G2(0) = 4, G2(1) = 1.25, G2(2) = 1.0, G2(3) = 2.0 → position 2.
    coin = Empirical((0.5, 0.5))
    prob = backorder(coin, lead_time=1, holding_cost=1, stockout_cost=4, position_bound=8)
    assert orders(Myopic(problem=prob), [[0, 1], [-2, 1], [2, 1]]) == [1, 3, 0]


def test_myopic_is_optimal_under_backorders_without_fixed_cost():
    prob = backorder(Poisson(3), lead_time=1, holding_cost=1, stockout_cost=9)
    my = evaluate_exact(prob, Myopic(problem=prob)).average_cost
    assert my == pytest.approx(solve_dp(prob).average_cost, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(s=st.integers(-20, 40), gap=st.integers(1, 40), Q=st.integers(1, 30),
       x=st.integers(-50, 100))
def test_ss_and_sq_reach_their_targets(s, gap, Q, x):
    prob = backorder(Poisson(60), position_bound=200)
    assert prob.bound >= 80  # S <= 80 and s + Q <= 70 stay below the position bound
    S = s + gap
    if S < 0:
        return
    state = np.array([[x]])
    a = SS(problem=prob, s=s, S=S).act(state)[0]
    assert (x + a == S) if x <= s else a == 0
    b = SQ(problem=prob, s=s, Q=Q).act(state)[0]
    if x <= s:
        assert b % Q == 0 and s < x + b <= s + Q
    else:
        assert b == 0


# ======================================================= validation / JSON
@pytest.mark.parametrize("make, field", [
    (lambda p: SS(problem=p, s=5, S=5), "params.s"),
    (lambda p: SS(problem=p, s=12, S=10), "params.s"),
    (lambda p: SS(problem=p, s=-3, S=-1), "params.S"),
    (lambda p: OrderUpTo(problem=p, level=-1), "params.level"),
    (lambda p: OrderUpTo(problem=p, level=True), "params.level"),
    (lambda p: OrderUpTo(problem=p, level=2.5), "params.level"),
    (lambda p: CappedBaseStock(problem=p, level=-2, cap=3), "params.level"),
    (lambda p: CappedBaseStock(problem=p, level=5, cap=0), "params.cap"),
    (lambda p: SQ(problem=p, s=2, Q=0), "params.Q"),
    (lambda p: SQ(problem=p.replace(order_multiple=2), s=2, Q=3), "params.Q"),
    (lambda p: ConstantOrder(problem=p, quantity=-1), "params.quantity"),
    (lambda p: WeekdayBaseStock(problem=p, levels=(1,) * 7), "params.levels"),
    (lambda p: WeekdayBaseStock(problem=weekday_problem(), levels=(1,) * 6), "params.levels"),
    (lambda p: WeekdayBaseStock(problem=weekday_problem(), levels=(1, 2, 3, -4, 5, 6, 7)),
     "params.levels[3]"),
])
def test_invalid_parameters_are_rejected(bike, make, field):
    with pytest.raises(SpecError) as exc:
        make(bike)
    msg = str(exc.value)
    assert exc.value.field == field and msg.startswith(field) and "\n" not in msg


def _all_policies(bike):
    wk = weekday_problem()
    return [OrderUpTo(problem=bike, level=7), SS(problem=bike, s=4, S=9),
            SQ(problem=bike, s=3, Q=4, multiples=False), CappedBaseStock(problem=bike, level=8, cap=3),
            ConstantOrder(problem=bike, quantity=3), Myopic(problem=bike),
            WeekdayBaseStock(problem=wk, levels=(2, 2, 3, 3, 4, 5, 6))]


def test_json_round_trip(bike, tmp_path):
    rng = np.random.default_rng(0)
    for pol in _all_policies(bike):
        path = save_policy(pol, tmp_path / f"{pol.kind}.json")
        back = load_policy(path)
        assert type(back) is type(pol) and back.params() == pol.params()
        assert json.loads(path.read_text())["kind"] == pol.kind
        prob = pol.problem
        states = np.column_stack([rng.integers(0, 6, 50), rng.integers(0, 5, 50)])
        if prob.seasonal:
            states = np.column_stack([states, rng.integers(0, 7, 50)])
        assert np.array_equal(back.act(states), pol.act(states))


def test_json_with_bad_parameters_is_rejected(bike, tmp_path):
    doc = SS(problem=bike, s=4, S=9).to_dict()
    doc["params"] = {"s": 9, "S": 4}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecError, match=r"params\.s"):
        load_policy(path)
    doc = Myopic(problem=bike).to_dict()
    doc["params"] = {"level": 3}
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecError, match="no parameters"):
        load_policy(path)


# ===================================================== exact optimisers
def test_snyder_shen_example_4_7():
    r = C.optimize_ss(SNYDER)
    assert r.search == "zheng-federgruen"
    assert r.params == {"s": 4, "S": 10}
    assert r.average_cost == pytest.approx(8.0341, abs=5e-5)
    assert r.formula_cost == pytest.approx(r.average_cost, abs=1e-9)
    assert evaluate_exact(SNYDER, SS(problem=SNYDER, s=6, S=18)).average_cost == pytest.approx(
        10.1938, abs=5e-5)


DP_INSTANCES = [
    backorder(Poisson(3), holding_cost=1, stockout_cost=9, fixed_order_cost=20),
    backorder(NegativeBinomial(4, 10), holding_cost=2, stockout_cost=5, fixed_order_cost=15),
    backorder(Poisson(4), lead_time=1, holding_cost=1, stockout_cost=9, fixed_order_cost=10),
    backorder(Empirical((0.2, 0.1, 0.4, 0.1, 0.2)), holding_cost=1, stockout_cost=5,
              fixed_order_cost=8, unit_cost=1, price=2),
]


@pytest.mark.parametrize("prob", DP_INSTANCES, ids=["poisson", "negbin", "lead1", "empirical-price"])
def test_optimal_ss_equals_dp_optimum(prob):
    r = C.optimize_ss(prob)
    assert r.search == "zheng-federgruen"
    assert r.average_cost == pytest.approx(solve_dp(prob).average_cost, abs=1e-6)
    # the renewal-reward formula and the Markov chain agree
    assert r.formula_cost == pytest.approx(r.evaluation.average_cost, abs=1e-6)


def _renewal(prob: Problem) -> _SSRenewal:
    q = prob.demand.pmf(0)
    lead = multi_period_pmf(prob.demand, prob.lead_time + 1)
    return _SSRenewal(q, lead, prob.holding_cost, prob.stockout_cost, prob.fixed_order_cost)


@pytest.mark.parametrize("prob", [SNYDER, DP_INSTANCES[0], DP_INSTANCES[2]])
def test_zheng_federgruen_is_global_and_formula_matches_chain(prob):
    r = _renewal(prob)
    s, S, c = r.solve()
    grid = min((r.cost(a, b), a, b) for a in range(-8, 25) for b in range(max(a + 1, 0), 45))
    assert c == pytest.approx(grid[0], abs=1e-12) and (s, S) == grid[1:]
    for a, b in [(0, 5), (2, 9), (-1, 3), (5, 20)]:
        exact = evaluate_exact(prob, SS(problem=prob, s=a, S=b)).average_cost
        assert r.cost(a, b) == pytest.approx(exact, abs=1e-7)


def test_rnq_optimum_against_enumeration():
    prob = DP_INSTANCES[0]
    r = C.optimize_sq(prob)
    assert r.search == "renewal-rnq"
    assert r.formula_cost == pytest.approx(r.average_cost, abs=1e-6)
    best = min(evaluate_exact(prob, SQ(problem=prob, s=s, Q=Q)).average_cost
               for s in range(-2, 6) for Q in range(1, 19))
    assert r.average_cost == pytest.approx(best, abs=1e-9)
    # (s, S) is optimal among all policies here, so no (s, Q) can beat it
    assert r.average_cost >= C.optimize_ss(prob).average_cost - 1e-9


def test_order_up_to_newsvendor_under_backorders():
    prob = backorder(Poisson(4), lead_time=1, holding_cost=1, stockout_cost=9)
    r = C.optimize_order_up_to(prob)
    assert r.search == "newsvendor"
    costs = [evaluate_exact(prob, OrderUpTo(problem=prob, level=T)).average_cost for T in range(4, 20)]
    assert r.average_cost == pytest.approx(min(costs), abs=1e-9)
    assert r.params["level"] == 4 + int(np.argmin(costs))
    assert r.average_cost == pytest.approx(solve_dp(prob).average_cost, abs=1e-6)


def test_bike_shop_classics(bike):
    r = C.optimize_order_up_to(bike)
    assert r.params == {"level": 7}
    assert r.average_cost == pytest.approx(16.8230, abs=1e-4)
    results = {name: fn(bike) for name, fn in C.EXACT_OPTIMIZERS.items()
               if name not in ("weekday-base-stock", "base-stock-ew", "bsp-low-ew")}
    results["myopic"] = C.optimize_myopic(bike)
    for name, res in results.items():
        assert res.average_cost >= BIKE_OPTIMUM - 1e-4, name
        assert res.average_cost == pytest.approx(res.evaluation.average_cost, abs=1e-12)
    # families containing base-stock never do worse than it
    for name in ("sS", "sQ", "capped-base-stock"):
        assert results[name].average_cost <= results["order-up-to"].average_cost + 1e-12


def test_bike_shop_local_searches_match_enumeration(bike):
    grid_ss = min(evaluate_exact(bike, SS(problem=bike, s=s, S=S)).average_cost
                  for S in range(1, 11) for s in range(-1, S))
    assert C.optimize_ss(bike).average_cost == pytest.approx(grid_ss, abs=1e-12)
    grid_cap = min(evaluate_exact(bike, CappedBaseStock(problem=bike, level=T, cap=r)).average_cost
                   for T in range(0, 11) for r in range(1, 11))
    assert C.optimize_capped_base_stock(bike).average_cost == pytest.approx(grid_cap, abs=1e-12)
    grid_const = min(evaluate_exact(bike, ConstantOrder(problem=bike, quantity=r)).average_cost
                     for r in range(0, 11))
    assert C.optimize_constant_order(bike).average_cost == pytest.approx(grid_const, abs=1e-12)


def test_lost_sales_fixed_cost_ss_matches_enumeration():
    prob = Problem(demand=Poisson(2), lead_time=1, capacity=8, holding_cost=1, stockout_cost=9,
                   fixed_order_cost=10)
    r = C.optimize_ss(prob)
    assert r.search == "exact-local-search"
    grid = min((evaluate_exact(prob, SS(problem=prob, s=s, S=S)).average_cost, s, S)
               for S in range(1, 9) for s in range(-1, S))
    assert r.average_cost == pytest.approx(grid[0], abs=1e-12)
    assert r.average_cost >= solve_dp(prob).average_cost - 1e-9


def test_order_multiple_sq_and_constant_order():
    prob = Problem(demand=Poisson(3), lead_time=1, capacity=12, order_multiple=2, holding_cost=1,
                   stockout_cost=9)
    r = C.optimize_sq(prob)
    assert r.params["Q"] % 2 == 0
    grid = min(evaluate_exact(prob, SQ(problem=prob, s=s, Q=Q)).average_cost
               for s in range(-1, 12) for Q in range(2, 13, 2))
    assert r.average_cost == pytest.approx(grid, abs=1e-12)
    c = C.optimize_constant_order(prob)
    assert c.params["quantity"] % 2 == 0


def test_constant_order_under_backorders_is_stable():
    prob = backorder(Poisson(3), holding_cost=1, stockout_cost=9)
    r = C.optimize_constant_order(prob)
    assert r.params["quantity"] > 3  # at or below the mean, the backlog drifts away
    assert np.isfinite(r.average_cost) and r.evaluation.truncation_mass < C.UNSTABLE_MASS


def test_capped_base_stock_under_backorders_never_loses_to_base_stock():
    # caps at or below the mean demand are unstable under backorders; the search
    # must not get stuck near them (it once returned a cap equal to the mean)
    prob = backorder(Poisson(12), holding_cost=1, stockout_cost=9, fixed_order_cost=64)
    r = C.optimize_capped_base_stock(prob)
    assert r.params["cap"] > 12
    assert r.average_cost <= C.optimize_order_up_to(prob).average_cost + 1e-9


def test_weekday_base_stock_is_a_coordinatewise_optimum():
    prob = weekday_problem()
    r = C.optimize_weekday_base_stock(prob)
    levels = r.params["levels"]
    assert len(levels) == 7
    assert r.average_cost <= C.optimize_order_up_to(prob).average_cost + 1e-12
    for w in range(7):
        for step in (-1, 1):
            lv = list(levels)
            lv[w] += step
            if 0 <= lv[w] <= prob.bound:
                other = evaluate_exact(prob, WeekdayBaseStock(problem=prob, levels=tuple(lv)))
                assert other.average_cost >= r.average_cost - 1e-12


def test_weekday_base_stock_needs_seasonal_demand(bike):
    with pytest.raises(SpecError, match="seasonal"):
        C.optimize_weekday_base_stock(bike)


# ================================================= simulation optimiser
def test_simulation_search_matches_enumeration_on_the_same_demand(bike):
    demand = draw_demand(bike, np.random.default_rng(7), n_paths=8, horizon=1500)
    r = C.optimize_by_simulation(bike, "order-up-to", demand=demand, warmup=50)
    costs = [simulate(bike, OrderUpTo(problem=bike, level=T), demand=demand, warmup=50).average_cost
             for T in range(0, 11)]
    assert r.params == {"level": int(np.argmin(costs))}
    assert r.average_cost == pytest.approx(min(costs), abs=1e-12)
    assert r.simulation.average_cost == r.average_cost and r.evaluations == len(r.history)
    again = C.optimize_by_simulation(bike, "order-up-to", demand=demand, warmup=50)
    assert again.params == r.params and again.average_cost == r.average_cost  # deterministic (CRN)


def test_simulation_search_two_parameters(bike):
    demand = draw_demand(bike, np.random.default_rng(3), n_paths=10, horizon=1000)
    r = C.optimize_by_simulation(bike, "capped-base-stock", demand=demand, warmup=50)
    exact_best = C.optimize_capped_base_stock(bike).average_cost
    assert evaluate_exact(bike, r.policy).average_cost <= exact_best * 1.01
    start = C.optimize_by_simulation(bike, "sS", demand=demand, warmup=50, initial={"s": 1, "S": 10})
    assert start.average_cost <= simulate(bike, SS(problem=bike, s=1, S=10), demand=demand,
                                          warmup=50).average_cost


def test_simulation_search_weekday_levels_from_one_history_row():
    prob = weekday_problem()
    demand = draw_demand(prob, np.random.default_rng(5), n_paths=1, horizon=364)[0]
    r = C.optimize_by_simulation(prob, "weekday-base-stock", demand=demand)
    flat = C.optimize_by_simulation(prob, "order-up-to", demand=demand)
    assert isinstance(r.policy, WeekdayBaseStock)
    assert r.average_cost <= flat.average_cost + 1e-12
    assert not np.isfinite(r.ci95[1] - r.ci95[0])  # one path: no confidence interval


@pytest.mark.parametrize("family, demand, field", [
    ("nope", np.ones((2, 10), dtype=int), "family"),
    ("sS", -np.ones((2, 10), dtype=int), "demand"),
    ("sS", np.full((2, 10), 1.5), "demand"),
    ("weekday-base-stock", np.ones((2, 10), dtype=int), "method"),
])
def test_simulation_search_bad_input(bike, family, demand, field):
    with pytest.raises(SpecError) as exc:
        C.optimize_by_simulation(bike, family, demand=demand)
    assert exc.value.field == field


# ============================================================ methods / CLI
def test_methods_are_registered():
    names = {"order-up-to", "sS", "sQ", "capped-base-stock", "constant-order", "myopic",
             "weekday-base-stock"}
    assert names <= set(available_methods())


def _solve_json(capsys, config, method):
    code = main(["solve", str(config), "--method", method, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_cli_solve_classic_methods(capsys, bike_config):
    code, obj = _solve_json(capsys, bike_config, "sS")
    assert code == 0 and obj["params"] == {"s": 6, "S": 7} and obj["exact"] is True
    assert obj["average_cost"] == pytest.approx(16.8230, abs=1e-4)
    assert obj["gap"] == pytest.approx(16.8230 / BIKE_OPTIMUM - 1, abs=1e-4)
    code, obj = _solve_json(capsys, bike_config, "capped-base-stock")
    assert code == 0 and set(obj["params"]) == {"level", "cap"}
    assert BIKE_OPTIMUM - 1e-4 <= obj["average_cost"] < 16.8230
    code, obj = _solve_json(capsys, bike_config, "myopic")
    assert code == 0 and obj["params"] == {} and obj["average_cost"] >= BIKE_OPTIMUM - 1e-4


def test_cli_fixed_parameters_and_errors(capsys, tmp_path, bike_config, bike):
    cfg = tmp_path / "fixed.toml"
    cfg.write_text(bike_config.read_text() + "\n[sS]\ns = 4\nS = 9\n")
    code, obj = _solve_json(capsys, cfg, "sS")
    assert code == 0 and obj["params"] == {"s": 4, "S": 9}
    assert obj["average_cost"] == pytest.approx(
        evaluate_exact(bike, SS(problem=bike, s=4, S=9)).average_cost, abs=1e-12)
    bad = tmp_path / "bad.toml"
    bad.write_text(bike_config.read_text() + "\n[sS]\ns = 4\n")
    code, err = _solve_json(capsys, bad, "sS")
    assert code == 2 and "sS.S" in err and len(err.strip().splitlines()) == 1
    bad.write_text(bike_config.read_text() + "\n[sS]\ns = 9\nS = 4\n")
    code, err = _solve_json(capsys, bad, "sS")
    assert code == 2 and "params.s" in err
    code, err = _solve_json(capsys, bike_config, "weekday-base-stock")
    assert code == 2 and "seasonal" in err



def test_method_falls_back_to_simulation_when_chains_are_too_large(bike):
    from replenish import solve

    opts = {"max_states": 3, "n_paths": 4, "horizon": 400, "warmup": 20}
    res = solve(bike, "order-up-to", options=opts, seed=1, with_optimum=False)
    assert res.extras["search"] == "simulation" and res.evaluation.exact  # small enough for solve()
    assert res.params["level"] in (6, 7, 8)
    with pytest.raises(SpecError, match=r"problem\.bound"):
        solve(bike, "order-up-to", options={**opts, "search": "exact"}, with_optimum=False)
    res = solve(bike, "sS", options={"search": "simulation", "n_paths": 4, "horizon": 400}, seed=2,
                with_optimum=False)
    assert res.extras["search"] == "simulation" and res.average_cost >= BIKE_OPTIMUM - 1e-4
