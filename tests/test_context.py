"""Future demand information: features without look-ahead, the forecaster, time-varying demand in the
one dynamics, the contextual policies and rolling-origin comparisons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import history_config
from replenish.core.validate import SpecError
from replenish.model.context import Context, FeatureSpec, design_matrix
from replenish.model.demand import DatedDemand, Poisson, demand_from_dict, phase_of_date
from replenish.model.forecast import crps, fit_forecaster, pinball_loss, pmf_quantile
from replenish.model.spec import Problem
from replenish.policies.base import load_policy, policy_from_dict
from replenish.policies.classic import OrderUpTo
from replenish.solvers.contextual import ContextData, forecast_base_stock_method, lookahead_method
from replenish.solvers.dp import solve_dp
from replenish.solvers.lookahead import lookahead_order
from replenish.workflows.history import replay

SPEC = FeatureSpec(known_ahead=("promo",), forecast=(), level=True)


def synthetic(n: int = 420, seed: int = 0) -> Context:
    """Daily demand Poisson(4 + 12·promo + 3·[Saturday]) with a random promotion plan."""
    rng = np.random.default_rng(seed)
    dates = np.datetime64("2020-01-06") + np.arange(n)  # a Monday
    promo = (rng.random(n) < 0.15).astype(float)
    sat = ((dates.astype(np.int64) + 3) % 7 == 5).astype(float)
    demand = rng.poisson(4 + 12 * promo + 3 * sat)
    return Context(dates, demand, {"promo": promo}, "synthetic")


def base_problem(K: float = 0.0) -> Problem:
    return Problem(demand=Poisson(6.0), lead_time=1, holding_cost=1.0, stockout_cost=9.0,
                   fixed_order_cost=K, position_bound=60)


# ----------------------------------------------------------------------------
# features: nothing after the decision evening
# ----------------------------------------------------------------------------
def test_design_matrix_reads_no_sales_after_the_evening():
    ctx = synthetic()
    rng = np.random.default_rng(1)
    for e in (30, 100, 250):
        hs = np.arange(1, 15)
        X = design_matrix(ctx, SPEC, np.full(hs.size, e), hs)
        demand = ctx.demand.copy()
        demand[e + 1:] = rng.integers(0, 1000, size=demand.size - e - 1)
        promo = ctx.columns["promo"].copy()
        promo[e + 16:] = 1 - promo[e + 16:]  # beyond d + 1 for every h <= 14
        changed = Context(ctx.dates, demand, {"promo": promo}, ctx.name)
        np.testing.assert_array_equal(X, design_matrix(changed, SPEC, np.full(hs.size, e), hs))
        # the day's own plan is read (known ahead): changing it changes the row
        promo2 = ctx.columns["promo"].copy()
        promo2[e + 1] = 1 - promo2[e + 1]
        X2 = design_matrix(Context(ctx.dates, ctx.demand, {"promo": promo2}), SPEC,
                           np.array([e]), np.array([1]))
        assert not np.array_equal(X[:1], X2)


def test_level_features_by_hand():
    dates = np.datetime64("2021-03-01") + np.arange(40)
    demand = np.arange(40) * 2
    ctx = Context(dates, demand, {}, "ramp")
    spec = FeatureSpec(level=True)
    e, h = 35, 3
    row = design_matrix(ctx, spec, np.array([e]), np.array([h]))[0]
    names = spec.names()
    d = e + h
    assert row[names.index("same_weekday_lag1")] == demand[d - 7]
    assert row[names.index("same_weekday_lag2")] == demand[d - 14]
    assert row[names.index("mean_7d")] == pytest.approx(demand[e - 6: e + 1].mean())
    assert row[names.index("mean_28d")] == pytest.approx(demand[e - 27: e + 1].mean())
    # horizon 9: the last known same weekday is two weeks back
    row9 = design_matrix(ctx, spec, np.array([25]), np.array([9]))[0]
    assert row9[names.index("same_weekday_lag1")] == demand[34 - 14]
    assert row[names.index("weekday")] == float((dates[d].astype(np.int64) + 3) % 7)


def test_feature_spec_errors():
    with pytest.raises(SpecError, match=r"features\.lvl"):
        FeatureSpec.from_dict({"lvl": True})
    with pytest.raises(SpecError, match="known_ahead too"):
        FeatureSpec.from_dict({"known_ahead": ["a"], "forecast": ["a"]})
    with pytest.raises(SpecError, match=r"features\.level"):
        FeatureSpec.from_dict({"level": "yes"})


# ----------------------------------------------------------------------------
# scores
# ----------------------------------------------------------------------------
def test_pinball_and_crps_by_hand():
    assert pinball_loss(np.array([10.0]), np.array([7.0]), 0.9) == pytest.approx(2.7)
    assert pinball_loss(np.array([5.0]), np.array([7.0]), 0.9) == pytest.approx(0.2)
    pmf = np.array([[0.5, 0.5]])  # D ∈ {0, 1}
    # y = 1: F(0) = 0.5 vs 0, F(1) = 1 vs 1 → 0.25
    assert crps(np.array([1]), pmf) == pytest.approx(0.25)
    # y = 3 beyond the support: (0.5)² + 1² + 1² = 2.25
    assert crps(np.array([3]), pmf) == pytest.approx(2.25)
    assert pmf_quantile(np.array([[0.2, 0.3, 0.5]]), 0.5)[0] == 1


# ----------------------------------------------------------------------------
# time-varying demand in the one dynamics
# ----------------------------------------------------------------------------
def test_dated_demand_replay_matches_hand_calculation():
    """Point-mass days 3, 0, 5, 2; order-up-to 4 with L = 0, lost sales, h = 1, p = 9:
    each evening order 4 − stock; day costs: (4−3)·1, 4·1, 9·1 (short 1), 2·1."""
    pm = np.zeros((4, 6))
    for t, d in enumerate((3, 0, 5, 2)):
        pm[t, d] = 1.0
    dem = DatedDemand("2022-05-02", pm)
    pr = Problem(demand=dem, lead_time=0, holding_cost=1.0, stockout_cost=9.0, position_bound=10)
    pol = OrderUpTo(problem=pr, level=4)
    dates = np.datetime64("2022-05-02") + np.arange(4)
    from replenish.workflows.history.series import DemandSeries

    series = DemandSeries(dates, np.array([3, 0, 5, 2]))
    start = pr.start_state(0)
    r = replay(pr, pol, series, start_state=start)
    np.testing.assert_allclose(r.trajectory["cost"], [1.0, 4.0, 9.0, 2.0])
    assert r.trajectory["states"][:, -1].tolist() == [0, 1, 2, 3, 0]  # the day index advances
    # the simulator draws each day's pmf: point masses give exactly the days' demands
    from replenish.evaluation.simulate import simulate

    sim = simulate(pr, pol, rng=np.random.default_rng(0), n_paths=3, horizon=4, warmup=0,
                   start=start, record=True)
    assert sim.trajectory is not None
    np.testing.assert_array_equal(sim.trajectory["demand"], np.tile([3, 0, 5, 2], (3, 1)))
    assert sim.average_cost == pytest.approx(16.0 / 4)
    assert phase_of_date(dem, "2022-05-04") == 2


def test_dated_demand_round_trip_and_errors():
    d = DatedDemand("2022-01-01", np.array([[0.5, 0.5], [1.0, 0.0]]))
    again = demand_from_dict(d.to_dict())
    np.testing.assert_allclose(again.pmf(0), d.pmf(0))
    assert again.mean_at(1) == 0.0 and again.period == 2
    with pytest.raises(SpecError, match=r"demand\.pmfs"):
        DatedDemand("2022-01-01", np.array([[0.5, 0.4]]))
    with pytest.raises(SpecError, match=r"demand\.start"):
        DatedDemand("tomorrow", np.array([[1.0]]))


# ----------------------------------------------------------------------------
# lookahead = DP with a stationary forecast
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("K", [0.0, 10.0])
def test_lookahead_with_stationary_forecast_takes_the_dp_decisions(K):
    p = Problem(demand=Poisson(4.0), lead_time=1, holding_cost=1.0, stockout_cost=9.0,
                fixed_order_cost=K)
    opt = solve_dp(p)
    pm = np.tile(p.demand.pmf(0), (40, 1))
    bad = []
    for y in range(0, p.bound + 1, 2):
        for b in range(0, p.bound - y + 1, 3):
            s = np.array([y, b])
            if lookahead_order(p, pm, s) != opt.policy.order(s):
                bad.append((y, b))
    assert not bad


# ----------------------------------------------------------------------------
# contextual policies
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    ctx = synthetic()
    cd = ContextData(ctx, SPEC, 300)
    fbs = forecast_base_stock_method(base_problem(), options={}, seed=0, context=cd).policy
    la = lookahead_method(base_problem(), options={"horizon": 5}, seed=0, context=cd).policy
    return ctx, cd, fbs, la


def _orders(policy, ctx, first=300, days=100):
    from replenish.workflows.history.replay import default_start_state
    from replenish.workflows.history.series import DemandSeries

    series = DemandSeries(ctx.dates[first: first + days], ctx.demand[first: first + days])
    pr = policy.problem
    return replay(pr, policy, series, start_state=default_start_state(pr, series)).trajectory["orders"]


def test_forecaster_sees_nothing_after_the_training_window(fitted):
    ctx, _, fbs, _ = fitted
    changed = Context(ctx.dates, np.where(np.arange(len(ctx)) >= 300, 999, ctx.demand),
                      {"promo": np.where(np.arange(len(ctx)) >= 300, 1.0, ctx.columns["promo"])})
    f1 = fbs.forecaster
    f2 = fit_forecaster(changed, SPEC, train_end=300, horizon=2, critical_ratio=0.9)
    assert f1.to_dict() == f2.to_dict()


@pytest.mark.parametrize("which", ["fbs", "lookahead"])
def test_contextual_decisions_use_nothing_after_the_evening(fitted, which):
    ctx, _, fbs, la = fitted
    pol = fbs if which == "fbs" else la
    orders = _orders(pol, ctx)
    H = pol.days
    for cut in (320, 350):  # decision evening of day cut − 1 … orders of days 300 .. cut − 1
        rng = np.random.default_rng(cut)
        demand = ctx.demand.copy()
        demand[cut:] = rng.integers(0, 60, size=len(ctx) - cut)
        promo = ctx.columns["promo"].copy()
        promo[cut + H + 1:] = 1 - promo[cut + H + 1:]
        changed = Context(ctx.dates, demand, {"promo": promo}, ctx.name)
        data = json.loads(json.dumps(pol.to_dict()))
        data["context"] = changed.to_dict()
        other = policy_from_dict(data)
        new = _orders(other, changed)
        # orders placed on evenings 299 .. cut − 1 (indices 0 .. cut − 300) only saw days < cut
        n = cut - 300
        np.testing.assert_array_equal(orders[:n], new[:n])
        assert not np.array_equal(orders, new)  # later decisions do react


def test_contextual_policy_save_load_gives_identical_orders(fitted, tmp_path):
    ctx, _, fbs, la = fitted
    for pol in (fbs, la):
        path = pol.save(tmp_path / f"{pol.kind}.json")
        again = load_policy(path)
        assert type(again) is type(pol)
        np.testing.assert_array_equal(_orders(pol, ctx), _orders(again, again.context))


def test_forecast_policies_beat_the_weekday_rule_on_promotions(fitted):
    """With a promotion tripling demand, the forecast knows it and the weekday rule does not."""
    from replenish.policies.classic import WeekdayBaseStock
    from replenish.workflows.history.replay import default_start_state
    from replenish.workflows.history.series import DemandSeries, fit_weekday_empirical

    ctx, _, fbs, la = fitted
    series = DemandSeries(ctx.dates[300:], ctx.demand[300:])
    train = DemandSeries(ctx.dates[:300], ctx.demand[:300])
    wk = base_problem().replace(demand=fit_weekday_empirical(train))
    from replenish.solvers.catalogue import solve

    wbs = solve(wk, "weekday-base-stock", with_optimum=False).policy
    assert isinstance(wbs, WeekdayBaseStock)
    cost_w = replay(wk, wbs, series, start_state=default_start_state(wk, series)).total_cost
    for pol in (fbs, la):
        pr = pol.problem
        c = replay(pr, pol, series, start_state=default_start_state(pr, series)).total_cost
        assert c < 0.9 * cost_w


def test_contextual_method_without_features_is_a_one_line_error():
    with pytest.raises(SpecError, match=r"\[features\]"):
        forecast_base_stock_method(base_problem(), options={}, seed=0, context=None)


# ----------------------------------------------------------------------------
# configs and the CLI
# ----------------------------------------------------------------------------
def _write_data(tmp_path: Path) -> Path:
    import pandas as pd

    ctx = synthetic(n=500)
    df = pd.DataFrame({"date": ctx.dates.astype(str), "demand": ctx.demand,
                       "promo": ctx.columns["promo"].astype(int)})
    path = tmp_path / "sales.csv"
    df.to_csv(path, index=False)
    return path


def _config(tmp_path: Path, features: str, compare: str = "") -> Path:
    data = _write_data(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text(history_config(data.name, ('"2020-01-06"', '"2020-11-30"'),
                                  ('"2020-12-01"', '"2021-05-19"'), name="syn",
                                  extra=f'[features]\n{features}\n[compare]\n'
                                        f'methods = ["sS", "forecast-base-stock"]\n{compare}\n'))
    return cfg


def test_bad_feature_column_is_a_one_line_error_exit_2(tmp_path):
    cfg = _config(tmp_path, 'known_ahead = ["promotion"]')
    p = subprocess.run([sys.executable, "-m", "replenish", "compare", str(cfg)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    lines = [x for x in p.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "promotion" in lines[0] and "features" in lines[0]
    assert "Traceback" not in p.stderr


def test_compare_origins_json(tmp_path, capsys):
    from replenish.cli import main

    cfg = _config(tmp_path, 'known_ahead = ["promo"]\nlevel = true',
                  'origins = ["2020-09-01", "2020-12-01"]\ntest_days = 60')
    assert main(["compare", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["origin"] for o in out["origins"]] == ["2020-09-01", "2020-12-01"]
    o = out["origins"][1]
    assert o["train"] == ["2020-01-06", "2020-11-30"] and o["test"] == ["2020-12-01", "2021-01-29"]
    methods = [r["method"] for r in o["results"]]
    assert methods == ["sS", "forecast-base-stock"]
    for r in o["results"]:
        assert r["test_total_cost"] > 0 and r["test_average_cost"] > 0
    tot = {t["method"]: t["test_total_cost"] for t in out["total"]}
    assert tot["sS"] == pytest.approx(sum(
        next(r["test_total_cost"] for r in oo["results"] if r["method"] == "sS") for oo in out["origins"]))


def test_fleet_rolling_origins_one_row_per_series_and_origin(tmp_path):
    import pandas as pd

    from replenish.workflows.fleet import run_fleet

    frames = []
    for store in (1, 2):
        ctx = synthetic(n=420, seed=store)
        frames.append(pd.DataFrame({"date": ctx.dates.astype(str), "store": store, "demand": ctx.demand,
                                    "promo": ctx.columns["promo"].astype(int)}))
    data = tmp_path / "fleet.csv"
    pd.concat(frames).to_csv(data, index=False)
    config = {"name": "syn", "problem": {"lead_time": 1, "holding_cost": 1.0, "stockout_cost": 9.0},
              "demand": {"kind": "history", "file": str(data), "train": ["2020-01-06", "2020-08-31"],
                         "test": ["2020-09-01", "2020-12-31"]},
              "features": {"known_ahead": ["promo"]},
              "compare": {"origins": ["2020-09-01", "2020-11-01"], "test_days": 30}}
    run = run_fleet(config, data, group_by=["store"], methods=["sS", "forecast-base-stock"],
                    out=tmp_path / "out", engine="serial", report=False)
    t = run.table
    assert len(t) == 4 and run.n_series == 4
    assert sorted(t["origin"]) == ["2020-09-01", "2020-09-01", "2020-11-01", "2020-11-01"]
    assert set(t["series"]) == {f"store={s} @{o}" for s in (1, 2) for o in ("2020-09-01", "2020-11-01")}
    assert (t["status"] == "ok").all()
    assert (t["forecast-base-stock.test_cost"] > 0).all()


def test_recommend_reads_the_evening_and_the_planned_promotion(fitted, tmp_path, capsys):
    from replenish.cli import main

    ctx, _, fbs, _ = fitted
    path = fbs.save(tmp_path / "fbs.json")
    day = str(ctx.dates[350])

    def order(*extra: str) -> int:
        assert main(["recommend", "--policy", str(path), "--on-hand", "3", "--in-transit", "0",
                     "--date", day, "--json", *extra]) == 0
        return int(json.loads(capsys.readouterr().out)["order"])

    plain = order()
    # the saved series' own plan gives the same order as the policy's replay state
    pol, phase = fbs.for_evening(day)
    assert plain == pol.order(np.array([3, 0, phase]))
    promo = order("--features", '{"promo": 1}')
    none = order("--features", '{"promo": 0}')
    assert promo > none  # a planned promotion (demand ×4) raises tonight's order
    assert main(["recommend", "--policy", str(path), "--on-hand", "3", "--json"]) == 2
    assert "--date" in capsys.readouterr().err
    # a day after the saved data: the calendar is extended, sales must be known up to the day
    assert main(["recommend", "--policy", str(path), "--on-hand", "3", "--date", "2031-01-01"]) == 2


def test_compare_origins_report_index(tmp_path, capsys):
    from replenish.cli import main

    cfg = _config(tmp_path, 'known_ahead = ["promo"]', 'origins = ["2020-12-01"]\ntest_days = 30')
    out = tmp_path / "rep"
    assert main(["compare", str(cfg), "--methods", "sS,forecast-base-stock", "--report", str(out),
                 "-q"]) == 0
    index = (out / "index.html").read_text()
    assert "2020-12-01" in index and "forecast-base-stock" in index
    # report.html is the same overview (--report means a folder with report.html everywhere),
    # with the decision: the method of the lowest total, what it saved at the origin
    assert (out / "report.html").read_text() == index
    totals = {t["method"]: t["test_total_cost"]
              for t in json.loads((out / "compare.json").read_text())["total"]}
    deploy = min(totals, key=lambda m: totals[m])
    assert f"Deploy: {deploy} — " in index and "Origin 2020-12-01: " in index
    out_txt = capsys.readouterr().out
    assert f"Deploy: {deploy} — " in out_txt
    assert (out / "origin-2020-12-01" / "report.html").is_file()
    assert (out / "origin-2020-12-01" / "forecast.png").is_file()
    assert json.loads((out / "compare.json").read_text())["origins"][0]["origin"] == "2020-12-01"
