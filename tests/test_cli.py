"""The command line: JSON schema, saved policies, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from replenish.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_solve_dp_json(capsys, bike_config):
    code, out, _ = run(capsys, "solve", str(bike_config), "--method", "dp", "--json")
    assert code == 0
    obj = json.loads(out)
    for key in ("method", "average_cost", "exact", "ci95", "optimal_average_cost", "gap",
                "params", "seconds", "policy_file"):
        assert key in obj
    assert obj["exact"] is True and obj["ci95"] is None
    assert obj["average_cost"] == pytest.approx(16.1830, abs=1e-3)
    assert obj["gap"] == pytest.approx(0.0, abs=1e-9)


def test_solve_order_up_to_and_evaluate_saved_policy(capsys, bike_config, tmp_path):
    code, out, _ = run(capsys, "solve", str(bike_config), "--method", "order-up-to", "--json",
                       "--out", str(tmp_path))
    obj = json.loads(out)
    assert code == 0 and obj["params"] == {"level": 7}
    assert obj["average_cost"] == pytest.approx(16.8230, abs=1e-3)
    assert obj["gap"] == pytest.approx(16.8230 / 16.1830 - 1, abs=1e-4)
    assert Path(obj["policy_file"]).is_file()
    code, out, _ = run(capsys, "evaluate", str(bike_config), "--policy", obj["policy_file"], "--json")
    ev = json.loads(out)
    assert code == 0 and ev["average_cost"] == pytest.approx(obj["average_cost"], abs=1e-12)
    code, out, _ = run(capsys, "evaluate", str(bike_config), "--policy", obj["policy_file"],
                       "--json", "--simulate")
    sim = json.loads(out)
    assert sim["exact"] is False and sim["ci95"][0] < obj["average_cost"] < sim["ci95"][1]


def test_dp_policy_round_trip(capsys, bike_config, tmp_path):
    from replenish import load_policy, solve_dp
    from replenish.workflows.config import load_config

    run(capsys, "solve", str(bike_config), "--method", "dp", "--out", str(tmp_path))
    pol = load_policy(tmp_path / "policy-dp.json")
    ref = solve_dp(load_config(bike_config).problem).policy
    for a in range(11):
        for b in range(11 - a):
            assert pol.order([a, b]) == ref.order([a, b])


BAD = [
    ("problem.discount", "discount = 0.9", "discount = 1.5"),
    ("problem.holding_cost", "holding_cost = 8", "holding_cost = -1"),
    ("problem.holding_cost", "holding_cost = 8", 'holding_cost = "eight"'),
    ("problem.capacity", "capacity = 10", "capacity = 0"),
    ("problem.lead_time", "lead_time = 1", "lead_time = 1.5"),
    ("problem.colour", "lead_time = 1", "lead_time = 1\ncolour = 3"),
    ("demand.kind", 'kind = "poisson"', 'kind = "gaussian"'),
    ("demand.mean", "mean = 4", "mean = -4"),
    ("problem.excess_demand", 'excess_demand = "lost"', 'excess_demand = "maybe"'),
    ("config", "[demand]", "[demand"),
]


@pytest.mark.parametrize("field, old, new", BAD)
def test_config_errors_one_line_exit_2(capsys, bike_config, tmp_path, field, old, new):
    text = bike_config.read_text()
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1))
    code, out, err = run(capsys, "solve", str(bad), "--method", "dp", "--json")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0]


def test_errors_do_not_destroy_outputs(capsys, bike_config, tmp_path):
    run(capsys, "solve", str(bike_config), "--method", "dp", "--out", str(tmp_path))
    before = (tmp_path / "policy-dp.json").read_text()
    code, _, err = run(capsys, "solve", str(bike_config), "--method", "nope", "--out", str(tmp_path))
    assert code == 2 and "method" in err
    assert (tmp_path / "policy-dp.json").read_text() == before


def test_missing_files_and_bad_policy(capsys, bike_config, tmp_path):
    code, _, err = run(capsys, "solve", str(tmp_path / "none.toml"), "--method", "dp")
    assert code == 2 and "no such file" in err
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "evaluate", str(bike_config), "--policy", str(bad))
    assert code == 2 and err.count("\n") == 1


def test_console_script_no_traceback(bike_config, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(bike_config.read_text().replace("discount = 0.9", "discount = 2"))
    p = subprocess.run([sys.executable, "-m", "replenish", "solve", str(bad), "--method", "dp"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "error: problem.discount = 2: must be a number in (0, 1)"


def test_help_on_every_command(capsys):
    from replenish.cli import COMMANDS

    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage" in capsys.readouterr().out


def test_report_flag_means_the_same_in_every_command(tmp_path, capsys, bike_config):
    """``--report DIR`` of solve, evaluate and compare: one help text, and DIR gets report.html
    (with the decision), figures and results.json/.csv."""
    from replenish.cli import build_parser
    from replenish.cli.common import REPORT_HELP

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    with_report = {name: p for name, p in sub.choices.items()
                   if any("--report" in a.option_strings for a in p._actions)}
    assert set(with_report) == {"solve", "evaluate", "compare"}
    for p in with_report.values():
        act = next(a for a in p._actions if "--report" in a.option_strings)
        assert act.help.startswith(REPORT_HELP)
    pol = tmp_path / "out"
    assert main(["solve", str(bike_config), "--method", "order-up-to", "--out", str(pol),
                 "--report", str(tmp_path / "solve"), "-q"]) == 0
    assert main(["evaluate", str(bike_config), "--policy", str(pol / "policy-order-up-to.json"),
                 "--report", str(tmp_path / "evaluate")]) == 0
    capsys.readouterr()
    for name in ("solve", "evaluate"):
        d = tmp_path / name
        for f in ("report.html", "results.json", "results.csv", "costs.png"):
            assert (d / f).is_file(), (name, f)
        assert 'id="decision"' in (d / "report.html").read_text()
        assert not list(d.glob(".*.tmp"))
