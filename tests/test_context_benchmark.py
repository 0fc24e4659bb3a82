"""benchmarks/context.py's summary of the contextual DQN, against totals worked by hand.

Two series, one origin and K; the best contextual policy in total is chosen from the
totals (not per series), the worst seed is the seed with the largest DQN total, and the
ratios are those totals divided: nothing is taken from the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_context", ROOT / "benchmarks" / "context.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)


def _row(store: int, costs: tuple[float, float, float, float], dqn: dict[str, float]) -> dict:
    names = ("sS", "weekday-base-stock", "forecast-base-stock", "lookahead")
    return {"store": store, "product": 101, "mean_demand": 10.0, "origin": "2018-01-01", "K": 0.0,
            "forecaster": "model", "test_total_cost": dict(zip(names, costs, strict=True)), "seconds": {},
            "dqn_context": {"test_total_cost": dqn, "cpu_seconds": {s: 60.0 + i for i, s in enumerate(dqn)}}}


def test_dqn_summary_against_hand_totals() -> None:
    # forecast-base-stock totals 100 + 50 = 150, lookahead 90 + 70 = 160: the best in total is
    # forecast-base-stock although lookahead wins the first series; per series the better of the
    # two totals 90 + 50 = 140.  DQN seed 0: 95 + 60 = 155, seed 1: 105 + 48 = 153 -> worst seed 0.
    rows = [_row(1, (300, 200, 100, 90), {"0": 95.0, "1": 105.0}),
            _row(2, (150, 120, 50, 70), {"0": 60.0, "1": 48.0})]
    out = bench.summarise(rows, (0.0,), ("2018-01-01",))["2018-01-01 K=0"]
    assert out["best_contextual"] == "forecast-base-stock"
    dq = out["dqn_context"]
    assert dq["seeds"] == [0, 1] and dq["worst_seed"] == 0
    assert dq["total_over_best_contextual"] == {"0": pytest.approx(155 / 150), "1": pytest.approx(153 / 150)}
    assert dq["worst_seed_over_best_contextual"] == pytest.approx(155 / 150)
    assert dq["worst_seed_over_per_series_best_contextual"] == pytest.approx(155 / 140)
    assert dq["worst_seed_over_weekday_base_stock"] == pytest.approx(155 / 320)
    # the series the worst seed loses most on, against the best-in-total policy: 60/50 − 1 = 0.2
    assert dq["largest_losses_worst_seed"][0]["series"] == "2/101"
    assert dq["largest_losses_worst_seed"][0]["over_best_contextual"] == pytest.approx(0.2)


def test_dqn_summary_series_by_series_against_hand_counts() -> None:
    # lookahead totals 500, forecast-base-stock 580: best in total is lookahead.  DQN totals:
    # seed 0 102 + 90 + 108 + 201 = 501, seed 1 110 + 101 + 100 + 199 = 510 -> worst seed 1,
    # whose gaps series by series are +10%, +1%, 0%, −0.5%.
    def row(store: int, costs: tuple[float, float, float, float], dqn: dict[str, float],
            mean: float, forecaster: str) -> dict:
        return _row(store, costs, dqn) | {"mean_demand": mean, "forecaster": forecaster}
    rows = [row(1, (300, 200, 120, 100), {"0": 102.0, "1": 110.0}, 10.0, "weekday"),
            row(2, (300, 200, 120, 100), {"0": 90.0, "1": 101.0}, 50.0, "model"),
            row(3, (300, 100, 120, 100), {"0": 108.0, "1": 100.0}, 15.0, "model"),
            row(4, (300, 200, 220, 200), {"0": 201.0, "1": 199.0}, 5.0, "model")]
    dq = bench.summarise(rows, (0.0,), ("2018-01-01",))["2018-01-01 K=0"]["dqn_context"]
    assert dq["worst_seed"] == 1
    ps = dq["per_series_worst_seed"]
    assert ps["median_over_best_contextual"] == pytest.approx(1.005)   # median of −0.5%, 0, 1%, 10%
    assert ps["lowest_over_best_contextual"] == pytest.approx(0.995)
    assert (ps["within_3pct"], ps["over_5pct"]) == (3, 1)
    # series 2 (−10%, +1%) and 4 (+0.5%, −0.5%) are within 3% on both seeds; 1 and 3 (+8% on seed 0) not
    assert ps["within_3pct_on_every_seed"] == 2
    assert ps["below_weekday_base_stock"] == 3                          # series 3 ties (100 = 100)
    small, shrunk = ps["under_20_units_a_day"], ps["forecaster_shrunk_to_weekday"]
    assert small == {"series": 3, "total_over_best_contextual": pytest.approx(409 / 400)}  # 1, 3, 4
    assert shrunk == {"series": 1, "total_over_best_contextual": pytest.approx(1.1)}


def test_dqn_summary_uses_only_seeds_every_series_has() -> None:
    rows = [_row(1, (300, 200, 100, 90), {"0": 95.0, "2": 99.0}),
            _row(2, (150, 120, 50, 70), {"0": 60.0})]
    dq = bench.summarise(rows, (0.0,), ("2018-01-01",))["2018-01-01 K=0"]["dqn_context"]
    assert dq["seeds"] == [0]
    assert dq["worst_seed_over_best_contextual"] == pytest.approx(155 / 150)


def test_no_dqn_rows_no_dqn_summary() -> None:
    rows = [_row(1, (300, 200, 100, 90), {})]
    assert "dqn_context" not in bench.summarise(rows, (0.0,), ("2018-01-01",))["2018-01-01 K=0"]


@pytest.mark.parametrize("text, named", [('{"gradient_stepz": 2}', "gradient_stepz"),
                                         ('{"gradient_steps": "two"}', "gradient_steps"),
                                         ("[1]", "not a JSON object"), ("{gradient", "--dqn-options")])
def test_bad_dqn_options_fail_at_once_naming_the_key(text: str, named: str, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["context.py", "--dqn-options", text])
    monkeypatch.setattr(bench, "series_keys", lambda path: pytest.fail("ran after a bad option"))
    with pytest.raises(SystemExit) as exc:
        bench.main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert named in err[-1]


def test_resume_takes_only_series_with_every_origin_k_and_seed() -> None:
    def row(store: int, K: float, seeds: dict[str, float], **extra: object) -> dict:
        return _row(store, (3, 2, 1, 1), seeds) | {"K": K} | extra
    rows = [row(1, 0.0, {"0": 1.0, "1": 2.0}), row(1, 20.0, {"0": 1.0, "1": 2.0}),  # complete
            row(2, 0.0, {"0": 1.0, "1": 2.0}), row(2, 20.0, {"0": 1.0}),            # seed 1 missing at K = 20
            row(3, 0.0, {"0": 1.0, "1": 2.0}),                                      # K = 20 missing
            row(4, 0.0, {}, error="no sales"), row(4, 20.0, {}, error="no sales"),  # refused by the loader
            row(5, 0.0, {"0": 7.0}), row(5, 0.0, {"0": 1.0, "1": 2.0}), row(5, 20.0, {"0": 1.0, "1": 2.0})]
    done = bench.complete_series(rows, ("2018-01-01",), (0.0, 20.0), (0, 1))
    assert sorted(done) == [(1, 101), (4, 101), (5, 101)]
    assert [r["K"] for r in done[(1, 101)]] == [0.0, 20.0]
    assert done[(5, 101)][0]["dqn_context"]["test_total_cost"]["0"] == 1.0  # the later row of a rerun
    # without DQN seeds asked for, series 2 is complete too; with another origin asked for, none is
    assert (2, 101) in bench.complete_series(rows, ("2018-01-01",), (0.0, 20.0), ())
    assert bench.complete_series(rows, ("2017-01-01", "2018-01-01"), (0.0, 20.0), (0,)) == {}


def test_merge_runs_joins_seeds_on_the_series_every_run_has() -> None:
    seed0 = [_row(1, (300, 200, 100, 90), {"0": 95.0}), _row(2, (150, 120, 50, 70), {"0": 60.0}),
             _row(3, (10, 10, 10, 10), {"0": 10.0})]
    seed1 = [_row(2, (150, 120, 50, 70), {"1": 48.0}), _row(1, (300, 200, 100, 90), {"1": 105.0})]
    merged = bench.merge_runs([seed0, seed1])
    assert [r["store"] for r in merged] == [1, 2]  # series 3 is in one run only; the first run's order
    assert merged[0]["dqn_context"]["test_total_cost"] == {"0": 95.0, "1": 105.0}
    # the same totals as test_dqn_summary_against_hand_totals, whose rows had both seeds already
    dq = bench.summarise(merged, (0.0,), ("2018-01-01",))["2018-01-01 K=0"]["dqn_context"]
    assert dq["seeds"] == [0, 1] and dq["worst_seed_over_best_contextual"] == pytest.approx(155 / 150)
    assert seed0[0]["dqn_context"]["test_total_cost"] == {"0": 95.0}  # the inputs are not changed
    # one run: its rows, a rerun's later row replacing the earlier
    assert bench.merge_runs([[*seed0, _row(1, (300, 200, 100, 90), {"0": 97.0})]])[0][
        "dqn_context"]["test_total_cost"] == {"0": 97.0}


@pytest.mark.parametrize("other, named", [
    (_row(1, (300, 200, 100, 91), {"1": 105.0}), "other methods"),   # lookahead 90 against 91
    (_row(1, (300, 200, 100, 90), {"0": 96.0}), "seed 0 costs 95.0 in one run and 96.0")])
def test_merge_runs_refuses_runs_that_disagree(other: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named) as exc:
        bench.merge_runs([[_row(1, (300, 200, 100, 90), {"0": 95.0})], [other]])
    assert str(exc.value).startswith("1/101 2018-01-01 K=0")


def test_summarise_of_runs_that_disagree_is_a_one_line_error(tmp_path, monkeypatch, capsys) -> None:
    files = []
    for i, lookahead in enumerate((90, 91)):
        files.append(tmp_path / f"run{i}.rows.jsonl")
        files[-1].write_text(json.dumps(_row(1, (300, 200, 100, lookahead), {str(i): 95.0})) + "\n")
    monkeypatch.setattr(sys, "argv", ["context.py", "--summarise", *map(str, files)])
    with pytest.raises(SystemExit) as exc:
        bench.main()
    assert exc.value.code == 2
    assert "--summarise: 1/101 2018-01-01 K=0" in capsys.readouterr().err.strip().splitlines()[-1]
