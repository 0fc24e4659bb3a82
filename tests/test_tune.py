"""``replenish tune``: an Optuna study over Q-learning on a tiny problem, resumed from SQLite."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from replenish import Poisson, Problem
from replenish.cli import main
from replenish.core.validate import SpecError

optuna = pytest.importorskip("optuna")

from replenish.workflows.tune import default_params, toml_snippet, tune  # noqa: E402

TINY = """name = "tiny"
[problem]
lead_time = 0
capacity = 5
excess_demand = "lost"
holding_cost = 1
stockout_cost = 5
discount = 0.9

[demand]
kind = "poisson"
mean = 2
"""


@pytest.fixture
def tiny() -> Problem:
    return Problem(demand=Poisson(2), lead_time=0, capacity=5, excess_demand="lost", holding_cost=1,
                   stockout_cost=5, discount=0.9, name="tiny")


def test_study_runs_resumes_and_writes_toml(tiny: Problem, tmp_path: Path) -> None:
    """3 trials, then a restart asking for 4 runs exactly one more; the snippet loads back."""
    first = tune(tiny, "qlearning", out=tmp_path, trials=3, steps=3000, repeats=2, seed=1)
    assert first.ran == 3 and first.n_complete + first.n_pruned == 3
    assert (tmp_path / "tune.db").is_file()
    # the first trial is the defaults; every objective is a gap >= 0 to the exact DP optimum
    assert first.trials[0]["defaults"] and first.trials[0]["params"] == default_params("qlearning")
    assert first.optimum is not None and first.objective == "gap"
    assert all(t["value"] >= -1e-12 for t in first.trials if t["state"] == "COMPLETE")
    assert first.best_value == min(t["value"] for t in first.trials if t["state"] == "COMPLETE")
    # intermediate values: the running mean after each of the 2 runs
    t0 = first.trials[0]
    assert list(t0["intermediate"]) == ["3000", "6000"]
    assert t0["intermediate"]["6000"] == pytest.approx(t0["value"])

    again = tune(tiny, "qlearning", out=tmp_path, trials=4, steps=3000, repeats=2, seed=1)
    assert again.ran == 1 and len(again.trials) == 4
    assert [t["number"] for t in again.trials[:3]] == [0, 1, 2]
    assert [t["value"] for t in again.trials[:3]] == [t["value"] for t in first.trials]
    nothing = tune(tiny, "qlearning", out=tmp_path, trials=4, steps=3000, repeats=2, seed=1)
    assert nothing.ran == 0

    snippet = tomllib.loads((tmp_path / "best-qlearning.toml").read_text())
    assert snippet["qlearning"]["steps"] == 3000
    # the snippet writes floats with 6 significant digits: relative error below 5e-6
    assert {k: v for k, v in snippet["qlearning"].items() if k != "steps"} == pytest.approx(
        again.best_params, rel=5e-6)
    # a different setup under the same study name is refused
    with pytest.raises(SpecError, match="another setup"):
        tune(tiny, "qlearning", out=tmp_path, trials=4, steps=5000, repeats=2, seed=1)


def test_toml_snippet_round_trip() -> None:
    opts = {"lr": 0.00123456789, "hidden": [64, 64], "dueling": False, "objective": "average", "n_step": 3}
    text = toml_snippet("dqn", opts, ["a comment"])
    assert text.startswith("# a comment\n[dqn]\n")
    back = tomllib.loads(text)["dqn"]
    assert back == {**opts, "lr": pytest.approx(0.00123457, rel=1e-9)}


def test_tune_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    code = main(["tune", str(cfg), "--method", "qlearning", "--trials", "2", "--steps", "2000",
                 "--storage", url, "--out", str(tmp_path / "o"), "--json"])
    assert code == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["storage"] == url and obj["n_complete"] + obj["n_pruned"] == 2
    assert (tmp_path / "shared.db").is_file() and not (tmp_path / "o" / "tune.db").exists()
    assert main(["tune", str(cfg), "--method", "sS", "--out", str(tmp_path / "o")]) == 2
    assert "--method = 'sS'" in capsys.readouterr().err


def test_default_params_are_the_options_defaults():
    """The first trial of a study is what a user gets untuned: read from the options dataclasses."""
    from replenish.solvers.dqn.config import DQNConfig
    from replenish.solvers.qlearning import QLearningConfig
    from replenish.workflows.tune import tunable

    assert tunable() == ("qlearning", "dqn")
    q, d = default_params("qlearning"), default_params("dqn")
    assert q["epsilon"] == QLearningConfig().epsilon == 0.1
    assert q["episode_length"] == QLearningConfig().episode_length
    assert d["batch_size"] == DQNConfig().batch_size and d["eps_fraction"] == DQNConfig().eps_fraction
    assert d["hidden"] == ",".join(map(str, DQNConfig().hidden))


@pytest.mark.parametrize("drawn", [1, None])
def test_rerun_after_a_kill_while_drawing_parameters_equals_an_uninterrupted_run(
        tiny: Problem, tmp_path: Path, drawn: int | None) -> None:
    """A process killed during a trial leaves it ``RUNNING`` with the parameters drawn so far:
    one of them (killed inside the search space; the SIGKILL test of ``test_faults.py`` hit this
    under load) or all (killed while training).  The rerun ends with the finished trials of an
    uninterrupted run, in the same order."""
    import socket
    import subprocess
    import sys

    from replenish.workflows.tune import search_space

    kw = {"trials": 4, "steps": 2000, "seed": 3}
    ref = tune(tiny, "qlearning", out=tmp_path / "ref", **kw)
    tune(tiny, "qlearning", out=tmp_path / "run", **{**kw, "trials": 3})

    class Killed(Exception):
        pass

    class Interrupted:  # the trial as the objective sees it, up to the kill
        def __init__(self, trial: object) -> None:
            self.trial, self.calls = trial, 0

        def __getattr__(self, name: str) -> object:
            fn = getattr(self.trial, name)

            def call(*args: object, **kwargs: object) -> object:
                if name.startswith("suggest_"):
                    if drawn is not None and self.calls == drawn:
                        raise Killed
                    self.calls += 1
                return fn(*args, **kwargs)
            return call

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid: a process of this machine that is gone
    url = f"sqlite:///{tmp_path / 'run' / 'tune.db'}"
    # the trial's point comes from the sampler as tune seeds it (3 trials finished)
    study = optuna.load_study(study_name=ref.study_name, storage=url,
                              sampler=optuna.samplers.TPESampler(seed=kw["seed"] + 3))
    trial = study.ask()
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)
    try:
        search_space("qlearning")(Interrupted(trial))
    except Killed:
        pass
    assert len(trial.params) == (drawn if drawn is not None else len(ref.best_params))
    rerun = tune(tiny, "qlearning", out=tmp_path / "run", **kw)

    def finished(r: object) -> list[tuple[object, object]]:
        return [(t["params"], t["value"]) for t in r.trials if t["state"] in ("COMPLETE", "PRUNED")]

    assert finished(rerun) == finished(ref)
    assert rerun.n_failed == 1 and rerun.best_params == ref.best_params


def test_rerun_after_a_kill_before_the_defaults_trial_ran_runs_it(
        tiny: Problem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed after its defaults trial became ``RUNNING`` but before the objective
    recorded anything: tune queues the defaults with its own host and pid, so the rerun fails
    the trial at once and queues the defaults again instead of losing them."""
    import os
    import socket
    import subprocess
    import sys

    kw = {"trials": 2, "steps": 2000, "seed": 3}
    ref = tune(tiny, "qlearning", out=tmp_path / "ref", **kw)
    with monkeypatch.context() as m:  # a run that queues the defaults and is killed before a trial
        m.setattr(optuna.study.Study, "optimize", lambda self, *a, **k: None)
        tune(tiny, "qlearning", out=tmp_path / "run", **kw)
    url = f"sqlite:///{tmp_path / 'run' / 'tune.db'}"
    study = optuna.load_study(study_name=ref.study_name, storage=url)
    (queued,) = study.trials
    assert queued.state.name == "WAITING" and queued.user_attrs == {
        "defaults": True, "host": socket.gethostname(), "pid": os.getpid()}
    trial = study.ask()  # the queued defaults, now RUNNING; the kill lands here
    assert trial.user_attrs["defaults"] and study.trials[0].state.name == "RUNNING"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial.set_user_attr("pid", dead.pid)  # the enqueuing process is the one killed
    rerun = tune(tiny, "qlearning", out=tmp_path / "run", **kw)
    finished = [(t["params"], t["value"]) for t in rerun.trials if t["state"] == "COMPLETE"]
    assert finished == [(t["params"], t["value"]) for t in ref.trials]
    assert rerun.default_value == ref.default_value and rerun.n_failed == 1


def test_a_kill_while_creating_the_store_leaves_no_store(tiny: Problem, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Optuna creates its tables and the unique index on study names in separate statements; a
    kill in between once left a store where a rerun registered the study twice and failed
    (StorageInternalError: multiple rows). The default store is built aside and renamed in."""
    import sqlite3

    real = optuna.create_study

    def killed(*args, **kwargs):  # the tables exist by now; the process dies here
        raise KeyboardInterrupt

    monkeypatch.setattr(optuna, "create_study", killed)
    with pytest.raises(KeyboardInterrupt):
        tune(tiny, "qlearning", out=tmp_path, trials=1, steps=1000, repeats=1, seed=1)
    assert not (tmp_path / "tune.db").exists()
    monkeypatch.setattr(optuna, "create_study", real)
    res = tune(tiny, "qlearning", out=tmp_path, trials=1, steps=1000, repeats=1, seed=1)
    assert res.ran == 1
    with sqlite3.connect(tmp_path / "tune.db") as con:
        unique = [r for r in con.execute("PRAGMA index_list('studies')") if r[2]]
    assert unique, "the studies table has no unique index"
