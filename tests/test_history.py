"""Sales histories: loading and validation, weekday fits, bootstrap, replay, compare."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import history_config
from replenish import OrderUpTo, Poisson, Problem, WeekdayPoisson
from replenish.cli import main
from replenish.core.validate import SpecError
from replenish.solvers.catalogue import solve
from replenish.solvers.dp import solve_dp
from replenish.workflows.config import config_from_dict, load_config
from replenish.workflows.history import (
    DemandSeries,
    bootstrap_demand,
    derive_order_multiple,
    fit_weekday_empirical,
    load_history,
    replay,
)

ROOT = Path(__file__).resolve().parents[1]
MONDAY = dt.date(2018, 1, 1)  # a Monday


def _frame(n_days: int = 70, *, start: dt.date = MONDAY, seed: int = 0, scale: float = 1.0,
           store: int = 1) -> pd.DataFrame:
    """A small weekday-seasonal series: Sundays sell about three times a weekday."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n_days, freq="D")
    base = np.array([3, 3, 3, 3, 4, 5, 9])[dates.day_of_week]
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "store": store,
                         "demand": (rng.poisson(base) * scale).astype(float),
                         "is_holiday": 0})


def _write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


TRAIN = ["2018-01-01", "2018-02-11"]   # six full weeks
TEST = ["2018-02-12", "2018-03-11"]    # four weeks


def _load(path: Path, **kw):
    kw.setdefault("train", TRAIN)
    kw.setdefault("test", TEST)
    return load_history(path, **kw)


# ------------------------------------------------------------------ loading
def test_formats_agree(tmp_path):
    df = _frame()
    a = _load(_write(df, tmp_path / "s.csv"))
    b = _load(_write(df, tmp_path / "s.csv.gz"))
    c = _load(_write(df, tmp_path / "s.parquet"))
    for h in (b, c):
        np.testing.assert_array_equal(h.train.demand, a.train.demand)
        np.testing.assert_array_equal(h.test.dates, a.test.dates)
    assert len(a.train) == 42 and len(a.test) == 28
    assert a.train.start_phase == 0 and a.test.start_phase == 0
    np.testing.assert_array_equal(a.train.weekdays[:7], np.arange(7))


def _bad(tmp_path: Path, mutate) -> Path:
    df = _frame()
    df = mutate(df)
    return _write(df, tmp_path / "bad.csv")


@pytest.mark.parametrize("mutate, kw, field, words", [
    (lambda d: d.drop(columns="demand"), {}, "demand.demand_column", "no such column"),
    (lambda d: d, {"date_column": "day"}, "demand.date_column", "no such column"),
    (lambda d: d.assign(date=d.date.where(d.index != 5, "2018-13-45")), {}, "demand.date",
     "unparsable"),
    (lambda d: pd.concat([d, d.iloc[[10]]]), {}, "demand.date", "duplicate"),
    (lambda d: d.drop(index=[20, 21]), {}, "demand.date", "missing from the calendar"),
    (lambda d: d.assign(demand=d.demand.where(d.index != 3, -2.0)), {}, "demand.demand", "negative"),
    (lambda d: d.assign(demand=d.demand.where(d.index != 3, np.nan)), {}, "demand.demand", "missing"),
    (lambda d: d, {"train": ["2018-02-01", "2018-01-01"]}, "demand.train", "empty"),
    (lambda d: d, {"train": ["2017-12-01", "2018-01-31"]}, "demand.train", "outside the data"),
    (lambda d: d, {"test": ["2018-02-12", "2019-01-01"]}, "demand.test", "outside the data"),
    (lambda d: d, {"test": ["2018-02-01", "2018-03-01"]}, "demand.test", "leak"),
    (lambda d: d.assign(demand=d.demand.where(d.index >= 42, 0.0)), {}, "demand.train", "no sales"),
    (lambda d: d, {"train": ["2018-01-01", "2018-01-04"]}, "demand.train", "has no Fri"),
    (lambda d: d, {"filter": {"store": 7}}, "demand.filter.store", "matches no row"),
    (lambda d: d, {"train": ["2018-01-01", "yesterday"]}, "demand.train[1]", "YYYY-MM-DD"),
])
def test_loader_errors(tmp_path, mutate, kw, field, words):
    path = _bad(tmp_path, mutate)
    with pytest.raises(SpecError) as err:
        _load(path, **kw)
    assert err.value.field == field
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_gap_outside_the_windows_is_harmless(tmp_path):
    df = pd.concat([_frame(), _frame(10, start=dt.date(2018, 6, 1))])
    h = _load(_write(df, tmp_path / "s.csv"))
    assert len(h.series) == 70


def test_two_series_need_a_filter(tmp_path):
    df = pd.concat([_frame(store=1), _frame(store=2, seed=1)])
    path = _write(df, tmp_path / "two.csv")
    with pytest.raises(SpecError, match="duplicate date"):
        _load(path)
    h = _load(path, filter={"store": 2})
    np.testing.assert_array_equal(h.train.demand, _frame(seed=1).demand.to_numpy()[:42])
    assert h.name == "store=2"


def test_unknown_format_and_missing_file(tmp_path):
    p = tmp_path / "s.xlsx"
    p.write_text("x")
    with pytest.raises(SpecError, match="unknown format"):
        _load(p)
    with pytest.raises(SpecError, match="no such file"):
        _load(tmp_path / "none.csv")
    g = tmp_path / "broken.csv.gz"
    g.write_bytes(b"not gzip at all")
    with pytest.raises(SpecError, match="cannot read"):
        _load(g)


def test_fractional_values_are_rounded_with_a_count(tmp_path):
    df = _frame()
    df.loc[[2, 9, 50], "demand"] = [2.5, 3.4, 7.5]
    path = _write(df, tmp_path / "f.csv")
    with pytest.warns(UserWarning, match="3 fractional"):
        h = _load(path)
    assert h.n_rounded == 3
    assert h.series.demand[2] == 3 and h.series.demand[9] == 3 and h.series.demand[50] == 8
    with pytest.raises(SpecError, match="fractional"):
        _load(path, fractional="error")


# ------------------------------------------------------------------ fitting
def test_weekday_fit_counts_and_closed_days():
    dates = np.datetime64("2018-01-01") + np.arange(21)          # three weeks from a Monday
    d = np.array([[1, 2, 2, 0, 4, 6, 0],
                  [1, 3, 2, 0, 4, 8, 0],
                  [2, 3, 2, 0, 5, 6, 0]]).reshape(-1)
    model = fit_weekday_empirical(DemandSeries(dates, d))
    np.testing.assert_allclose(model.pmf(0), [0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(model.pmf(1), [0, 0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(model.pmf(3), [1.0])            # never sold: closed
    np.testing.assert_allclose(model.pmf(6), [1.0])
    assert model.mean_at(5) == pytest.approx(20 / 3)
    # holidays left out of the fit
    hol = np.zeros(21, dtype=bool)
    hol[0] = True                                               # the Monday with demand 1
    model = fit_weekday_empirical(DemandSeries(dates, d, hol), exclude_holidays=True)
    np.testing.assert_allclose(model.pmf(0), [0, 0.5, 0.5])


def test_order_multiple_rule():
    from replenish import WeekdayEmpirical

    small = WeekdayEmpirical(tuple(tuple(np.eye(31)[30]) for _ in range(7)))      # max 30/day
    assert derive_order_multiple(small, 1) == 1                                   # 60 <= 200
    big = [np.zeros(901) for _ in range(7)]
    for p in big:
        p[[300, 900]] = 0.5
    big_m = WeekdayEmpirical(tuple(tuple(p) for p in big))
    assert derive_order_multiple(big_m, 1) == 10                                  # 1800 / 200 = 9
    assert derive_order_multiple(big_m, 0) == 5                                   # 900 / 200 = 4.5
    assert derive_order_multiple(big_m, 3) == 20                                  # 3600 / 200 = 18


def test_large_volume_series_stays_tabulable(tmp_path):
    path = _write(_frame(scale=30.0), tmp_path / "big.csv")                      # hundreds a day
    cfg = config_from_dict({"problem": {"lead_time": 1}, "demand": {
        "kind": "history", "file": str(path), "train": TRAIN, "test": TEST}})
    p = cfg.problem
    assert p.order_multiple > 1
    assert p.bound % p.order_multiple == 0
    assert p.n_actions <= 201
    # the bound covers two days of the largest fitted demand (the rule in the docstring)
    top = [len(p.demand.pmf(w)) - 1 for w in range(7)]
    assert p.bound >= max(top[w] + top[(w + 1) % 7] for w in range(7))
    r = solve_dp(p)
    assert r.converged and r.bound_binding_mass < 1e-6


# ---------------------------------------------------------------- bootstrap
def test_bootstrap_day_and_week_blocks(tmp_path):
    h = _load(_write(_frame(), tmp_path / "s.csv"))
    rng = np.random.default_rng(3)
    m = bootstrap_demand(h.train, rng, n_paths=50, horizon=400, start_phase=3)
    assert m.shape == (50, 400) and m.dtype == np.int64
    wd = h.train.weekdays
    for t in range(14):
        pool = set(h.train.demand[wd == (3 + t) % 7].tolist())
        assert set(m[:, t].tolist()) <= pool
    again = bootstrap_demand(h.train, np.random.default_rng(3), n_paths=50, horizon=400, start_phase=3)
    np.testing.assert_array_equal(m, again)
    wk = bootstrap_demand(h.train, np.random.default_rng(1), n_paths=5, horizon=30, start_phase=2,
                          block="week")
    weeks = {tuple(w) for w in h.train.demand.reshape(6, 7).tolist()}
    # the Monday-to-Sunday blocks of each path are actual training weeks
    for row in wk:
        for k in range(5, 26, 7):                                # column 5 is a Monday
            assert tuple(row[k: k + 7].tolist()) in weeks


# ------------------------------------------------------------------- replay
def test_replay_matches_hand_calculation():
    """Order-up-to 10, L = 1, lost sales, h = 1, p = 9; start with 3 on hand, nothing in transit.

    day  state [α, β]  order  stock  demand  served  short  α'   cost (K = 0)
    1    [3, 0]        7      3      4       3       1      0    9·1 = 9
    2    [0, 7]        3      7      7       7       0      0    0
    3    [0, 3]        7      3      2       2       0      1    1·1 = 1
    4    [1, 7]        2      8      9       8       1      0    9
    5    [0, 2]        8      2      5       2       3      0    27
    total 46 = 9.2/day; 5 orders; fill 22/27; 3 stockout days; on hand 1/5 = 0.2.
    """
    demand = np.array([4, 7, 2, 9, 5])
    for K, total in ((0.0, 46.0), (20.0, 146.0)):
        prob = Problem(demand=Poisson(4), lead_time=1, excess_demand="lost", holding_cost=1,
                       stockout_cost=9, fixed_order_cost=K, position_bound=20)
        r = replay(prob, OrderUpTo(problem=prob, level=10), demand, start_state=np.array([3, 0]))
        assert r.total_cost == pytest.approx(total)
        assert r.average_cost == pytest.approx(total / 5)
        assert r.breakdown["holding"] == pytest.approx(1 / 5)
        assert r.breakdown["stockout"] == pytest.approx(45 / 5)
        assert r.breakdown["ordering"] == pytest.approx(5 * K / 5)
        assert r.fill_rate == pytest.approx(22 / 27)
        assert r.stockout_days == 3 and r.stockout_rate == pytest.approx(0.6)
        assert r.average_on_hand == pytest.approx(0.2)
        np.testing.assert_array_equal(r.trajectory["orders"], [7, 3, 7, 2, 8])
        np.testing.assert_array_equal(r.trajectory["short"], [1, 0, 0, 1, 3])


def test_replay_phase_follows_the_calendar():
    prob = Problem(demand=WeekdayPoisson([2, 2, 2, 2, 2, 2, 6]), lead_time=1, position_bound=30)
    dates = np.datetime64("2018-01-03") + np.arange(10)          # starts on a Wednesday
    s = DemandSeries(dates, np.full(10, 2))
    r = replay(prob, OrderUpTo(problem=prob, level=6), s)
    phases = r.trajectory["states"][:, -1]
    np.testing.assert_array_equal(phases, (2 + np.arange(11)) % 7)
    # default start: enough for the expected demand of the L = 1 day before an order arrives
    np.testing.assert_array_equal(r.start_state, [2, 0, 2])


# ------------------------------------------------------------ no leakage
def _config(path: Path, tmp: Path) -> Path:
    cfg = tmp / "c.toml"
    cfg.write_text(history_config(path.name, (TRAIN[0], TRAIN[1]), (f'"{TEST[0]}"', f'"{TEST[1]}"')))
    return cfg


def test_test_window_does_not_leak_into_fitting(tmp_path):
    df = _frame()
    other = df.copy()
    other.loc[42:, "demand"] = other.loc[42:, "demand"] * 3 + 5      # only the test window changes
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca = load_config(_config(_write(df, tmp_path / "a" / "s.csv"), tmp_path / "a"))
    cb = load_config(_config(_write(other, tmp_path / "b" / "s.csv"), tmp_path / "b"))
    assert ca.problem == cb.problem                                     # same fitted model and bounds
    for method in ("order-up-to", "sS", "weekday-base-stock"):
        try:
            pa = solve(ca.problem, method, with_optimum=False).params
        except SpecError:  # method not available in this build
            continue
        assert pa == solve(cb.problem, method, with_optimum=False).params
    da, db = solve_dp(ca.problem), solve_dp(cb.problem)
    np.testing.assert_array_equal(da.policy.orders, db.policy.orders)
    ra = replay(ca.problem, da.policy, ca.history.test)
    rb = replay(cb.problem, db.policy, cb.history.test)
    assert ra.total_cost != rb.total_cost                               # the test data did change


def test_config_errors(tmp_path):
    path = _write(_frame(), tmp_path / "s.csv")
    base = {"kind": "history", "file": str(path), "train": TRAIN, "test": TEST}
    with pytest.raises(SpecError, match=r"demand\.trian"):
        config_from_dict({"demand": {**base, "trian": TRAIN}})
    with pytest.raises(SpecError, match=r"demand\.test"):
        config_from_dict({"demand": {k: v for k, v in base.items() if k != "test"}})
    with pytest.raises(SpecError, match=r"demand\.file"):
        config_from_dict({"demand": {**base, "file": "nowhere.csv"}})
    with pytest.raises(SpecError, match=r"demand\.filter"):
        config_from_dict({"demand": {**base, "filter": 3}})


# ------------------------------------------------------------- compare / CLI
def test_bundled_sample_config_loads():
    from replenish.workflows.config import bundled_config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = load_config(bundled_config("bakery.toml"))
        cfg2 = load_config(ROOT / "configs" / "bakery.toml")
    assert cfg.problem == cfg2.problem
    h = cfg.history
    assert (str(h.train.first), str(h.train.last)) == ("2016-01-02", "2016-12-31")
    assert len(h.test) == 365 and h.test.start_phase == 6               # 2017-01-01 was a Sunday
    means = h.train.weekday_profile()
    assert means[6] > 3 * np.mean(means[:5])                            # the Sunday peak


def test_compare_cli_json_and_report(tmp_path, capsys):
    cfg = _config(_write(_frame(), tmp_path / "s.csv"), tmp_path)
    rc = main(["compare", str(cfg), "--methods", "order-up-to,dp,myopic-nonexistent", "--json"])
    assert rc == 2 and "unknown method" in capsys.readouterr().err
    rc = main(["compare", str(cfg), "--methods", "order-up-to,dp", "--json",
               "--report", str(tmp_path / "rep")])
    assert rc == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["reference"] == "order-up-to"
    rows = {r["method"]: r for r in obj["results"]}
    for r in rows.values():
        for key in ("average_cost", "exact", "gap", "params", "breakdown", "fill_rate",
                    "test_total_cost", "test_average_cost", "test_fill_rate", "test_stockout_days",
                    "train_average_cost"):
            assert key in r
        assert r["test_total_cost"] == pytest.approx(28 * r["test_average_cost"])
    assert rows["order-up-to"]["test_relative_to_reference"] == pytest.approx(1.0)
    # the DP is optimal for the fitted model (its long-run cost is the optimum)
    assert rows["dp"]["average_cost"] == pytest.approx(rows["dp"]["optimal_average_cost"])
    assert rows["dp"]["average_cost"] <= rows["order-up-to"]["average_cost"] + 1e-9
    for f in ("compare.json", "compare.txt", "test_replay.csv", "test_replay.png", "policy-dp.json"):
        assert (tmp_path / "rep" / f).is_file()
    csv = pd.read_csv(tmp_path / "rep" / "test_replay.csv")
    assert len(csv) == 2 * 28
    dp_days = csv[csv.method == "dp"]
    assert dp_days.cost.sum() == pytest.approx(rows["dp"]["test_total_cost"])


def test_compare_reports_methods_that_refuse(tmp_path):
    """A method that refuses its options gives a row with the one-line error; the rest run."""
    from replenish.workflows import compare as cmp

    cfg = load_config(_config(_write(_frame(), tmp_path / "s.csv"), tmp_path))
    comp = cmp.compare(cfg.problem, cfg.history, ["order-up-to", "dp"], with_optimum=False,
                       options={"order-up-to": {"bogus": 1}})
    row = comp.get("order-up-to")
    assert row.error is not None and row.error.startswith("order-up-to.bogus = 1: unknown key")
    assert comp.get("dp").test is not None
    assert comp.reference is None
    assert comp.to_json()["results"][0]["test_total_cost"] is None


def test_compare_needs_history(capsys):
    rc = main(["compare", str(ROOT / "configs" / "bike_shop.toml")])
    assert rc == 2 and "history" in capsys.readouterr().err


# ------------------------------------------------------------------ extreme values
@pytest.mark.parametrize("text, value", [
    ("1e12", 1e12), ("4611686018427387904", 2.0**62), ("1e308", 1e308), ("100001", 1e5 + 1),
])
def test_extreme_demand_is_refused_before_any_cast(tmp_path, text, value):
    df = _frame()
    df["demand"] = df["demand"].astype(int).astype(str)
    df.loc[3, "demand"] = text  # 2018-01-04, in the training window
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SpecError) as err:
        _load(path)
    assert str(err.value) == (f"demand.demand = {value!r}: demand on 2018-01-04 exceeds 100000 "
                              "units a day (1 such values)")


def test_a_hundred_thousand_a_day_is_accepted_by_the_loader(tmp_path):
    from replenish.workflows.history.loading import read_series

    df = _frame()
    df.loc[3, "demand"] = 100_000.0
    path = _write(df, tmp_path / "ok.csv")
    series, _ = read_series(path)
    assert int(series.demand.max()) == 100_000


def test_spec_error_is_one_line_whatever_it_holds():
    multi = str(SpecError("x", np.arange(200).reshape(20, 10), "bad\nreason"))
    assert "\n" not in multi and multi.startswith("x = array([[") and multi.endswith(": bad reason")
    long = str(SpecError("x", list(range(2000)), "too long"))
    assert long.startswith("x = [0, 1, 2") and long.endswith(f"... ({len(repr(list(range(2000))))} "
                                                              "characters): too long")
