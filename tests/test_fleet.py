"""``replenish fleet``: series discovery, per-series task, engines, streaming table, resume, errors."""

from __future__ import annotations

import json
import re
import tomllib
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replenish.cli import main
from replenish.core.validate import SpecError
from replenish.workflows.compare import compare
from replenish.workflows.config import config_from_dict
from replenish.workflows.fleet import (
    JOURNAL,
    VOLATILE_FIELDS,
    SeriesTask,
    discover_series,
    read_journal,
    read_table,
    run_fleet,
    run_series,
    series_seed,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "replenish" / "data" / "bakery_sample.csv.gz"
METHODS = ("order-up-to", "dp")


@pytest.fixture(scope="module")
def config() -> dict:
    with (ROOT / "configs" / "bakery.toml").open("rb") as fh:
        data = tomllib.load(fh)
    data.pop("compare", None)
    data.pop("dqn", None)
    return data


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real series of the bundled sample (the small ones) and one broken series.

    Store 99 is a copy of store 47's series with 3 days missing in the training
    window: it must be recorded as failed without stopping the others.
    """
    df = pd.read_csv(SAMPLE)
    df = df[~((df["store"] == 2) & (df["product"] == 101))]  # the large one: keeps the test fast
    broken = df[df["store"] == 47].copy()
    broken["store"] = 99
    broken = broken[~broken["date"].isin(["2016-03-01", "2016-03-02", "2016-03-03"])]
    path = tmp_path_factory.mktemp("fleet") / "sales.csv.gz"
    pd.concat([df, broken]).to_csv(path, index=False)
    return path


def _stable(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if c not in VOLATILE_FIELDS and not c.endswith(".seconds")]
    return df[keep].reset_index(drop=True)


def test_discover_series(data_file: Path) -> None:
    keys = discover_series(data_file, ["store", "product"])
    assert keys == [(("store", 2), ("product", 109)), (("store", 28), ("product", 109)),
                    (("store", 47), ("product", 110)), (("store", 99), ("product", 110))]
    assert all(type(v) is int for k in keys for _, v in k)
    with pytest.raises(SpecError, match="--group-by"):
        discover_series(data_file, ["store", "shelf"])


def test_series_seed_depends_on_key_and_seed_only() -> None:
    a = series_seed(0, (("store", 2), ("product", 109)))
    assert a == series_seed(0, "store=2 product=109")
    assert a != series_seed(1, "store=2 product=109")
    assert a != series_seed(0, "store=2 product=110")


def test_run_series_matches_compare(config: dict, data_file: Path) -> None:
    """The row holds exactly what ``compare`` measures for that series (an independent run)."""
    task = SeriesTask(config=config, data=str(data_file), key=(("store", 28), ("product", 109)),
                      methods=METHODS, seed=7)
    row = run_series(task)
    assert row["status"] == "ok", row["error"]
    assert row["series"] == "store=28 product=109" and row["store"] == 28
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one fractional sale is rounded
        cfg = config_from_dict({**config, "demand": {**config["demand"], "file": str(data_file),
                                                     "filter": {"store": 28, "product": 109}}})
    comp = compare(cfg.problem, cfg.history, list(METHODS), seed=7, with_optimum=False)
    for m in METHODS:
        r = comp.get(m)
        assert row[f"{m}.test_cost"] == pytest.approx(r.test.total_cost, rel=1e-12)
        assert row[f"{m}.train_cost_per_day"] == pytest.approx(r.train.average_cost, rel=1e-12)
    # no sS requested: the reference is the best order-up-to level (compare's rule)
    assert row["reference"] == "order-up-to"
    assert row["order-up-to.relative"] == 1.0
    assert row["dp.relative"] == pytest.approx(row["dp.test_cost"] / row["order-up-to.test_cost"])
    # the DP optimises the fitted model: never worse than order-up-to on it
    assert row["dp.model_cost"] <= row["order-up-to.model_cost"] + 1e-9


def test_bad_series_is_recorded_not_raised(config: dict, data_file: Path) -> None:
    row = run_series(SeriesTask(config=config, data=str(data_file),
                                key=(("store", 99), ("product", 110)), methods=METHODS, seed=0))
    assert row["status"] == "error"
    assert "missing from the calendar" in row["error"] and "2016-03-01" in row["error"]
    assert row["dp.test_cost"] is None


def test_fleet_serial_resume_after_interruption(config: dict, data_file: Path, tmp_path: Path) -> None:
    """A run interrupted after two series resumes; the final table equals an uninterrupted run."""
    full = run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path / "full",
                     methods=METHODS, engine="serial", progress=False)
    assert full.ran == 4 and full.failed == 1 and full.skipped == 0
    t = full.table
    assert list(t["series"]) == ["store=2 product=109", "store=28 product=109",
                                 "store=47 product=110", "store=99 product=110"]
    assert list(t["status"]) == ["ok", "ok", "ok", "error"]
    _check_summary_files(full.out, METHODS)

    out = tmp_path / "cut"
    seen: list[str] = []

    def stop_after_two(row: dict) -> None:
        seen.append(row["series"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_fleet(config, data_file, group_by=["store", "product"], out=out, methods=METHODS,
                  engine="serial", progress=False, on_row=stop_after_two)
    partial = read_table(out)  # the table was left consistent with the journal
    assert list(partial["series"]) == seen
    # a torn line from a write killed halfway is dropped, not duplicated or fatal
    with (out / JOURNAL).open("ab") as fh:
        fh.write(b'{"series": "store=47 product=110", "status": "o')
    again = run_fleet(config, data_file, group_by=["store", "product"], out=out, methods=METHODS,
                      engine="serial", progress=False)
    assert again.skipped == 2 and again.ran == 2
    rows, dirty = read_journal(out)
    assert not dirty and len(rows) == 4
    lines = (out / JOURNAL).read_text().splitlines()
    assert len(lines) == 4 and len({json.loads(x)["series"] for x in lines}) == 4
    pd.testing.assert_frame_equal(_stable(read_table(out)), _stable(t))
    # a third run has nothing left to do
    third = run_fleet(config, data_file, group_by=["store", "product"], out=out, methods=METHODS,
                      engine="serial", progress=False)
    assert third.ran == 0 and third.skipped == 4
    # the CSV holds the same table
    csv = pd.read_csv(out / "fleet.csv")
    assert list(csv["series"]) == list(t["series"])
    np.testing.assert_allclose(csv["dp.test_cost"].to_numpy()[:3], t["dp.test_cost"].to_numpy()[:3])


class _Cells(HTMLParser):
    """The text of every table cell of a page, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _check_summary_files(out: Path, methods: tuple[str, ...]) -> None:
    """summary.json / .txt / report.html agree with the per-series rows of fleet.csv."""
    csv = pd.read_csv(out / "fleet.csv")
    summary = json.loads((out / "summary.json").read_text())
    ok = csv[csv["status"] == "ok"]
    assert summary["n_series"] == len(csv)
    assert summary["n_ok"] == len(ok) and summary["n_failed"] == int((csv["status"] == "error").sum())
    assert [s for s, _ in summary["failed"]] == list(csv.loc[csv["status"] == "error", "series"])
    ref = summary["reference"]
    assert ref in methods
    by_method = {m["method"]: m for m in summary["methods"]}
    assert list(by_method) == list(methods)
    for m in methods:
        s = by_method[m]
        both = ok[ok[f"{m}.test_cost"].notna() & ok[f"{ref}.test_cost"].notna()]
        mc, rc = both[f"{m}.test_cost"].to_numpy(), both[f"{ref}.test_cost"].to_numpy()
        assert s["series"] == len(both) > 0
        assert s["total_test_cost"] == pytest.approx(mc.sum(), rel=1e-12)
        assert s["saved"] == pytest.approx(rc.sum() - mc.sum(), rel=1e-9, abs=1e-6)
        assert s["total_ratio"] == pytest.approx(mc.sum() / rc.sum(), rel=1e-12)
        assert (s["wins"], s["losses"]) == (int((mc < rc).sum()), int((mc > rc).sum()))
        assert s["ratio_quantiles"]["median"] == pytest.approx(np.median(both[f"{m}.relative"]))
        assert s["errors"] == int(ok[f"{m}.test_cost"].isna().sum())
    # the text and the HTML show the same figures
    text = (out / "summary.txt").read_text()
    page = _Cells()
    page.feed((out / "report.html").read_text())
    for m in methods:
        cells = summarize(read_table(out), list(methods)).get(m).cells()
        assert " ".join(cells) in " ".join(text.split())
        assert cells in page.rows
    assert (out / "fleet_ratios.png").read_bytes().startswith(b"\x89PNG")
    # the decision at the top names the method with the lowest total test cost over every series
    n = max(by_method[m]["series"] for m in methods)
    cheapest = min(by_method[m]["total_test_cost"] for m in methods if by_method[m]["series"] == n)
    html_text = (out / "report.html").read_text()
    rec = re.search(r"Recommended: ([\w-]+) — ", html_text)
    assert rec is not None and html_text.index("Decision") < html_text.index("<table>")
    assert by_method[rec.group(1)]["total_test_cost"] == pytest.approx(cheapest)


def test_crashed_worker_goes_to_log_not_stdout(config: dict, data_file: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A series lost with its worker is reported through ``log`` (the workflow prints nothing)
    and is not journaled, so a rerun retries it."""
    from replenish.workflows.fleet import run as fleet_run
    from replenish.workflows.fleet.task import crashed_row

    def dying(tasks, workers, address):
        for t in tasks:
            yield t, crashed_row(t, RuntimeError("worker died")), False

    monkeypatch.setitem(fleet_run.ENGINE_FUNCTIONS, "serial", dying)
    messages: list[str] = []
    run = run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path, methods=METHODS,
                    engine="serial", progress=False, limit=2, log=messages.append)
    assert run.crashed == 2 and run.ran == 0 and len(run.table) == 0
    assert messages == [f"warning: {s}: worker failed: RuntimeError: worker died (not recorded; "
                        "rerun to retry)" for s in ("store=2 product=109", "store=28 product=109")]
    assert read_journal(tmp_path) == ({}, False)
    run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path / "quiet", methods=METHODS,
              engine="serial", progress=False, limit=1)  # no log: the warning is dropped
    assert capsys.readouterr() == ("", "")


def test_rerun_with_other_setup_is_refused(config: dict, data_file: Path, tmp_path: Path) -> None:
    run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path, methods=("order-up-to",),
              engine="serial", progress=False, limit=1)
    with pytest.raises(SpecError, match="different fleet run"):
        run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path, methods=METHODS,
                  engine="serial", progress=False, limit=1)


def test_summary_by_hand() -> None:
    table = pd.DataFrame({
        "series": ["a", "b", "c", "d"], "status": ["ok", "ok", "ok", "error"],
        "error": [None, None, None, "bad data"],
        "sS.test_cost": [100.0, 200.0, 50.0, None],
        "dqn.test_cost": [90.0, 220.0, 50.0, None]})
    s = summarize(table, ["sS", "dqn"])
    assert s.reference == "sS" and s.n_ok == 3 and s.n_failed == 1
    d = s.get("dqn")
    assert (d.wins, d.losses, d.ties) == (1, 1, 1)
    assert d.saved == pytest.approx(350 - 360)
    assert d.total_ratio == pytest.approx(360 / 350)
    assert d.ratio_quantiles["median"] == pytest.approx(1.0)
    assert d.geomean_ratio == pytest.approx((0.9 * 1.1 * 1.0) ** (1 / 3))
    assert d.losing_series == (("b", pytest.approx(1.1)),)
    assert s.failed == (("d", "bad data"),)
    assert "dqn loses to sS on 1 series: b (1.100)" in s.text()


def test_fleet_local_engine_cli(config: dict, data_file: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """Two worker processes give the same table as the serial engine; the CLI prints JSON."""
    serial = run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path / "serial",
                       methods=("order-up-to",), engine="serial", progress=False, limit=3)
    cfg = tmp_path / "fleet.toml"
    text = (ROOT / "configs" / "bakery.toml").read_text()
    text = text.replace('file = "../src/replenish/data/bakery_sample.csv.gz"', f'file = "{SAMPLE}"')
    cfg.write_text(text)
    code = main(["fleet", str(cfg), "--data", str(data_file), "--group-by", "store,product",
                 "--methods", "order-up-to", "--engine", "local", "--workers", "2", "--limit", "3",
                 "--out", str(tmp_path / "local"), "--json"])
    assert code == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["ran"] == 3 and obj["engine"] == "local"
    local = read_table(tmp_path / "local")
    assert local["worker"].nunique() >= 1
    pd.testing.assert_frame_equal(_stable(local), _stable(serial.table))
    assert (tmp_path / "local" / "report.html").is_file()


def test_fleet_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fleet", str(ROOT / "configs" / "bike_shop.toml"), "--data", str(SAMPLE),
                 "--out", str(tmp_path)])
    assert code == 2
    assert "demand.kind" in capsys.readouterr().err
    code = main(["fleet", str(ROOT / "configs" / "bakery.toml"), "--group-by", "store,shelf",
                 "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--group-by = 'shelf'" in capsys.readouterr().err


@pytest.mark.slow
def test_fleet_ray_engine(config: dict, data_file: Path, tmp_path: Path) -> None:
    """Ray tasks on a local instance (loopback, no dashboard) give the serial engine's table."""
    pytest.importorskip("ray")
    serial = run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path / "serial",
                       methods=("order-up-to",), engine="serial", progress=False)
    ray_run = run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path / "ray",
                        methods=("order-up-to",), engine="ray", workers=2, progress=False)
    assert ray_run.ran == 4 and ray_run.failed == 1
    pd.testing.assert_frame_equal(_stable(ray_run.table), _stable(serial.table))
    import ray

    assert not ray.is_initialized()  # the instance it started was shut down


@pytest.mark.slow
def test_fleet_ray_joins_an_existing_cluster(config: dict, data_file: Path, tmp_path: Path) -> None:
    """``--address``: the run joins a running Ray head (started here on loopback) and
    leaves it running; the table equals the serial engine's."""
    pytest.importorskip("ray")
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    import time

    ray_cli = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # a loopback test cluster without token authentication (a real cluster: give the
    # driver its token, RAY_AUTH_MODE=token and RAY_AUTH_TOKEN, as Ray documents)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    # a short session folder: Ray's unix sockets live there (path limit ~107 bytes)
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                             f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                             f"--temp-dir={temp}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        import ray

        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # wait for the head's GCS to accept connections
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert head.poll() is None and time.monotonic() < deadline, "ray head did not start"
                time.sleep(0.5)
        serial = run_fleet(config, data_file, group_by=["store", "product"],
                           out=tmp_path / "serial", methods=("order-up-to",), engine="serial",
                           progress=False)
        joined = run_fleet(config, data_file, group_by=["store", "product"], out=tmp_path / "joined",
                           methods=("order-up-to",), engine="ray", address=address, progress=False)
        assert joined.ran == 4 and joined.failed == 1
        pd.testing.assert_frame_equal(_stable(joined.table), _stable(serial.table))
        assert not ray.is_initialized()  # the driver disconnected ...
        assert head.poll() is None  # ... and the cluster it joined is still running
    finally:  # the head and the processes it started share its session
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)
