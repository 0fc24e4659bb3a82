"""benchmarks/frontier.py (the issue-15 table) on its smallest instances.

Independent facts: the geometric pmf ``(1/6)(5/6)^k`` (mean 5, variance 30) that the
``NegativeBinomial(5, 30)`` must reproduce; Zipkin's (2008, Table 1) optimum 4.04 at
``L = 1, p = 4``; the DP optimum is a lower bound on every policy's exact cost; the optimum of a
problem does not change when the position bound is raised above Morton's bound ``S̄``; capped
base-stock contains base-stock (a cap at least the largest useful order), so on the same
common-random-number matrix its optimised cost is no higher; the ratio estimator's interval
contains the ratio and base-stock's own ratio is exactly 1.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from replenish import NegativeBinomial, Problem, solve_dp
from replenish.solvers.base import exact_evaluation_fits
from replenish.solvers.dp_matrix_free import morton_bound

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_frontier", ROOT / "benchmarks" / "frontier.py")
assert _spec is not None and _spec.loader is not None
frontier = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = frontier  # dataclasses look their module up
_spec.loader.exec_module(frontier)

TINY_DCL = {"generations": 1, "states": 300, "epochs": 3, "rollouts": 16}
TINY_SIM = frontier.Simulation(train_paths=20, train_horizon=400, train_warmup=50,
                               paths=30, horizon=600, warmup=100)


# ------------------------------------------------------------------ parsing
def test_groups_have_the_issue_sizes():
    parse = frontier.parse_instances
    assert len(parse("zipkin")) == 16 and len(parse("geometric")) == 16 and len(parse("long")) == 12
    every = parse("all")
    assert len(every) == 44 == len(set(every))
    assert {i.lead_time for i in parse("long")} == {6, 8, 10}
    assert {i.p for i in every} == {4.0, 9.0, 19.0, 39.0}
    assert all(i.exact for i in parse("zipkin,geometric")) and not any(i.exact for i in parse("long"))


def test_single_instances_in_order_without_duplicates():
    got = frontier.parse_instances("poisson:2:9, geometric:3:19,poisson:8:4,poisson:2:9")
    assert [(i.demand, i.lead_time, i.p) for i in got] == [
        ("poisson", 2, 9.0), ("geometric", 3, 19.0), ("poisson", 8, 4.0)]
    assert got[0].name == "poisson-L2-p9"
    assert len(frontier.parse_instances("zipkin,poisson:1:4")) == 16  # already in the group


@pytest.mark.parametrize("bad", ["normal:1:4", "poisson:1", "poisson:x:4", "poisson:0:4",
                                 "poisson:1:-3", "geometric:6:4", "everything"])
def test_bad_instances_are_refused(bad):
    with pytest.raises(ValueError):
        frontier.parse_instances(bad)


def test_seeds_and_methods():
    assert frontier.parse_seeds("0, 1,2") == [0, 1, 2]
    with pytest.raises(ValueError):
        frontier.parse_seeds("")
    with pytest.raises(ValueError, match="unknown methods"):
        frontier.run(frontier.parse_instances("poisson:1:4"), [0], methods=["dp", "ppo"])


# ------------------------------------------------------------------ geometric demand
def test_geometric_is_the_negative_binomial_with_r_1():
    d = frontier.Instance("geometric", 1, 4.0).demand_model()
    assert d == NegativeBinomial(mean=5, variance=30)
    pmf = d.pmf()
    k = np.arange(len(pmf) - 1)
    np.testing.assert_allclose(pmf[:-1], (1 / 6) * (5 / 6) ** k, rtol=1e-9)
    mean = float(pmf @ np.arange(len(pmf)))
    var = float(pmf @ (np.arange(len(pmf)) - mean) ** 2)
    assert mean == pytest.approx(5, rel=1e-6) and var == pytest.approx(30, rel=1e-4)
    x = d.sample(np.random.default_rng(0), np.zeros(200_000, dtype=np.int64))
    assert abs(x.mean() - 5) < 4 * math.sqrt(30 / x.size)
    assert x.var() == pytest.approx(30, rel=0.03)


def test_geometric_bound_is_slack():
    """``S̄ + 2`` gives the optimum of the problem with the (much larger) automatic bound, and the
    DP reports that the bound never limits the optimal order."""
    inst = frontier.Instance("geometric", 2, 9.0)
    B = inst.dp_bound()
    assert B == morton_bound(inst.problem()) + frontier.GEOMETRIC_SLACK
    assert B < inst.problem().bound
    small, full = solve_dp(inst.problem(B)), solve_dp(inst.problem())
    assert small.average_cost == pytest.approx(full.average_cost, rel=1e-7)
    assert small.bound_binding_mass == 0.0


def test_exact_evaluation_fits_says_no_instead_of_failing():
    """At L = 10 the state space is too large even to index: the learners' ``eval_mode = "auto"``
    must pick simulation rather than raise."""
    assert not exact_evaluation_fits(frontier.Instance("poisson", 10, 39.0).problem(), reduced=True,
                                     limit=300_000)
    small = Problem(demand=NegativeBinomial(5, 30), lead_time=1, holding_cost=1, stockout_cost=4)
    assert exact_evaluation_fits(small, reduced=True, limit=1000)


# ------------------------------------------------------------------ end to end
def test_exact_instance_end_to_end(tmp_path, capsys):
    out = tmp_path / "frontier.json"
    frontier.main(["--instances", "poisson:1:4", "--seeds", "0,1",
                   "--methods", "dp,base_stock,capped_base_stock,myopic,dcl",
                   "--dcl-options", json.dumps(TINY_DCL), "--out", str(out), "--markdown"])
    printed = capsys.readouterr().out.splitlines()
    rows = [json.loads(x) for x in printed if x.startswith("{")]
    summary = rows.pop()
    assert summary["summary"] is True
    saved = json.loads(out.read_text())
    assert saved["rows"] == rows and saved["summary"] == summary
    by = {(r["method"], r["seed"]): r for r in rows}
    assert set(by) == {("dp", None), ("base_stock", None), ("capped_base_stock", None),
                       ("myopic", None), ("dcl", 0), ("dcl", 1)}
    dp = by["dp", None]
    assert round(dp["optimum"], 2) == 4.04  # Zipkin (2008), Table 1
    assert dp["gap"] == 0.0 and dp["bound_binding_mass"] == pytest.approx(0.0, abs=1e-12)
    for r in rows:
        assert r["exact"] is True and r["optimum"] == dp["optimum"]
        assert r["gap"] >= -1e-9
        assert r["gap"] == pytest.approx(r["average_cost"] / dp["optimum"] - 1, abs=1e-12)
    bs, capped = by["base_stock", None], by["capped_base_stock", None]
    assert capped["average_cost"] <= bs["average_cost"] + 1e-12
    assert bs["ratio_to_base_stock"] == 1.0
    for seed in (0, 1):
        d = by["dcl", seed]
        assert d["cpu_seconds"] > 0 and d["wall_seconds"] > 0
        assert d["params"]["start"] == capped["params"]  # DCL starts from the best capped base-stock
    s = summary["methods"]
    gaps = [by["dcl", 0]["gap"], by["dcl", 1]["gap"]]
    assert s["dcl"]["mean_gap"] == pytest.approx(sum(gaps) / 2) and s["dcl"]["max_gap"] == max(gaps)
    assert s["dcl"]["worst_seed"]["poisson-L1-p4"]["seed"] == int(np.argmax(gaps))
    assert s["dp"]["max_gap"] == 0.0
    table = [x for x in printed if x.startswith("|")]
    assert table[0].split("|")[1:-1] == [" instance ", " dp ", " base_stock ", " capped_base_stock ",
                                         " myopic ", " dcl "]
    assert table[2].startswith("| poisson-L1-p4 | 0.000% |")


def test_long_lead_time_by_simulation():
    inst = frontier.parse_instances("poisson:6:9")
    res = frontier.run(inst, [3], methods=["base_stock", "capped_base_stock", "myopic"], sim=TINY_SIM)
    by = {r["method"]: r for r in res["rows"]}
    assert set(by) == {"base_stock", "capped_base_stock", "myopic"}
    bs = by["base_stock"]
    for r in by.values():
        assert r["exact"] is False and "gap" not in r and r["seed"] == 3
        lo, hi = r["ci95"]
        assert lo < r["average_cost"] < hi
        assert r["paths"] == TINY_SIM.paths and r["horizon"] == TINY_SIM.horizon
        assert r["ratio_to_base_stock"] == pytest.approx(r["average_cost"] / bs["average_cost"])
        rlo, rhi = r["ratio_ci95"]
        assert rlo <= r["ratio_to_base_stock"] <= rhi
    assert bs["ratio_to_base_stock"] == 1.0 and bs["ratio_ci95"] == [1.0, 1.0]
    # on the training matrix (common random numbers) the capped family contains base-stock
    assert by["capped_base_stock"]["train_cost"] <= bs["train_cost"] + 1e-12
    # paired paths: the ratio's interval is narrower than the unpaired relative spread
    c = by["capped_base_stock"]
    rlo, rhi = c["ratio_ci95"]
    assert rhi - rlo < (c["ci95"][1] - c["ci95"][0]) / c["average_cost"]
    assert res["summary"]["methods"]["base_stock"]["mean_ratio_to_base_stock"] == 1.0


def test_long_lead_time_learner_is_simulated_on_the_same_matrix():
    """A learner on L = 8 (no exact evaluation possible) gets a simulated row with a CI; the
    myopic policy is skipped above ``myopic_max_lead``; base-stock is optimised for the ratio
    even when not asked for, but not reported."""
    inst = frontier.parse_instances("poisson:8:4")
    dcl = {**TINY_DCL, "eval_paths": 5, "eval_horizon": 100, "eval_warmup": 20}
    res = frontier.run(inst, [0], methods=["myopic", "dcl"], dcl_options=dcl, sim=TINY_SIM)
    (row,) = res["rows"]
    assert row["method"] == "dcl" and row["exact"] is False
    assert row["ci95"][0] < row["average_cost"] < row["ci95"][1]
    assert row["cpu_seconds"] > 0
    assert row["ratio_ci95"][0] <= row["ratio_to_base_stock"] <= row["ratio_ci95"][1]


# ------------------------------------------------------------------ the shipped config
def test_long_lead_time_config_is_the_benchmark_instance():
    """``configs/lost_sales_L10.toml`` is the benchmark's ``poisson:10:39`` instance (the same
    problem but for its name), and its ``[dcl]`` table is accepted by the method."""
    import replenish as rp
    from replenish.solvers.catalogue import method_spec
    from replenish.solvers.dcl import DCLConfig

    cfg = rp.load_config(ROOT / "configs" / "lost_sales_L10.toml")
    bench = frontier.parse_instances("poisson:10:39")[0].problem()
    assert {**cfg.problem.to_dict(), "name": None} == {**bench.to_dict(), "name": None}
    assert not exact_evaluation_fits(cfg.problem, reduced=True, limit=DCLConfig().exact_states)
    method_spec("dcl").check_options(cfg.sections["dcl"])


def test_lead_time_4_config_is_the_benchmark_instance_with_the_measured_dqn_settings():
    """``configs/lost_sales_L4.toml`` is the benchmark's ``poisson:4:39`` instance with the DP's
    position bound 45, and its ``[dqn]`` table (the settings of the RESULTS section) is
    accepted by the method and evaluates exactly (its space fits ``exact_states``)."""
    import replenish as rp
    from replenish.model.statespace import StateSpace
    from replenish.solvers.catalogue import method_spec

    cfg = rp.load_config(ROOT / "configs" / "lost_sales_L4.toml")
    inst = frontier.parse_instances("poisson:4:39")[0]
    bench = inst.problem(inst.dp_bound())
    assert {**cfg.problem.to_dict(), "name": None} == {**bench.to_dict(), "name": None}
    opts = cfg.sections["dqn"]
    method_spec("dqn").check_options(opts)
    assert opts["expected_targets"] and opts["gradient_steps"] == 2
    assert StateSpace(cfg.problem, reduced=True).count() <= opts["exact_states"]


# ------------------------------------------------------------------ parts of the table
_TIMING = ("cpu_seconds", "wall_seconds")


def _untimed(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _TIMING}


def test_merged_parts_equal_the_run_of_the_whole(tmp_path, capsys):
    """Seeds run in two processes and merged give the rows and summary of one run of both
    (but for the seconds); a repeated row, different learner options, and a file that is not
    a frontier result are refused with one line (exit 2)."""
    common = ["--instances", "poisson:1:4", "--methods", "capped_base_stock,dcl",
              "--dcl-options", json.dumps(TINY_DCL)]
    outs = {}
    for name, seeds in (("both", "0,1"), ("s0", "0"), ("s1", "1")):
        outs[name] = tmp_path / f"{name}.json"
        frontier.main([*common, "--seeds", seeds, "--out", str(outs[name])])
    capsys.readouterr()
    whole = json.loads(outs["both"].read_text())
    # the heuristic row is seedless: keep it from one part only
    s1 = json.loads(outs["s1"].read_text())
    s1["rows"] = [r for r in s1["rows"] if r["method"] == "dcl"]
    outs["s1"].write_text(json.dumps(s1))
    merged_out = tmp_path / "merged.json"
    frontier.main(["--merge", str(outs["s1"]), str(outs["s0"]), "--out", str(merged_out), "--markdown"])
    printed = capsys.readouterr().out.splitlines()
    merged = json.loads(merged_out.read_text())
    key = lambda r: (r["method"], -1 if r["seed"] is None else r["seed"])  # noqa: E731
    assert sorted(map(_untimed, merged["rows"]), key=key) == sorted(map(_untimed, whole["rows"]), key=key)
    # in the table's order whatever the order of the files
    assert [key(r) for r in merged["rows"]] == [key(r) for r in whole["rows"]] == \
           [("capped_base_stock", -1), ("dcl", 0), ("dcl", 1)]
    assert [json.loads(x) for x in printed if x.startswith("{")] == [*merged["rows"], merged["summary"]]
    m, w = merged["summary"]["methods"], whole["summary"]["methods"]
    for method in ("capped_base_stock", "dcl"):
        assert {k: v for k, v in m[method].items() if "cpu" not in k} == \
               {k: v for k, v in w[method].items() if "cpu" not in k}
    assert merged["summary"]["config"]["dcl_config"]["states"] == TINY_DCL["states"]
    assert [p["part"] for p in merged["summary"]["config"]["merged"]] == [str(outs["s1"]), str(outs["s0"])]
    assert any(x.startswith("| poisson-L1-p4 |") for x in printed)

    # refusals: one line on stderr, exit 2, and the earlier --out file untouched
    before = merged_out.read_text()
    other = json.loads(outs["s1"].read_text())
    other["summary"]["config"]["dcl_options"] = {**TINY_DCL, "epochs": 4}
    bad_opts = tmp_path / "other.json"
    bad_opts.write_text(json.dumps(other))
    not_result = tmp_path / "not.json"
    not_result.write_text("[1, 2]")
    cases = [([outs["s0"], outs["both"]], "is also in"), ([outs["s0"], bad_opts], "['epochs']"),
             ([not_result], "not a frontier.py --out file"), ([tmp_path / "missing.json"], "missing.json")]
    for files, message in cases:
        with pytest.raises(SystemExit) as exc:
            frontier.main(["--merge", *map(str, files), "--out", str(merged_out)])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert "--merge" in err[-1] and message in err[-1]
        assert merged_out.read_text() == before


def test_learner_config_fills_defaults():
    """Options that spell out a default are the same configuration as options that omit it."""
    from replenish.solvers.dqn.config import DQNConfig

    assert frontier.learner_config("dqn", {"threads": 1, "hidden": [64, 64]}) == \
           frontier.learner_config("dqn", {}) == DQNConfig().to_dict()
    assert frontier.learner_config("dqn", {"variant": "discounted"})["objective"] == "discounted"
    assert frontier.learner_config("dqn", {"logdir": "runs"}) == DQNConfig().to_dict()
    assert frontier.learner_config("dcl", {"states": 300}) != frontier.learner_config("dcl", {})


def test_dqn_config_file_gives_the_dqn_options(tmp_path, capsys):
    """``--dqn-config`` takes the [dqn] table of a TOML config; ``--dqn-options`` overrides it;
    a missing or invalid file is a one-line error (exit 2)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[problem]\nlead_time = 1\nexcess_demand = "lost"\nholding_cost = 1\n'
                   'stockout_cost = 4\n[demand]\nkind = "poisson"\nmean = 5\n'
                   '[dqn]\nsteps = 3000\nlearning_starts = 500\neval_every = 1000\nhidden = [16]\n')
    out = tmp_path / "r.json"
    frontier.main(["--instances", "poisson:1:4", "--methods", "dqn", "--dqn-config", str(cfg),
                   "--dqn-options", '{"steps": 2000}', "--out", str(out)])
    capsys.readouterr()
    res = json.loads(out.read_text())
    assert res["summary"]["config"]["dqn_options"] == {"steps": 2000, "learning_starts": 500,
                                                       "eval_every": 1000, "hidden": [16]}
    (row,) = res["rows"]
    assert row["params"]["steps"] == 2000 and row["gap"] >= -1e-9
    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.read_text().replace("steps = 3000", "stepz = 3000"))
    for path, message in ((tmp_path / "none.toml", "none.toml"), (bad, "stepz")):
        with pytest.raises(SystemExit) as exc:
            frontier.main(["--instances", "poisson:1:4", "--methods", "dqn", "--dqn-config", str(path)])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_published_dqn_table_is_the_merge_of_its_parts_with_the_l4_config_settings():
    """``benchmarks/results/frontier-2026-12-04-session7/merged.json`` (the DQN table of
    benchmarks/RESULTS.md) is the merge of the part files it names, which are in the
    repository, and its DQN configuration is ``configs/lost_sales_L4.toml``'s ``[dqn]``."""
    import replenish as rp

    folder = ROOT / "benchmarks" / "results" / "frontier-2026-12-04-session7"
    merged = json.loads((folder / "merged.json").read_text())
    names = [p["part"] for p in merged["summary"]["config"]["merged"]]
    parts = [json.loads((ROOT / n).read_text()) for n in names]
    again = frontier.merge(parts, names)
    assert again == merged
    earlier = folder.parent / "frontier-2026-12-03-session6"
    on_disk = [*folder.glob("h128-*.json"), *earlier.glob("gs2lrf5h128-*.json")]
    assert sorted(names) == sorted(str(p.relative_to(ROOT)) for p in on_disk)
    cfg = rp.load_config(ROOT / "configs" / "lost_sales_L4.toml")
    assert frontier.learner_config("dqn", cfg.sections["dqn"]) == merged["summary"]["config"]["dqn_config"]
    for r in merged["rows"]:
        assert r["gap"] == pytest.approx(r["average_cost"] / r["optimum"] - 1, abs=1e-12)
    # the README's claim is over the whole table: 16 Poisson instances x 3 seeds, each once
    pairs = sorted((r["instance"], r["seed"]) for r in merged["rows"])
    everything = sorted(
        (f"poisson-L{lead}-p{p}", s) for lead in (1, 2, 3, 4) for p in (4, 9, 19, 39) for s in (0, 1, 2)
    )
    assert pairs == everything
