"""Explanations and today's order: exact values checked against the DP and hand calculations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from replenish import OrderUpTo, Problem, WeekdayPoisson
from replenish.cli import main
from replenish.core.validate import SpecError
from replenish.workflows.explain import action_values, explain, make_state, parse_weekday, recommend


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_action_values_satisfy_bellman_and_match_dp(bike):
    av = action_values(bike)
    assert av is not None
    assert av.gain == pytest.approx(16.1830, abs=1e-3)  # published optimum of the bike shop
    assert av.bellman_residual < 1e-8
    mdp = av.mdp
    best = np.array([mdp.sa_order[mdp.sa_ptr[s] + np.argmin(av.q[mdp.sa_ptr[s]: mdp.sa_ptr[s + 1]])]
                     for s in range(mdp.n_states)])
    np.testing.assert_array_equal(best, av.policy.act(mdp.space.expand(mdp.states)))


def test_explain_orders_equal_act_and_day_one_cost_by_hand(bike):
    pol = OrderUpTo(problem=bike, level=7)
    lam, h, p = 4.0, 8.0, 10.0
    for a, b in [(0, 0), (3, 2), (7, 0), (2, 8), (10, 0)]:
        e = explain(bike, {"base": pol}, [a, b], days=2, neighbours=True)
        got = {x.label: x for x in e.policies}
        assert got["base"].order == pol.order([a, b])
        assert got["DP optimum"].order == av_order(bike, [a, b])
        assert e.optimal_order == got["DP optimum"].order
        assert min(v.regret for v in e.values) == 0.0
        # day 1: b arrives tomorrow morning, shelf y = a + b, then Poisson(4) demand (lost sales)
        y = a + b
        k = np.arange(0, 80)
        pk = stats.poisson.pmf(k, lam)
        hand = h * np.sum(np.maximum(y - k, 0) * pk) + p * np.sum(np.maximum(k - y, 0) * pk)
        assert got["base"].forecast[0].cost == pytest.approx(hand, abs=1e-9)
        for n in got["base"].neighbours:
            assert n.order == pol.order(list(n.state))


def av_order(problem, state):
    av = action_values(problem)
    return int(av.policy.order(state))


def test_forecast_converges_to_the_long_run_cost(bike):
    pol = OrderUpTo(problem=bike, level=7)
    e = explain(bike, {"base": pol}, [0, 0], days=60, neighbours=False)
    fc = {x.label: x for x in e.policies}["base"].forecast
    assert fc[-1].cost == pytest.approx(16.8230, abs=1e-3)  # best order-up-to: 16.8230/day


def test_make_state_rejects_infeasible(bike):
    with pytest.raises(SpecError, match="capacity C = 10"):
        make_state(bike, 9, [2])
    with pytest.raises(SpecError, match="on_hand"):
        make_state(bike, -1, [0])
    with pytest.raises(SpecError, match="in_transit"):
        make_state(bike, 1, [1, 1])
    np.testing.assert_array_equal(make_state(bike, 3, 2), [3, 2])


def test_weekday_and_date():
    prob = Problem(demand=WeekdayPoisson(means=(1, 1, 1, 1, 2, 3, 0)), lead_time=1, capacity=8,
                   holding_cost=1, stockout_cost=9)
    assert parse_weekday("Sat") == 5 and parse_weekday("sunday") == 6 and parse_weekday(0) == 0
    with pytest.raises(SpecError):
        parse_weekday("T")  # Tuesday or Thursday
    with pytest.raises(SpecError, match="weekday"):
        make_state(prob, 1, [0])
    # 2017-06-03 is a Saturday: the next demand day (the state's phase) is Sunday
    np.testing.assert_array_equal(make_state(prob, 1, [0], date="2017-06-03"), [1, 0, 6])
    pol = OrderUpTo(problem=prob, level=5)
    rec = recommend(pol, 1, [2], date="2017-06-03")
    assert rec.order == pol.order([1, 2, 6]) == 2
    assert str(rec.first_demand_day) == "2017-06-05"


def test_recommend_cli_equals_act_and_rejects_infeasible(capsys, tmp_path, bike):
    pol = OrderUpTo(problem=bike, level=7)
    path = pol.save(tmp_path / "p.json")
    for a, b in [(0, 0), (3, 2), (6, 4)]:
        code, out, _ = run(capsys, "recommend", "--policy", str(path), "--on-hand", str(a),
                           "--in-transit", str(b), "--json")
        assert code == 0
        assert json.loads(out)["order"] == pol.order([a, b])
    code, _, err = run(capsys, "recommend", "--policy", str(path), "--on-hand", "9", "--in-transit", "2")
    assert code == 2 and err.count("\n") == 1 and "exceeds the capacity" in err


def test_explain_cli_json(capsys, tmp_path, bike_config, bike):
    pol = OrderUpTo(problem=bike, level=10)
    path = pol.save(tmp_path / "p.json")
    code, out, _ = run(capsys, "explain", str(bike_config), "--policy", str(path), "--state", "3,2",
                       "--days", "3", "--json")
    assert code == 0
    obj = json.loads(out)
    by = {p["label"]: p for p in obj["policies"]}
    assert by["p.json"]["order"] == pol.order([3, 2]) == 5
    assert len(by["p.json"]["forecast"]) == 3
    assert {v["order"] for v in obj["values"]} == set(range(0, 6))  # room for 5 more bikes
    code, out, _ = run(capsys, "explain", str(bike_config), "--policy", str(path), "--state", "3,2")
    assert code == 0 and "regret" in out
    code, _, err = run(capsys, "explain", str(bike_config), "--state", "11,0")
    assert code == 2 and "state" in err


def test_dqn_q_values_are_shown_and_agree_with_act(bike):
    pytest.importorskip("torch")
    from replenish.policies.dqn import DQNPolicy, Observation, QNetwork

    obs = Observation.from_problem(bike)
    net = QNetwork(obs.n_features, obs.n_actions, (8,))
    pol = DQNPolicy(problem=bike, network=net, observation=obs, hidden=(8,))
    e = explain(bike, {"dqn": pol}, [3, 2], days=0, neighbours=False)
    x = {p.label: p for p in e.policies}["dqn"]
    assert x.own_values is not None
    best = max(x.own_values, key=lambda t: t[1])[0]
    assert best == x.order == pol.order([3, 2])
    assert max(o for o, _ in x.own_values) == 5  # only feasible orders


def test_candidate_orders_window_scale_and_constant_column(bike, capsys, tmp_path):
    """A window around the optimal order plus each policy's order; one cost-to-go scale (0 at the
    reference state's optimal order) in the CLI and the report; tonight's cost left out when it
    cannot depend on the order (L = 1, K = c = 0) and shown when it can (K > 0)."""
    import dataclasses
    import html as _html
    import re

    from replenish.policies.base import save_policy
    from replenish.workflows.report import write_report

    big = dataclasses.replace(bike, demand=WeekdayPoisson(means=(20.0,) * 6 + (40.0,)), capacity=90,
                              name="big")
    pol = OrderUpTo(problem=big, level=80)
    e = explain(big, {"up to 80": pol}, [5, 10, 2], days=0, neighbours=False)
    assert len(e.values) > 60
    rows = e.value_rows(3)
    shown = [r[0].order for r in rows if r is not None]
    orders = [v.order for v in e.values]
    i = orders.index(e.optimal_order)
    assert set(orders[max(0, i - 3): i + 4]) <= set(shown)
    assert pol.order([5, 10, 2]) in shown and 0 in shown and len(shown) <= 7 + 3
    assert e.base_stock is not None and e.base_stock[0] in shown
    assert None in rows  # the gaps are marked
    for r in rows:
        if r is not None:
            v, who = r
            assert ("up to 80" in who) == (v.order == pol.order([5, 10, 2]))
    # the scale: cost-to-go − its minimum is the regret, and at the reference state it is 0
    ctg = np.array([v.cost_to_go for v in e.values])
    np.testing.assert_allclose(ctg - ctg.min(), [v.regret for v in e.values], atol=1e-9)
    ref = explain(bike, {}, [0, 0], days=0, neighbours=False)
    assert ref.reference_state == (0, 0)
    assert min(v.cost_to_go for v in ref.values) == pytest.approx(0.0, abs=1e-9)
    # tonight's expected cost: constant (and left out) in the bike shop, varying with K > 0
    ex = explain(bike, {}, [3, 2], days=0, neighbours=False)
    # the critical-ratio base-stock order: the p/(p+h) quantile of Poisson(4·(L+1)) minus the position
    level = int(stats.poisson.ppf(10 / 18, 8.0))
    assert ex.base_stock == (min(max(0, level - 5), 5), level)
    assert ex.constant_period_cost() is not None and "left out" in ex.period_cost_note()
    k20 = dataclasses.replace(bike, fixed_order_cost=20.0)
    assert explain(k20, {}, [3, 2], days=0, neighbours=False).constant_period_cost() is None
    # the CLI and the report print the same cost-to-go for the same state
    base = OrderUpTo(problem=bike, level=7)
    path = save_policy(base, tmp_path / "base.json")
    assert main(["explain", "configs/bike_shop.toml", "--policy", str(path), "--state", "3,2",
                 "--days", "0"]) == 0
    out = capsys.readouterr().out
    assert "tonight $" not in out and "cost-to-go $" in out
    cli = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s+(\d+)\s+(-?\d+\.\d{4})\s", out, re.M)}
    from replenish.solvers.catalogue import solve

    rep = write_report([solve(bike, "order-up-to")], tmp_path / "rep", svg=False)
    text = _html.unescape(rep.html.read_text())
    first = rep.data["sections"][0]["explanations"][0]
    assert "Candidate orders in state" in text
    e32 = explain(bike, {}, [3, 2], days=0, neighbours=False)
    assert set(cli) == {v.order for v in e32.values}  # 0..5: all inside the window
    for v in e32.values:
        assert cli[v.order] == f"{v.cost_to_go:.4f}"
    # the report's table shows the first explained state's cost-to-go on the same scale
    e0 = explain(bike, {}, first["state"], days=0, neighbours=False)
    for v in e0.values:
        if v.order == e0.optimal_order:
            assert f"<td>{v.cost_to_go:.4f}</td>" in rep.html.read_text()
