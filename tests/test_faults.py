"""Faults: outputs under a file, killed report writing, leftovers of killed writers,
SIGKILL at random moments of every long-running command, fleet workers of a killed driver.

The kill tests run ``replenish`` in a subprocess, SIGKILL it at three seeded random
moments (a fraction of an uninterrupted run's time), rerun, and check that the final
outputs equal an uninterrupted run's (byte-identical where deterministic, else the
result JSON without timing fields), that no partial or ``.tmp`` file is left and
that a killed run never changed an earlier output.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from replenish.cli import main
from replenish.core.io import atomic_write, staged_folder

ROOT = Path(__file__).resolve().parents[1]
BIKE = (ROOT / "configs" / "bike_shop.toml").read_text()
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           OMP_NUM_THREADS="1")


# ------------------------------------------------------------------ helpers
def dead_pid() -> int:
    """The id of a process that has exited."""
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                         text=True, check=True)
    return int(out.stdout)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files, stages and old copies under ``folder`` (and beside it)."""
    found = [str(p) for p in folder.rglob("*") if p.name.endswith((".tmp", ".stage", ".old"))]
    found += [str(p) for p in folder.parent.glob(f".{folder.name}.*")]
    return found


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "replenish", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=1800)


def timed(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    r = cli(*args, cwd=cwd)
    return r, time.perf_counter() - t0


def kill_at(args: list[str], cwd: Path, after: float) -> int | None:
    """Start ``replenish ARGS``, SIGKILL it ``after`` seconds later; its exit code if it
    ended before (``None`` when it was killed)."""
    p = subprocess.Popen([sys.executable, "-m", "replenish", *args], cwd=cwd, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return p.wait(timeout=after)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the command and any process it started
        p.wait()
        return None


def moments(seed: int, total: float, n: int = 3, lo: float = 0.15, hi: float = 0.9) -> list[float]:
    """``n`` seeded random moments between ``lo`` and ``hi`` of a run of ``total`` seconds
    (startup included)."""
    rng = np.random.default_rng(seed)
    return sorted(float(x) for x in rng.uniform(lo * total, hi * total, size=n))


def without_timing(obj: Any) -> Any:
    """A result JSON object without wall-clock fields (seconds, timestamps, resume marks)."""
    drop = {"seconds", "train_seconds", "generated", "resumed_from", "ran", "skipped", "elapsed"}
    if isinstance(obj, dict):
        return {k: without_timing(v) for k, v in obj.items()
                if k not in drop and "seconds" not in k and "per_second" not in k}
    if isinstance(obj, list):
        return [without_timing(v) for v in obj]
    return obj


# ------------------------------------------------------------------ outputs under a file
@pytest.mark.parametrize("flag", ["--report", "--out"])
def test_output_under_a_regular_file_fails_before_anything_is_written(tmp_path, capsys, flag):
    cfg = tmp_path / "c.toml"
    cfg.write_text(BIKE)
    out = tmp_path / "out"
    assert main(["solve", str(cfg), "--method", "order-up-to", "--out", str(out), "--json"]) == 0
    before = snapshot(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    (tmp_path / "somefile.txt").write_text("not a folder\n")
    bad = str(tmp_path / "somefile.txt" / "sub")
    argv = ["solve", str(cfg), "--method", "order-up-to", "--out", str(out), "--report", bad]
    if flag == "--out":
        argv = ["solve", str(cfg), "--method", "order-up-to", "--out", bad]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {flag} = {bad!r}: lies under the file ")
    assert snapshot(out) == before and {p: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    assert (tmp_path / "somefile.txt").read_text() == "not a folder\n"


def test_compare_report_that_is_a_file_fails_at_once(tmp_path, capsys):
    f = tmp_path / "report"
    f.write_text("x")
    assert main(["compare", str(tmp_path / "missing.toml"), "--report", str(f)]) == 2
    assert capsys.readouterr().err == f"error: --report = {str(f)!r}: is a file, not a folder\n"


# ------------------------------------------------------------------ staged folders, stale temporaries
def test_staged_folder_keeps_the_old_folder_on_failure_and_swaps_on_success(tmp_path):
    folder = tmp_path / "rep"
    folder.mkdir()
    (folder / "report.html").write_text("old")
    (folder / "notes.txt").write_text("mine")  # not part of the report: carried over
    with pytest.raises(RuntimeError), staged_folder(folder) as stage:
        (stage / "report.html").write_text("new")
        (stage / "results.json").write_text("{}")
        raise RuntimeError("killed half-way")
    assert snapshot(folder) == {"report.html": b"old", "notes.txt": b"mine"}
    assert leftovers(folder) == []
    with staged_folder(folder) as stage:
        (stage / "report.html").write_text("new")
        (stage / "results.json").write_text("{}")
        assert snapshot(folder) == {"report.html": b"old", "notes.txt": b"mine"}  # not yet
    assert snapshot(folder) == {"report.html": b"new", "results.json": b"{}", "notes.txt": b"mine"}
    assert leftovers(folder) == []


def test_a_folder_that_is_not_an_earlier_report_is_written_in_place(tmp_path):
    folder = tmp_path / "home"
    (folder / "projects").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    inode = folder.stat().st_ino
    with staged_folder(folder) as stage:
        assert stage == folder  # never moved or copied as a whole
        (stage / "report.html").write_text("new")
    assert folder.stat().st_ino == inode and leftovers(folder) == []
    assert snapshot(folder) == {"notes.txt": b"mine", "report.html": b"new"}


def test_leftovers_of_killed_writers_are_cleaned_up(tmp_path):
    pid = dead_pid()
    folder = tmp_path / "rep"
    folder.mkdir()
    (folder / "report.html").write_text("old")
    stale_tmp = folder / f".results.json.{pid}.abcd1234.tmp"
    stale_tmp.write_text("half")
    live_tmp = folder / f".results.json.{os.getpid()}.abcd1234.tmp"  # a live writer's: kept
    live_tmp.write_text("busy")
    stage = tmp_path / f".rep.{pid}.stage"
    stage.mkdir()
    (stage / "report.html").write_text("half-new")
    atomic_write(folder / "results.json", "{}")
    assert not stale_tmp.exists() and live_tmp.exists()
    live_tmp.unlink()
    with staged_folder(folder) as new:
        (new / "report.html").write_text("new")
    assert not stage.exists() and leftovers(folder) == []
    # a swap cut short between its two renames: the old folder is put back first
    old = tmp_path / f".gone.{pid}.old"
    old.mkdir()
    (old / "report.html").write_text("old report")
    with pytest.raises(RuntimeError), staged_folder(tmp_path / "gone"):
        raise RuntimeError
    assert snapshot(tmp_path / "gone") == {"report.html": b"old report"}


@pytest.mark.slow
def test_killed_report_writing_leaves_the_old_report_or_the_new_one(tmp_path):
    """SIGKILL ``solve --report`` at five random moments over an earlier report: the
    folder is the old report byte for byte or the whole new one, never a mixture and
    never a ``.tmp`` file; the rerun cleans up the killed runs' stages."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(BIKE)
    rep = tmp_path / "rep"
    assert cli("solve", str(cfg), "--method", "order-up-to", "--report", str(rep), "-q",
               cwd=tmp_path).returncode == 0
    old = snapshot(rep)
    args = ["solve", str(cfg), "--method", "dp", "--report", str(rep), "-q"]
    r, total = timed("solve", str(cfg), "--method", "dp", "--report", str(tmp_path / "ref"), "-q",
                     cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    states = []
    for t in moments(7, total, n=5, lo=0.6, hi=1.0):  # mostly while writing
        rc = kill_at(args, tmp_path, t)
        assert not [p for p in rep.rglob("*") if p.name.endswith(".tmp")]
        now = snapshot(rep)
        data = json.loads(now["results.json"])
        if now == old:
            states.append("old")
        else:
            assert data["title"] == "bike-shop: dp", "a folder mixing old and new files"
            assert "bike-shop: dp" in now["report.html"].decode()
            assert all(f"{name}.png" in now for s in data["sections"] for name in s["figures"])
            assert set(now) == set(snapshot(tmp_path / "ref")) | set(old)
            states.append("new" if rc is None else "done")
        if states[-1] != "old":
            break  # the new report is in place; later kills would only rewrite it
    assert cli(*args, cwd=tmp_path).returncode == 0
    assert leftovers(rep) == []
    print("states after the kills:", states)


# ------------------------------------------------------------------ fleet workers of a killed driver
def _processes() -> dict[int, tuple[int, str, str]]:
    """pid → (parent pid, state, command line) of every process (from /proc)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(d.name)] = (int(fields[1]), fields[0], cmd)
    return out


def _descendants(pid: int) -> dict[int, str]:
    procs = _processes()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for p, (pp, _, cmd) in procs.items():
            if pp == parent and p not in found:
                found[p] = cmd
                frontier.append(p)
    return found


def _alive(pid: int) -> bool:
    st = _processes().get(pid)
    return st is not None and st[1] not in ("Z", "X")


def fleet_config(tmp_path: Path) -> Path:
    sample = ROOT / "src" / "replenish" / "data" / "bakery_sample.csv.gz"
    text = (ROOT / "configs" / "bakery.toml").read_text()
    text = text.replace('file = "../src/replenish/data/bakery_sample.csv.gz"', f'file = "{sample}"')
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(text)
    return cfg


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.slow
def test_fleet_workers_end_when_the_driver_is_killed(tmp_path):
    cfg = fleet_config(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "replenish", "fleet", str(cfg), "--group-by",
                          "store,product", "--methods", "dp,sS", "--engine", "local", "--workers", "2",
                          "--out", str(tmp_path / "out"), "-q"], cwd=tmp_path, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kids: dict[int, str] = {}
    try:
        deadline = time.time() + 120
        workers: dict[int, str] = {}
        while time.time() < deadline and p.poll() is None:
            kids = _descendants(p.pid)
            workers = {k: c for k, c in kids.items() if "spawn_main" in c}
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2, f"no workers seen: {kids}"
        time.sleep(1.0)  # the workers are busy with a series
        kids = _descendants(p.pid)
        assert any("resource_tracker" in c for c in kids.values())
        p.send_signal(signal.SIGKILL)  # the driver only
        p.wait()
        t0 = time.time()
        while time.time() - t0 < 10 and any(_alive(k) for k in kids):
            time.sleep(0.1)
        survivors = {k: c for k, c in kids.items() if _alive(k)}
        print(f"{len(kids)} processes ended {time.time() - t0:.2f} s after the driver")
        assert not survivors, f"still running after 10 s: {survivors}"
    finally:
        for k in kids:  # a failed test leaves nothing running either
            if _alive(k):
                with contextlib.suppress(OSError):
                    os.kill(k, signal.SIGKILL)
        if p.poll() is None:
            p.kill()


# ------------------------------------------------------------------ SIGKILL at random moments, rerun
DQN_TABLE = """
[dqn]
steps = 4000
num_envs = 8
learning_starts = 500
batch_size = 64
eval_every = 1000
eval_paths = 8
eval_horizon = 60
eval_warmup = 10
checkpoint_every = 500
eps_decay_steps = 2000
target_update = 50
"""
SAMPLE = ROOT / "src" / "replenish" / "data" / "bakery_sample.csv.gz"


def bakery_text(compare: str | None = None) -> str:
    text = (ROOT / "configs" / "bakery.toml").read_text()
    text = text.replace('file = "../src/replenish/data/bakery_sample.csv.gz"', f'file = "{SAMPLE}"')
    if compare is not None:
        head, _, rest = text.partition("[compare]\n")
        rest = rest.split("\n", 1)[1]  # drop the methods line
        text = f"{head}[compare]\n{compare}\n{rest}"
    return text


def _json(path: Path) -> Any:
    return without_timing(json.loads(path.read_text()))


def _fleet_table(out: Path) -> Any:
    from replenish.workflows.fleet import VOLATILE_FIELDS, read_table

    t = read_table(out)
    keep = [c for c in t.columns if c not in VOLATILE_FIELDS and not c.endswith(".seconds")]
    return t[keep].sort_values("series").reset_index(drop=True)


#: name → (config text, argv (relative to the run's folder), output folder, files compared by bytes,
#: files compared as JSON without timing fields)
KILL_CASES: dict[str, tuple[str, list[str], str, list[str], list[str]]] = {
    "solve-dqn": (BIKE + DQN_TABLE, ["solve", "c.toml", "--method", "dqn", "--out", "out", "-q"], "out",
                  ["policy-dqn.pt"], ["result-dqn.json"]),
    "solve-qlearning": (BIKE, ["solve", "c.toml", "--method", "qlearning", "--steps", "4000000", "--out",
                               "out", "-q"], "out", ["policy-qlearning.json"], ["result-qlearning.json"]),
    "compare-learners": (bakery_text('methods = ["sS", "dqn"]'),
                         ["compare", "c.toml", "--steps", "4000", "--report", "out", "-q"], "out",
                         ["policy-dqn.pt", "policy-sS.json", "test_replay.csv"], ["compare.json"]),
    "compare-origins": (bakery_text('methods = ["sS", "forecast-base-stock"]\n'
                                    'origins = ["2017-04-01", "2017-07-01"]\ntest_days = 60'),
                        ["compare", "c.toml", "--report", "out", "-q"], "out",
                        ["compare.txt", "origin-2017-07-01/test_replay.csv"], ["compare.json"]),
    "fleet": (bakery_text(), ["fleet", "c.toml", "--group-by", "store,product", "--methods",
                              "sS,order-up-to,dp", "--out", "out", "-q"], "out", [], ["summary.json"]),
    "tune": (BIKE, ["tune", "c.toml", "--method", "qlearning", "--trials", "10", "--steps", "2000000",
                    "--out", "out", "-q"], "out", [], []),
}


def _tune_result(out: Path) -> Any:
    """The study as an uninterrupted run leaves it: summary, and the finished trials in
    order (numbers, failed trials of killed runs and paths aside)."""
    d = without_timing(json.loads((out / "tune-qlearning.json").read_text()))
    finished = [{k: v for k, v in t.items() if k != "number"} for t in d.pop("trials")
                if t["state"] in ("COMPLETE", "PRUNED")]
    for k in ("storage", "n_failed"):
        d.pop(k)
    snippet = [ln for ln in (out / "best-qlearning.toml").read_text().splitlines() if not ln.startswith("#")]
    return d, finished, snippet


def reference_run(tmp_path: Path, text: str, argv: list[str]) -> tuple[Path, Path, float]:
    """Folders ``ref`` and ``run`` with the config ``c.toml``; runs ``argv`` uninterrupted in
    ``ref`` (the time of the second of two runs, once compiled kernels are cached);
    returns both folders and that time."""
    ref, run = tmp_path / "ref", tmp_path / "run"
    for d in (ref, run, tmp_path / "warm"):
        d.mkdir()
        (d / "c.toml").write_text(text)
    assert cli(*argv, cwd=tmp_path / "warm").returncode == 0
    r, total = timed(*argv, cwd=ref)
    assert r.returncode == 0, r.stderr
    return ref, run, total


def _attempt(name: str, argv: list[str], folder: Path) -> list[str]:
    """The command a rerun gives: DQN resumes from its checkpoint when there is one."""
    if name == "solve-dqn" and (folder / "out" / "checkpoints" / "last.pt").is_file():
        return [*argv, "--resume"]
    return argv


@pytest.mark.slow
@pytest.mark.parametrize("name", list(KILL_CASES))
def test_sigkill_at_three_moments_then_rerun_equals_an_uninterrupted_run(tmp_path, name):
    text, argv, out_name, same_bytes, same_json = KILL_CASES[name]
    ref, run, total = reference_run(tmp_path, text, argv)
    out = run / out_name
    out.mkdir()
    (out / "earlier.txt").write_bytes(b"an earlier output\n")  # must survive every kill untouched
    outcomes = []
    for t in moments(sum(map(ord, name)), total):
        rc = kill_at(_attempt(name, argv, run), run, t)
        outcomes.append("killed" if rc is None else f"ended {rc}")
        assert (out / "earlier.txt").read_bytes() == b"an earlier output\n"
        for f in out.rglob("*.json"):  # whatever is visible is whole
            json.loads(f.read_text())
    final = cli(*_attempt(name, argv, run), cwd=run)
    assert final.returncode == 0, final.stderr
    assert (out / "earlier.txt").read_bytes() == b"an earlier output\n"
    assert leftovers(out) == [], "temporary files left"
    for f in same_bytes:
        assert (out / f).read_bytes() == (ref / out_name / f).read_bytes(), f
    for f in same_json:
        assert _json(out / f) == _json(ref / out_name / f), f
    if name == "tune":
        assert _tune_result(out) == _tune_result(ref / out_name)
    if name == "fleet":
        import pandas as pd

        pd.testing.assert_frame_equal(_fleet_table(out), _fleet_table(ref / out_name))
    print(f"{name}: uninterrupted {total:.1f} s; kills at "
          f"{[round(t, 1) for t in moments(sum(map(ord, name)), total)]} s: {outcomes}")


def _hear_ctrl_c() -> None:
    """In the child: SIGINT at its default (a test run in the background ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_dqn_ctrl_c_at_three_moments_then_resume_is_bit_identical(tmp_path):
    """``solve --method dqn`` interrupted with SIGINT (Ctrl-C) three times, each a seeded
    random 0–1.5 s after the attempt's first new checkpoint (so it lands mid-training),
    each time resumed with ``--resume``: the final policy file is byte-identical to an
    uninterrupted run's and the result JSON equal apart from timing."""
    # 12,000 steps (about 12 s): long enough that each of the three interrupts lands during
    # training (with 4,000 the run ended before the second and third, and the one landing could
    # hit a checkpoint step on a loaded machine)
    text = BIKE + DQN_TABLE.replace("checkpoint_every = 500", "checkpoint_every = 1000").replace(
        "steps = 4000", "steps = 12000")
    argv = ["solve", "c.toml", "--method", "dqn", "--out", "out", "-q"]
    ref, run, total = reference_run(tmp_path, text, argv)
    ck = run / "out" / "checkpoints" / "last.pt"
    rng = np.random.default_rng(20)
    steps = []
    for _ in range(3):
        before = ck.stat().st_mtime_ns if ck.is_file() else None
        resume = ["--resume"] if before is not None else []
        p = subprocess.Popen([sys.executable, "-m", "replenish", *argv, *resume], cwd=run, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_hear_ctrl_c)
        deadline = time.time() + 600
        while p.poll() is None and time.time() < deadline and \
                (not ck.is_file() or ck.stat().st_mtime_ns == before):
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0, 1.5)))
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=600)
        # -SIGINT without a word: the signal came while Python itself shut down (the run had ended)
        assert p.returncode in (0, 130) or (p.returncode == -signal.SIGINT and not err), \
            (p.returncode, err[-3000:])
        if p.returncode == 130:
            assert err.strip().splitlines()[-1] == "interrupted"
            from replenish.policies.dqn import safe_torch_load

            steps.append(json.loads(safe_torch_load(ck)["meta"])["step"])
    final = cli(*argv, *(["--resume"] if ck.is_file() else []), cwd=run)
    assert final.returncode == 0, final.stderr
    assert (run / "out" / "policy-dqn.pt").read_bytes() == (ref / "out" / "policy-dqn.pt").read_bytes()
    assert _json(run / "out" / "result-dqn.json") == _json(ref / "out" / "result-dqn.json")
    assert leftovers(run / "out") == []
    print(f"dqn Ctrl-C: uninterrupted {total:.1f} s; SIGINT checkpoints at steps {steps}")
    assert any(s % 1000 for s in steps)  # at least one interrupt landed between periodic checkpoints
