"""The decision block: it names a policy of the table that is the cheapest or within noise of it,
computed on real results (the bike shop config, a replayed weekday series)."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

import replenish as rp
from replenish import Problem, WeekdayPoisson
from replenish.cli import main
from replenish.model.statespace import StateSpace
from replenish.solvers.catalogue import solve
from replenish.workflows.compare import OriginComparison, RollingComparison, compare
from replenish.workflows.decision import decide, decide_comparison, decide_rolling, paired_ci
from replenish.workflows.report import write_comparison_report, write_report


@pytest.fixture(scope="module")
def bike_shop_results():
    """The bike shop config solved with the DP, myopic, the best order-up-to and (s, S), and a
    simulated order-up-to 6 (a CI)."""
    problem = rp.load_config("configs/bike_shop.toml").problem
    res = [solve(problem, "order-up-to"), solve(problem, "sS"), solve(problem, "dp"),
           solve(problem, "myopic"),
           solve(problem, "order-up-to", options={"level": 6}, exact=False)]
    return problem, res, ["best order-up-to", "best (s, S)", "DP optimum", "myopic", "order-up-to 6"]


def _within(cost, ci, best_cost, best_ci) -> bool:
    lo, hi = ci if ci else (cost, cost)
    blo, bhi = best_ci if best_ci else (best_cost, best_cost)
    return cost == pytest.approx(best_cost, rel=1e-9) or (lo <= bhi and blo <= hi)


def _decision_block(text: str) -> str:
    m = re.search(r'<div class="decision" id="decision">(.*?)</div>', text, re.S)
    assert m, "no decision block"
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1)))


def test_report_decision_names_the_cheapest_policy_of_the_table(tmp_path, bike_shop_results):
    problem, res, labels = bike_shop_results
    rep = write_report(res, tmp_path, labels=labels, svg=False)
    text = rep.html.read_text()
    # the decision comes before the first section's summary table
    assert text.index('id="decision"') < text.index("<h3>Summary</h3>")
    block = _decision_block(text)
    dec = rep.data["sections"][0]["decision"]
    rows = {r["label"]: r for r in rep.data["sections"][0]["rows"]}
    assert dec["recommended"] in rows and f"Recommended: {dec['recommended']}" in block
    rec = rows[dec["recommended"]]
    best = min(rows.values(), key=lambda r: r["average_cost"])
    assert _within(rec["average_cost"], rec["ci95"], best["average_cost"], best["ci95"])
    # the reference is static (s, S) by default, and the saving is its cost minus the recommended
    assert dec["reference"] == "best (s, S)"
    assert dec["saving"] == pytest.approx(rows["best (s, S)"]["average_cost"] - rec["average_cost"])
    # the DP and myopic tie exactly: the simpler rule is recommended, the DP is the runner-up
    # within noise, and the reason is that myopic orders as the DP in every state
    dp, my = res[2].policy, res[3].policy
    states = StateSpace(problem, reduced=False).enumerate()
    assert np.array_equal(dp.act(states), my.act(states))
    assert dec["recommended"] == "myopic" and dec["runner_up"] == "DP optimum"
    assert dec["runner_up_within_noise"] is True
    assert f"orders as the DP in all {len(states)} states" in block


def test_decision_reference_named_by_the_user(bike_shop_results):
    _, res, labels = bike_shop_results
    d = decide(res, labels, reference="order-up-to")  # a method name: its cheapest row
    assert d.reference == "best order-up-to"
    assert d.saving == pytest.approx(res[0].average_cost - d.cost)
    d2 = decide(res[:1] + res[4:], [labels[0], labels[4]])  # no static sS: cheapest static rule
    assert d2.reference in (labels[0], labels[4])
    with pytest.raises(rp.SpecError):
        decide(res, labels, reference="dqn")


def test_decision_with_overlapping_cis_is_within_noise(bike_shop_results):
    """Two simulated runs of one policy: their CIs overlap, so the runner-up is within noise."""
    problem = bike_shop_results[0]
    runs = [solve(problem, "order-up-to", options={"level": 7}, exact=False, seed=s) for s in (1, 2)]
    d = decide(runs, ["a", "b"])
    assert d.runner_up_within_noise is True
    assert d.confidence.startswith("simulated, 95% CI")


@pytest.fixture(scope="module")
def weekday_comparison():
    """order-up-to, (s, S) and the DP learned on 9 weeks of a simulated weekday series, replayed on 8."""
    from replenish.workflows.history import DemandSeries, HistoricalDemand

    means = (2.0, 2.0, 2.0, 3.0, 4.0, 9.0, 1.0)
    prob = Problem(demand=WeekdayPoisson(means=means), lead_time=1, capacity=20, holding_cost=1,
                   stockout_cost=9, name="toy-shop")
    rng = np.random.default_rng(11)
    dates = np.arange(np.datetime64("2016-01-04"), np.datetime64("2016-05-02"))
    wd = (dates.astype(np.int64) + 3) % 7
    series = DemandSeries(dates, rng.poisson(np.asarray(means)[wd]), name="toy")
    hist = HistoricalDemand(series=series, train=series.window("2016-01-04", "2016-03-06"),
                            test=series.window("2016-03-07", "2016-05-01"))
    return compare(prob, hist, ["order-up-to", "sS", "dp"])


def test_comparison_decision_is_cheapest_on_the_test_window_or_within_noise(tmp_path, weekday_comparison):
    comp = weekday_comparison
    dec = decide_comparison(comp)
    tests = {r.method: r.test for r in comp.results}
    cheapest = min(tests, key=lambda m: tests[m].total_cost)
    if dec.method != cheapest:  # allowed only when the paired difference is not significant
        pc = paired_ci(tests[dec.method].trajectory["cost"], tests[cheapest].trajectory["cost"])
        assert pc is not None and pc[1] <= 0
    assert dec.cost == pytest.approx(tests[dec.method].average_cost)
    assert dec.reference == "sS"
    # the saving's interval is that of the paired daily costs (mean of the difference inside it)
    saving = tests["sS"].average_cost - tests[dec.method].average_cost
    assert dec.saving == pytest.approx(saving)
    if dec.saving_ci95 is not None:
        assert dec.saving_ci95[0] <= saving <= dec.saving_ci95[1]
    # the comparison report shows it at the top
    rep = write_comparison_report(comp, tmp_path, svg=False)
    block = _decision_block(rep.html.read_text())
    assert f"Recommended: {dec.recommended}" in block
    assert json.loads(rep.json.read_text())["sections"][0]["decision"]["method"] == dec.method


def test_paired_ci_contains_a_known_mean_difference():
    rng = np.random.default_rng(3)
    a = rng.normal(10, 1, 700)
    lo_hi = paired_ci(a + 2.0, a)
    assert lo_hi is not None and lo_hi[1] <= 2.0 <= lo_hi[2]
    assert paired_ci(a[:20], a[:20]) is None  # fewer than 4 weeks


def test_rolling_decision_deploys_the_cheapest_in_total(weekday_comparison):
    comp = weekday_comparison
    other = compare(comp.problem, comp.history, ["order-up-to", "sS", "dp"], seed=1)
    roll = RollingComparison(name="toy", origins=(OriginComparison("2016-03-07", comp),
                                                  OriginComparison("2016-03-08", other)),
                             methods=("order-up-to", "sS", "dp"), seed=0)
    d = decide_rolling(roll)
    tot = roll.totals()
    assert tot[d.deploy] == min(tot.values())
    assert d.reference == "sS"
    assert [o.saving for o in d.origins] == pytest.approx(
        [o.comparison.get("sS").test.total_cost - o.comparison.get(d.deploy).test.total_cost
         for o in roll.origins])
    assert "Deploy: " + d.deploy in d.lines()[0]
    # the runner-up's interval is that of the paired daily costs over every test day
    days = {m: np.concatenate([o.comparison.get(m).test.trajectory["cost"] for o in roll.origins])
            for m in roll.methods}
    assert d.runner_up is not None and d.runner_up_ci95 is not None
    diff = float(np.mean(days[d.runner_up] - days[d.deploy]))
    assert d.runner_up_ci95[0] <= diff <= d.runner_up_ci95[1]
    assert d.runner_up_within_noise == (d.runner_up_ci95[0] <= 0)


def test_solve_and_compare_print_the_decision(capsys, bike_config):
    assert main(["solve", str(bike_config), "--method", "order-up-to", "-q"]) == 0
    out = capsys.readouterr().out
    assert "Recommended: order-up-to" in out and "against sS" in out
    assert main(["solve", str(bike_config), "--method", "sS", "--reference", "none", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["decision"]["recommended"] == "sS" and obj["decision"]["reference"] is None
