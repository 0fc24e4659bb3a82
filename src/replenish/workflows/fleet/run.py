"""The fleet driver: :func:`run_fleet` (discover, skip what is done, run, journal, table, summary)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replenish.core.validate import require, require_count
from replenish.workflows.fleet.engines import ENGINE_FUNCTIONS, ENGINES
from replenish.workflows.fleet.journal import (
    JOURNAL,
    append_row,
    check_manifest,
    folder_lock,
    load_journal,
    results_frame,
    run_manifest,
    table_columns,
    write_table,
)
from replenish.workflows.fleet.report import write_summary
from replenish.workflows.fleet.series import (
    discover_series,
    key_string,
    series_seed,
    series_volumes,
    validate_fleet_config,
)
from replenish.workflows.fleet.summary import FleetSummary, summarize
from replenish.workflows.fleet.task import SeriesTask

#: Methods a fleet runs when none are given: the classic optimisers and the DP (no learners).
DEFAULT_FLEET_METHODS = ("sS", "order-up-to", "weekday-base-stock", "dp")


@dataclass(frozen=True)
class FleetRun:
    """The outcome of :func:`run_fleet`.

    Attributes:
        out: the results folder.
        table: the consolidated table (pandas DataFrame, one row per finished series).
        summary: the fleet summary.
        n_series: series in the data (after ``limit``).
        skipped: series already in the journal when the run started.
        ran: series run (and recorded) by this run.
        failed: series with ``status = "error"`` in the table.
        crashed: series whose worker died (not recorded; a rerun retries them).
        seconds: wall time of this run.
        engine: the engine used; ``workers``: its worker count.
    """

    out: Path
    table: Any = field(repr=False)
    summary: FleetSummary
    n_series: int
    skipped: int
    ran: int
    failed: int
    crashed: int
    seconds: float
    engine: str
    workers: int

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "n_series": self.n_series, "skipped": self.skipped,
                "ran": self.ran, "failed": self.failed, "crashed": self.crashed,
                "seconds": self.seconds, "engine": self.engine, "workers": self.workers,
                "summary": self.summary.to_json()}


def run_fleet(config: Mapping[str, Any], data: str | Path, *, group_by: Sequence[str],
              out: str | Path, methods: Sequence[str] = DEFAULT_FLEET_METHODS,
              engine: str = "local", workers: int = 2, address: str | None = None, seed: int = 0,
              progress: bool = True, retry_failed: bool = False, limit: int | None = None,
              table_every: float = 1.0, threads: int = 1, report: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None,
              log: Callable[[str], None] | None = None) -> FleetRun:
    """Run every series of ``data`` (see :mod:`replenish.workflows.fleet`); resumable.

    Args:
        config: the config's tables (parsed TOML), ``[demand] kind = "history"``.
        data: the sales file holding every series.
        group_by: columns identifying a series.
        out: results folder (journal, table, manifest, summary).
        methods: methods per series.
        engine: ``"serial"``, ``"local"`` or ``"ray"``.
        workers: processes (local) or CPUs of the local Ray instance.
        address: Ray cluster address (``engine = "ray"``); ``None`` starts a local instance.
        seed: run seed; series seeds follow from it (:func:`series_seed`).
        progress: a progress bar over series with ETA (stderr).
        retry_failed: rerun series recorded with ``status = "error"``.
        limit: only the first ``limit`` series (in key order).
        table_every: least seconds between two rewrites of the table (the
            journal is written after every series regardless).
        threads: threads per series (numba, BLAS, torch).
        report: write ``summary.json``/``.txt`` and ``report.html`` at the end.
        on_row: callback after each recorded row (tests use it to interrupt a run).
        log: receives a one-line warning for each series whose worker died (not
            recorded; a rerun retries it); ``None``: no warnings.  The workflow
            itself never prints (``replenish fleet`` passes a function printing to stderr).
    """
    from replenish.solvers.catalogue import METHODS

    t_start = time.perf_counter()
    require(engine in ENGINES, "--engine", engine, f"must be one of {', '.join(ENGINES)}")
    require_count(workers, "--workers")
    require_count(threads, "threads")
    methods = tuple(methods)
    require(len(methods) >= 1, "--methods", list(methods), "give at least one method")
    require(len(set(methods)) == len(methods), "--methods", list(methods), "a method is listed twice")
    for m in methods:
        require(m in METHODS, "--methods", m, f"unknown method; expected some of {', '.join(METHODS)}")
    group_by = tuple(group_by)
    config = validate_fleet_config(config)
    data = Path(data).resolve()
    require(data.is_file(), "--data", str(data), "no such file")
    out = Path(out)
    keep_filter = {k: v for k, v in dict(config["demand"].get("filter", {})).items() if k not in group_by}
    keys = discover_series(data, group_by, filter=keep_filter)
    require(len(keys) >= 1, "--data", str(data), "has no series")
    if limit is not None:
        require_count(limit, "--limit")
        keys = keys[:limit]
    columns = table_columns(group_by, methods)
    manifest = run_manifest(config, data, group_by, methods, seed)
    with folder_lock(out):
        check_manifest(out, manifest)
        journal = load_journal(out)
        from replenish.workflows.compare import origins_from

        rolling = origins_from(dict(config.get("compare", {})))
        plan = [SeriesTask(config=config, data=str(data), key=k, methods=methods,
                           seed=series_seed(seed, k), threads=threads,
                           origin=o, test_days=rolling[1] if rolling else 365)
                for k in keys for o in (rolling[0] if rolling else [None])]
        wanted = {t.series for t in plan}
        done = {s for s, r in journal.items()
                if s in wanted and (r.get("status") == "ok" or not retry_failed)}
        tasks = [t for t in plan if t.series not in done]
        if engine != "serial" and len(tasks) > 1:  # largest series first (a size hint only)
            volume = series_volumes(data, group_by, str(config["demand"].get("demand_column", "demand")))
            tasks.sort(key=lambda t: -volume.get(key_string(t.key), 0.0))
        bar = None
        if progress:
            from replenish.core.progress import progress_bar

            bar = progress_bar(total=len(plan), initial=len(done), unit="series", desc="fleet",
                               leave=True)
        ran = crashed = 0
        n_failed = sum(1 for s in wanted if journal.get(s, {}).get("status") == "error"
                       and s in done)
        last_write = -math.inf
        jfh = (out / JOURNAL).open("ab")
        try:
            with contextlib.closing(ENGINE_FUNCTIONS[engine](tasks, workers, address)) as results:
                for task, row, recorded in results:
                    if recorded:
                        append_row(jfh, row)
                        journal[row["series"]] = row
                        ran += 1
                        if time.perf_counter() - last_write >= table_every:
                            write_table(results_frame(_subset(journal, wanted), columns), out)
                            last_write = time.perf_counter()
                        if on_row is not None:
                            on_row(row)
                    else:
                        crashed += 1
                        if log is not None:
                            log(f"warning: {task.series}: {row['error']} (not recorded; rerun to retry)")
                    if bar is not None:
                        n_failed += row.get("status") == "error"
                        bar.update(1)
                        bar.set_postfix(failed=n_failed, refresh=False)
        finally:
            jfh.close()
            if bar is not None:
                bar.close()
            # the table always ends consistent with the journal (also after Ctrl-C)
            table = results_frame(_subset(journal, wanted), columns)
            write_table(table, out)
    summary = summarize(table, methods)
    if report:
        write_summary(summary, out, table=table)
    return FleetRun(out=out, table=table, summary=summary, n_series=len(plan), skipped=len(done),
                    ran=ran, failed=int((table["status"] == "error").sum()) if len(table) else 0,
                    crashed=crashed, seconds=time.perf_counter() - t_start, engine=engine,
                    workers=workers)


def _subset(journal: dict[str, dict[str, Any]], wanted: set[str]) -> dict[str, dict[str, Any]]:
    return {s: r for s, r in journal.items() if s in wanted}
