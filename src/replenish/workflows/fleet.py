"""``replenish fleet``: every store × product series of a sales file, in parallel and resumable.

A retailer has thousands of store × product series, each needing its own
policy.  ``replenish fleet CONFIG --data FILE --group-by store,product`` runs
the historical-data pipeline of :mod:`replenish.compare` on every series of
``FILE``: each method is tuned or trained on the series' training window only
(the demand model is the weekday-empirical fit of that window,
:mod:`replenish.history`) and every finished policy is replayed on the actual
demand of the held-out test window.

The config is an ordinary ``[demand] kind = "history"`` file (windows, column
names, ``[problem]`` costs, method tables such as ``[dqn]``); per series its
``file`` becomes ``--data`` and its ``filter`` becomes the series key
(``{store = 2, product = 109}``).  A ``[fleet]`` table may hold defaults for
the command's options (``data``, ``group_by``, ``methods``, ``engine``,
``workers``, ``address``, ``seed``); without ``--data`` and ``[fleet] data`` the
config's ``[demand] file`` is used, and without ``--group-by`` and ``[fleet]
group_by`` the columns of its ``[demand] filter``.

The per-series work is the pure function :func:`run_series` (a
:class:`SeriesTask` — config tables, data file, series key, seed — in, one flat
result row out).  It never raises: a series whose data is bad or whose
training fails gets ``status = "error"`` and the message in ``error``, and the
other series go on.  Engines (:data:`ENGINES`):

* ``serial`` — in this process, one series after the other (benchmarks);
* ``local`` (default) — a :class:`concurrent.futures.ProcessPoolExecutor` of
  ``workers`` processes (``spawn`` start method) on this machine;
* ``ray`` — Ray tasks (``pip install 'replenish[ray]'``, imported lazily).
  Without ``address`` a local Ray instance is started for the run (``workers``
  CPUs, bound to 127.0.0.1, dashboard off, usage statistics off) and shut down
  afterwards; with ``address`` (``"auto"`` or ``"HOST:PORT"``) the run joins an
  existing cluster, whose nodes need replenish installed and the data file at
  the same path.

Every series runs with one thread (numba, BLAS, torch), so ``workers``
processes use ``workers`` cores.  The parallel engines start the series with
the most units sold first (:func:`series_volumes`, a proxy of their size), so
the longest series do not end up last; at most ``4 × workers`` series are
queued at a time.

Seeds.  Series ``k`` gets the seed :func:`series_seed` ``(seed, k)`` (from a
:class:`numpy.random.SeedSequence` of the run seed and a CRC-32 of the key), so
its result does not depend on the engine, the number of workers, the order in
which series finish, or on how often the run was interrupted.

Output folder (``--out``) — streaming, atomic, resumable:

* ``fleet.jsonl`` — the journal and the source of truth: one JSON line per
  finished series (ok or error), appended, flushed and ``fsync``-ed by the
  driver as soon as the series finishes.  A run killed in the middle of a write
  leaves at most one torn last line, which the next run drops (that series is
  simply run again), so nothing finished is lost and nothing is duplicated.
* ``fleet.parquet`` and ``fleet.csv`` — the consolidated table (one row per
  finished series, sorted by key, columns :func:`table_columns`), rebuilt from
  the journal and rewritten atomically (temp file + :func:`os.replace`) after
  each finished series (at most every ``table_every`` seconds when series
  finish faster, and always at the end), so a reader never sees a half-written
  table.
* ``fleet-run.json`` — the run's fingerprint (config tables, SHA-256 of the data
  file, group-by columns, methods, seed).  Rerunning into the same folder
  skips every series already in the journal (``--retry-failed`` reruns those
  with ``status = "error"``); a rerun with a different fingerprint is refused,
  so one table never mixes two setups.  A lock file (``.fleet.lock``) refuses a
  second concurrent run on the same folder.
* ``summary.json``, ``summary.txt`` and ``report.html`` (+ ``fleet_ratios.png``)
  — the fleet summary (:func:`summarize`): per method the distribution of its
  test cost relative to static (s, S), the series where it loses, the total
  cost saved.

Columns of the table: ``series`` (the key, e.g. ``"store=2 product=109"``), the
group-by columns, ``status``, ``error``, ``seed``, ``reference`` (the method
costs are relative to: ``sS``, else ``order-up-to``), ``pack`` (order multiple
``m``), ``bound`` (position bound ``B``), ``n_rounded``, ``train_days``,
``test_days``, ``seconds``, ``worker``, and per method ``M``: ``M.test_cost``
($ over the test window), ``M.test_cost_per_day``, ``M.relative`` (test cost /
the reference's), ``M.train_cost_per_day``, ``M.model_cost`` (long-run $/day
under the fitted model), ``M.fill_rate``, ``M.stockout_days``, ``M.policy``,
``M.params`` (JSON), ``M.seconds``, ``M.error``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import socket
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.io import atomic_write, json_default
from replenish.core.validate import SpecError, require
from replenish.workflows.config import read_toml

#: Engines of :func:`run_fleet`.
ENGINES = ("serial", "local", "ray")
#: Methods a fleet runs when none are given: the classic optimisers and the DP (no learners).
DEFAULT_FLEET_METHODS = ("sS", "order-up-to", "weekday-base-stock", "dp")
#: The methods relative costs refer to, in order of preference (static (s, S) first).
REFERENCES = ("sS", "order-up-to")
#: Learning methods (the summary lists the series where they lose).
LEARNERS = ("qlearning", "dqn")
#: Keys of the ``[fleet]`` table.
FLEET_KEYS: dict[str, type | tuple[type, ...]] = {
    "data": str, "group_by": list, "methods": list, "engine": str, "workers": int, "address": str,
    "seed": int}
JOURNAL = "fleet.jsonl"
TABLE_PARQUET = "fleet.parquet"
TABLE_CSV = "fleet.csv"
MANIFEST = "fleet-run.json"
LOCK = ".fleet.lock"
#: Per-method columns of the table (``f"{method}.{name}"``).
METHOD_FIELDS = ("test_cost", "test_cost_per_day", "relative", "train_cost_per_day", "model_cost",
                 "fill_rate", "stockout_days", "policy", "params", "seconds", "error")
#: Series-level columns after ``series`` and the group-by columns.
SERIES_FIELDS = ("status", "error", "seed", "reference", "pack", "bound", "n_rounded", "train_days",
                 "test_days", "seconds", "worker")
#: Columns that depend on the machine and the load, not on the data (left out of equality checks).
VOLATILE_FIELDS = ("seconds", "worker")


# ----------------------------------------------------------------------------
# series
# ----------------------------------------------------------------------------
def key_string(key: Sequence[tuple[str, Any]]) -> str:
    """The series label ``"store=2 product=109"`` (the ``series`` column)."""
    return " ".join(f"{c}={v}" for c, v in key)


def series_seed(seed: int, key: Sequence[tuple[str, Any]] | str) -> int:
    """The seed of one series: a function of the run seed and the key only (32-bit)."""
    label = key if isinstance(key, str) else key_string(key)
    ss = np.random.SeedSequence([int(seed), zlib.crc32(label.encode("utf-8"))])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _native(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def discover_series(path: str | Path, group_by: Sequence[str], *,
                    filter: Mapping[str, Any] | None = None) -> list[tuple[tuple[str, Any], ...]]:
    """The distinct series keys of a sales file, sorted.

    Args:
        path: CSV (plain or compressed) or Parquet file (:func:`replenish.history.read_table`).
        group_by: columns whose value combinations identify a series.
        filter: extra ``{column: value}`` conditions (columns not in ``group_by``).

    Returns:
        One key per series, each a tuple of ``(column, value)`` pairs in
        ``group_by`` order, values as Python ``int``/``float``/``str``.
    """
    from replenish.workflows.history import read_table

    require(len(group_by) >= 1, "--group-by", list(group_by), "give at least one column")
    require(len(set(group_by)) == len(group_by), "--group-by", list(group_by), "a column is listed twice")
    filter = dict(filter or {})
    df = read_table(path, columns=list(dict.fromkeys([*group_by, *filter])))
    for col in [*group_by, *filter]:
        if col not in df.columns:
            raise SpecError("--group-by" if col in group_by else f"demand.filter.{col}", col,
                            f"no such column in {Path(path).name} "
                            f"(columns: {', '.join(map(str, df.columns))})")
    for col, value in filter.items():
        df = df[df[col] == value]
    keys = df[list(group_by)].dropna().drop_duplicates()
    keys = keys.sort_values(list(group_by), kind="stable")
    return [tuple((c, _native(v)) for c, v in zip(group_by, row, strict=True))
            for row in keys.itertuples(index=False, name=None)]


def series_volumes(path: str | Path, group_by: Sequence[str], column: str) -> dict[str, float]:
    """Total of ``column`` (units sold) per series label; ``{}`` if it cannot be read.

    A size hint only: big series get large position bounds and run longest, so
    the engines start them first (longest-processing-time-first scheduling
    keeps the last worker from finishing long after the others).
    """
    from replenish.workflows.history import read_table as _read

    try:
        df = _read(path, columns=[*group_by, column])
        sums = df.groupby(list(group_by))[column].sum()
    except Exception:
        return {}
    return {key_string(tuple(zip(group_by, (k if isinstance(k, tuple) else (k,)), strict=True))):
            float(v) for k, v in sums.items()}


# ----------------------------------------------------------------------------
# the per-series task
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesTask:
    """Everything one series needs; picklable, so it travels to any worker.

    Attributes:
        config: the config's tables as parsed TOML (``name``, ``[problem]``,
            ``[demand]`` with ``kind = "history"``, method tables).
        data: absolute path of the sales file.
        key: the series, ``(("store", 2), ("product", 109))``.
        methods: method names (see :data:`replenish.solvers.catalogue.METHODS`).
        seed: the seed every method of this series receives (:func:`series_seed`).
        threads: threads for numba/BLAS/torch while the series runs.
    """

    config: dict[str, Any]
    data: str
    key: tuple[tuple[str, Any], ...]
    methods: tuple[str, ...]
    seed: int
    threads: int = 1

    @property
    def series(self) -> str:
        return key_string(self.key)

    def config_dict(self) -> dict[str, Any]:
        """The series' config: ``[demand] file`` = the data file, ``filter`` = the key."""
        data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.config.items()
                if k != "fleet"}
        demand = dict(data.get("demand", {}))
        keep = {k: v for k, v in dict(demand.get("filter", {})).items()
                if k not in {c for c, _ in self.key}}
        demand["file"] = self.data
        demand["filter"] = {**keep, **dict(self.key)}
        data["demand"] = demand
        base = str(data.get("name") or "").strip()
        data["name"] = f"{base} {self.series}".strip() if base else self.series
        return data


def table_columns(group_by: Sequence[str], methods: Sequence[str]) -> list[str]:
    """Column order of the fleet table."""
    return ["series", *group_by, *SERIES_FIELDS,
            *(f"{m}.{f}" for m in methods for f in METHOD_FIELDS)]


def _empty_row(task: SeriesTask) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(table_columns([c for c, _ in task.key], task.methods))
    row.update({"series": task.series, **dict(task.key), "status": "error", "seed": task.seed,
                "worker": f"{socket.gethostname()}:{os.getpid()}"})
    return row


@contextlib.contextmanager
def _thread_limit(n: int) -> Iterator[None]:
    """Limit numba, BLAS/OpenMP and torch to ``n`` threads while the block runs."""
    import numba
    from threadpoolctl import threadpool_limits

    old_nb = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    torch = sys.modules.get("torch")
    old_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        numba.set_num_threads(old_nb)
        if torch is not None and old_torch is not None:
            torch.set_num_threads(old_torch)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SpecError):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def run_series(task: SeriesTask) -> dict[str, Any]:
    """Fit, tune/train and replay every method on one series; a flat result row.

    Runs :func:`replenish.compare.compare` on the problem fitted on the series'
    training window and replays each policy on its test window.  Never raises
    for a bad series: load errors and training errors give ``status = "error"``
    and the message in ``error``; a method that refuses the series (e.g. a
    Q-table too large) sets ``M.error`` and the others still count.  Pure: the
    row depends on the task only (up to ``seconds`` and ``worker``).
    """
    from replenish.workflows.compare import compare
    from replenish.workflows.config import config_from_dict

    t0 = time.perf_counter()
    row = _empty_row(task)
    try:
        with _thread_limit(task.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rounding of fractional sales: n_rounded
            cfg = config_from_dict(task.config_dict())
            require(cfg.history is not None, "demand.kind", cfg.problem.demand.kind,
                    "a fleet needs [demand] kind = \"history\"")
            p, h = cfg.problem, cfg.history
            row.update({"pack": p.order_multiple, "bound": p.bound, "n_rounded": h.n_rounded,
                        "train_days": len(h.train), "test_days": len(h.test)})
            options = {m: cfg.section(m) for m in task.methods}
            comp = compare(p, h, list(task.methods), options=options, seed=task.seed,
                           with_optimum=False)
        ref_total = comp.reference_total
        row["reference"] = comp.reference
        for r in comp.results:
            m = r.method
            if r.error is not None or r.solve is None or r.test is None or r.train is None:
                row[f"{m}.error"] = r.error
                continue
            row.update({
                f"{m}.test_cost": r.test.total_cost,
                f"{m}.test_cost_per_day": r.test.average_cost,
                f"{m}.relative": (r.test.total_cost / ref_total if ref_total and ref_total > 0
                                  else None),
                f"{m}.train_cost_per_day": r.train.average_cost,
                f"{m}.model_cost": r.solve.average_cost,
                f"{m}.fill_rate": r.test.fill_rate,
                f"{m}.stockout_days": r.test.stockout_days,
                f"{m}.policy": r.solve.policy.describe(),
                f"{m}.params": json.dumps(_small_params(r.solve.params), default=json_default,
                                          sort_keys=True),
                f"{m}.seconds": r.solve.seconds,
            })
        failed = [r for r in comp.results if r.error is not None]
        if len(failed) == len(comp.results):
            row["error"] = "; ".join(f"{r.method}: {r.error}" for r in failed)
        else:
            row["status"] = "ok"
    except Exception as exc:  # a bad series must not stop the fleet: record it
        row["status"] = "error"
        row["error"] = _error_text(exc)
    row["seconds"] = time.perf_counter() - t0
    return row


def _small_params(params: dict[str, Any]) -> dict[str, Any]:
    """Scalar parameters only (tables of states/orders stay in policy files)."""
    out = {}
    for k, v in params.items():
        v = _native(v)
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and len(v) <= 16 and all(
                isinstance(_native(x), (int, float, str, bool)) for x in v):
            out[k] = [_native(x) for x in v]
    return out


def _crashed_row(task: SeriesTask, exc: BaseException) -> dict[str, Any]:
    row = _empty_row(task)
    row["error"] = f"worker failed: {_error_text(exc)}"
    return row


# ----------------------------------------------------------------------------
# engines: each yields (task, row, recorded) as series finish
# ----------------------------------------------------------------------------
EngineIter = Iterator[tuple[SeriesTask, dict[str, Any], bool]]


def _engine_serial(tasks: Sequence[SeriesTask], workers: int, address: str | None) -> EngineIter:
    for t in tasks:
        yield t, run_series(t), True


def _refill(pending: dict[Any, SeriesTask], todo: Iterator[SeriesTask], window: int,
            submit: Callable[[SeriesTask], Any]) -> None:
    """Submit tasks from ``todo`` until ``window`` are pending (a huge fleet is not
    submitted at once)."""
    while len(pending) < window:
        t = next(todo, None)
        if t is None:
            return
        pending[submit(t)] = t


def _engine_local(tasks: Sequence[SeriesTask], workers: int, address: str | None) -> EngineIter:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    pending: dict[Any, SeriesTask] = {}
    todo = iter(tasks)
    window = 4 * workers
    try:
        while True:
            _refill(pending, todo, window, lambda t: ex.submit(run_series, t))
            if not pending:
                break
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for f in done:
                t = pending.pop(f)
                try:
                    yield t, f.result(), True
                except Exception as exc:  # the worker died (BrokenProcessPool, ...): not recorded
                    yield t, _crashed_row(t, exc), False
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _engine_ray(tasks: Sequence[SeriesTask], workers: int, address: str | None) -> EngineIter:
    try:
        import ray
    except ImportError:
        raise SpecError("--engine", "ray", "Ray is not installed (pip install 'replenish[ray]')") from None
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports leave the machine
        if address:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        else:
            # a series killed by Ray's memory monitor is retried once, not forever (Ray's default)
            ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False, configure_logging=False,
                     object_store_memory=256 * 1024 * 1024, _system_config={"task_oom_retries": 1})
        started = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", workers)) if address else workers
        remote = ray.remote(num_cpus=1, max_retries=1)(run_series)
        oom = getattr(ray.exceptions, "OutOfMemoryError", ())
        pending: dict[Any, SeriesTask] = {}
        todo = iter(tasks)
        window = 4 * max(cpus, 1)
        try:
            while True:
                _refill(pending, todo, window, remote.remote)
                if not pending:
                    break
                # a timeout keeps the driver responsive to Ctrl-C
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    t = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except oom:  # the series itself needs more memory than the node has: recorded
                        row = _empty_row(t)
                        row["error"] = "out of memory: Ray's memory monitor killed the worker (twice)"
                        yield t, row, True
                    except Exception as exc:  # the worker or node died: not recorded
                        yield t, _crashed_row(t, exc), False
                    else:
                        yield t, row, True
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


_ENGINES: dict[str, Callable[[Sequence[SeriesTask], int, str | None], EngineIter]] = {
    "serial": _engine_serial, "local": _engine_local, "ray": _engine_ray}


# ----------------------------------------------------------------------------
# the results folder: journal, table, manifest, lock
# ----------------------------------------------------------------------------
def read_journal(out: str | Path) -> tuple[dict[str, dict[str, Any]], bool]:
    """Rows of ``fleet.jsonl`` by series (last wins), and whether it needs rewriting.

    A torn last line (a run killed while writing) and duplicate keys are
    dropped; the flag is then ``True``.
    """
    path = Path(out) / JOURNAL
    rows: dict[str, dict[str, Any]] = {}
    dirty = False
    if not path.is_file():
        return rows, False
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        dirty = True
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            dirty = True
            continue
        if not isinstance(row, dict) or "series" not in row:
            dirty = True
            continue
        if row["series"] in rows:
            dirty = True
        rows[row["series"]] = row
    return rows, dirty


def _atomic_bytes(path: Path, data: bytes) -> Path:

    return atomic_write(path, data)


def _journal_line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, default=json_default, allow_nan=True) + "\n").encode("utf-8")


def results_frame(rows: Mapping[str, dict[str, Any]] | Sequence[dict[str, Any]],
                  columns: Sequence[str]) -> Any:
    """The fleet table as a pandas DataFrame (sorted by the group-by values, then ``series``)."""
    import pandas as pd

    rows = list(rows.values()) if isinstance(rows, Mapping) else list(rows)
    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=list(columns))
    sort = [c for c in columns[1: columns.index("status")] if c in df.columns] + ["series"]
    if len(df):
        df = df.sort_values(sort, kind="stable").reset_index(drop=True)
    return df


def write_table(df: Any, out: str | Path) -> tuple[Path, Path]:
    """Write ``fleet.parquet`` and ``fleet.csv`` atomically (temp file + rename)."""
    out = Path(out)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    pq = _atomic_bytes(out / TABLE_PARQUET, buf.getvalue())
    csv = _atomic_bytes(out / TABLE_CSV, df.to_csv(index=False).encode("utf-8"))
    return pq, csv


def read_table(out: str | Path) -> Any:
    """The consolidated table ``OUT/fleet.parquet`` as a DataFrame."""
    import pandas as pd

    path = Path(out) / TABLE_PARQUET
    require(path.is_file(), "--out", str(out), f"has no {TABLE_PARQUET}")
    return pd.read_parquet(path)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _folder_lock(out: Path) -> Iterator[None]:
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    fh = (out / LOCK).open("a")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SpecError("--out", str(out), "another fleet run is writing to this folder") from None
        yield
    finally:
        fh.close()


# ----------------------------------------------------------------------------
# the driver
# ----------------------------------------------------------------------------
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
              on_row: Callable[[dict[str, Any]], None] | None = None) -> FleetRun:
    """Run every series of ``data`` (see the module docstring); resumable.

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
    """
    from replenish.solvers.catalogue import METHODS

    t_start = time.perf_counter()
    require(engine in ENGINES, "--engine", engine, f"must be one of {', '.join(ENGINES)}")
    require(isinstance(workers, int) and workers >= 1, "--workers", workers, "must be an integer >= 1")
    require(isinstance(threads, int) and threads >= 1, "threads", threads, "must be an integer >= 1")
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
        require(isinstance(limit, int) and limit >= 1, "--limit", limit, "must be an integer >= 1")
        keys = keys[:limit]
    columns = table_columns(group_by, methods)
    manifest = {"format": "replenish.fleet/1", "config": config, "data": str(data),
                "data_sha256": _file_digest(data), "group_by": list(group_by),
                "methods": list(methods), "seed": int(seed)}
    with _folder_lock(out):
        mpath = out / MANIFEST
        if mpath.is_file():
            old = json.loads(mpath.read_text())
            diff = [k for k in ("config", "data_sha256", "group_by", "methods", "seed")
                    if json.dumps(old.get(k), sort_keys=True, default=str)
                    != json.dumps(manifest[k], sort_keys=True, default=str)]
            if diff:
                raise SpecError("--out", str(out), f"holds results of a different fleet run "
                                f"({', '.join(diff)} differ); use another folder")
        else:
            _atomic_bytes(mpath, json.dumps(manifest, indent=1, default=str).encode("utf-8"))
        journal, dirty = read_journal(out)
        if dirty:  # drop a torn last line / duplicates before appending
            _atomic_bytes(out / JOURNAL, b"".join(_journal_line(r) for r in journal.values()))
        wanted = {key_string(k) for k in keys}
        done = {s for s, r in journal.items()
                if s in wanted and (r.get("status") == "ok" or not retry_failed)}
        tasks = [SeriesTask(config=config, data=str(data), key=k, methods=methods,
                            seed=series_seed(seed, k), threads=threads)
                 for k in keys if key_string(k) not in done]
        if engine != "serial" and len(tasks) > 1:  # largest series first (a size hint only)
            volume = series_volumes(data, group_by, str(config["demand"].get("demand_column", "demand")))
            tasks.sort(key=lambda t: -volume.get(t.series, 0.0))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(keys), initial=len(done), unit="series", desc="fleet",
                       dynamic_ncols=True, file=sys.stderr)
        ran = crashed = 0
        n_failed = sum(1 for s in wanted if journal.get(s, {}).get("status") == "error"
                       and s in done)
        last_write = -math.inf
        jfh = (out / JOURNAL).open("ab")
        try:
            with contextlib.closing(_ENGINES[engine](tasks, workers, address)) as results:
                for task, row, recorded in results:
                    if recorded:
                        jfh.write(_journal_line(row))
                        jfh.flush()
                        os.fsync(jfh.fileno())
                        journal[row["series"]] = row
                        ran += 1
                        if time.perf_counter() - last_write >= table_every:
                            write_table(results_frame(_subset(journal, wanted), columns), out)
                            last_write = time.perf_counter()
                        if on_row is not None:
                            on_row(row)
                    else:
                        crashed += 1
                        print(f"warning: {task.series}: {row['error']} (not recorded; rerun to retry)",
                              file=sys.stderr)
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
    return FleetRun(out=out, table=table, summary=summary, n_series=len(keys), skipped=len(done),
                    ran=ran, failed=int((table["status"] == "error").sum()) if len(table) else 0,
                    crashed=crashed, seconds=time.perf_counter() - t_start, engine=engine,
                    workers=workers)


def _subset(journal: dict[str, dict[str, Any]], wanted: set[str]) -> dict[str, dict[str, Any]]:
    return {s: r for s, r in journal.items() if s in wanted}


# ----------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------
def validate_fleet_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Check the tables every series shares; returns a plain dict copy.

    ``[demand]`` must be ``kind = "history"`` with ``train`` and ``test``
    windows; ``[problem]`` is validated with a stand-in demand; ``[fleet]``
    keys are checked.  Series-specific problems (bad data) are left to the
    series, where they are recorded instead of stopping the fleet.
    """
    from replenish.core.validate import check_keys
    from replenish.model.spec import Problem
    from replenish.workflows.config import SECTIONS
    from replenish.workflows.history import HISTORY_KEYS, _window_arg

    data = json.loads(json.dumps(dict(config), default=str))  # plain, picklable, dates as ISO text
    for key, value in data.items():
        if key not in {"name", "problem", "demand"} | SECTIONS:
            raise SpecError(key, value if not isinstance(value, dict) else "{...}",
                            "unknown top-level key or table")
    demand = data.get("demand")
    require(isinstance(demand, dict) and demand.get("kind") == "history", "demand.kind",
            None if not isinstance(demand, dict) else demand.get("kind"),
            "a fleet needs [demand] kind = \"history\" (train and test windows, column names)")
    for key in demand:
        require(key in HISTORY_KEYS, f"demand.{key}", demand[key],
                f"unknown key for kind = 'history' (expected {', '.join(HISTORY_KEYS[1:])})")
    for key in ("train", "test"):
        require(key in demand, f"demand.{key}", None, "required for kind = 'history'")
        _window_arg(demand[key], f"demand.{key}")
    prob = data.get("problem", {})
    require(isinstance(prob, dict), "problem", prob, "must be a table")
    Problem.from_dict({"name": "check", "problem": {"order_multiple": 1, **prob},
                       "demand": {"kind": "poisson", "mean": 1.0}})
    check_keys(data.get("fleet", {}), FLEET_KEYS, "fleet")
    return data


def load_fleet_config(path: str | Path) -> dict[str, Any]:
    """Read a config file's tables (relative ``[demand] file`` / ``[fleet] data`` resolved)."""
    path = Path(path)
    data = read_toml(path)
    for table, key in (("demand", "file"), ("fleet", "data")):
        t = data.get(table)
        if isinstance(t, dict) and isinstance(t.get(key), str) and not Path(t[key]).is_absolute():
            t[key] = str((path.parent / t[key]).resolve())
    return data


# ----------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MethodSummary:
    """One method over the fleet, relative to the reference (static (s, S)).

    Attributes:
        method: method name.
        series: series where both the method and the reference ran.
        ratio_quantiles: quantiles ``{"min", "p10", "p25", "median", "p75",
            "p90", "max"}`` of test cost / reference test cost.
        geomean_ratio: geometric mean of the per-series ratios.
        total_ratio: Σ test cost / Σ reference test cost.
        wins, losses, ties: series where the method is cheaper / dearer /
            equal (±1e-9 relative) on the test window.
        total_test_cost: Σ test cost ($) over those series.
        saved: Σ (reference − method) test cost ($); positive = the method saves.
        losing_series: ``(series, ratio)`` where the method loses, worst first.
        errors: series where the method did not run.
    """

    method: str
    series: int
    ratio_quantiles: dict[str, float]
    geomean_ratio: float | None
    total_ratio: float | None
    wins: int
    losses: int
    ties: int
    total_test_cost: float
    saved: float
    losing_series: tuple[tuple[str, float], ...]
    errors: int

    def cells(self) -> list[str]:
        """Formatted summary cells: method, series, p10, median, p90, geomean,
        total ratio, wins, losses, saved $ (shared by the text and HTML tables)."""
        q = self.ratio_quantiles

        def f(x: float | None) -> str:
            return "—" if x is None else f"{x:.3f}"

        return [self.method, str(self.series), f(q.get("p10")), f(q.get("median")), f(q.get("p90")),
                f(self.geomean_ratio), f(self.total_ratio), str(self.wins), str(self.losses),
                f"{self.saved:,.0f}"]

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "series": self.series, "ratio_quantiles": self.ratio_quantiles,
                "geomean_ratio": self.geomean_ratio, "total_ratio": self.total_ratio,
                "wins": self.wins, "losses": self.losses, "ties": self.ties,
                "total_test_cost": self.total_test_cost, "saved": self.saved,
                "losing_series": [list(x) for x in self.losing_series], "errors": self.errors}


@dataclass(frozen=True)
class FleetSummary:
    """The fleet at a glance (:func:`summarize`).

    Attributes:
        reference: the method costs are relative to (``sS``, else ``order-up-to``).
        n_series: rows in the table; ``n_ok`` / ``n_failed``: by status.
        methods: one :class:`MethodSummary` per method (the reference included, ratio 1).
        best_per_series_saved: Σ (reference − cheapest method on the test window), $.
        failed: ``(series, error)`` of the failed series.
    """

    reference: str | None
    n_series: int
    n_ok: int
    n_failed: int
    methods: tuple[MethodSummary, ...]
    failed: tuple[tuple[str, str], ...]

    def get(self, method: str) -> MethodSummary:
        for m in self.methods:
            if m.method == method:
                return m
        raise KeyError(method)

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "n_series": self.n_series, "n_ok": self.n_ok,
                "n_failed": self.n_failed, "methods": [m.to_json() for m in self.methods],
                "failed": [list(x) for x in self.failed]}

    def text(self, *, max_losing: int = 8) -> str:
        lines = [f"fleet: {self.n_series} series, {self.n_ok} ok, {self.n_failed} failed; "
                 f"test cost relative to {self.reference or '(no reference)'}"]
        head = (f"{'method':<20} {'series':>6} {'p10':>6} {'median':>7} {'p90':>6} {'geomean':>8} "
                f"{'total':>6} {'wins':>5} {'losses':>6} {'saved $':>12}")
        lines += [head, "-" * len(head)]
        for m in self.methods:
            c = m.cells()
            lines.append(f"{c[0]:<20} {c[1]:>6} {c[2]:>6} {c[3]:>7} {c[4]:>6} {c[5]:>8} {c[6]:>6} "
                         f"{c[7]:>5} {c[8]:>6} {c[9]:>12}")
        for m in self.methods:
            if m.method == self.reference or not m.losing_series:
                continue
            if m.method in LEARNERS or len(self.methods) <= 6:
                worst = ", ".join(f"{s} ({r:.3f})" for s, r in m.losing_series[:max_losing])
                more = f" and {len(m.losing_series) - max_losing} more" \
                    if len(m.losing_series) > max_losing else ""
                lines.append(f"{m.method} loses to {self.reference} on {m.losses} series: {worst}{more}")
        for s, e in self.failed[:max_losing]:
            lines.append(f"failed: {s}: {e}")
        if len(self.failed) > max_losing:
            lines.append(f"... and {len(self.failed) - max_losing} more failed series")
        return "\n".join(lines)


def summarize(table: Any, methods: Sequence[str]) -> FleetSummary:
    """Per-method distribution of test cost relative to static (s, S) over the series.

    Args:
        table: the fleet table (:func:`read_table` or :attr:`FleetRun.table`).
        methods: the methods to summarise.
    """
    n = len(table)
    ok = table[table["status"] == "ok"] if n else table
    failed = table[table["status"] != "ok"] if n else table
    reference = next((r for r in REFERENCES if r in methods and f"{r}.test_cost" in table.columns
                      and len(ok) and ok[f"{r}.test_cost"].notna().any()), None)
    out = []
    for m in methods:
        col = f"{m}.test_cost"
        if reference is None or col not in table.columns:
            out.append(MethodSummary(m, 0, {}, None, None, 0, 0, 0, 0.0, 0.0, (), len(ok)))
            continue
        both = ok[ok[col].notna() & ok[f"{reference}.test_cost"].notna()]
        mc = both[col].to_numpy(dtype=float)
        rc = both[f"{reference}.test_cost"].to_numpy(dtype=float)
        pos = rc > 0
        ratios = mc[pos] / rc[pos]
        quant = {}
        if ratios.size:
            for name, q in (("min", 0), ("p10", 10), ("p25", 25), ("median", 50), ("p75", 75),
                            ("p90", 90), ("max", 100)):
                quant[name] = float(np.percentile(ratios, q))
        geo = float(np.exp(np.mean(np.log(ratios)))) if ratios.size and np.all(ratios > 0) else None
        tot = float(mc.sum() / rc.sum()) if rc.sum() > 0 else None
        rel = (mc - rc) / np.maximum(np.abs(rc), 1e-12)
        lose_idx = np.flatnonzero(rel > 1e-9)
        losing = sorted(((str(both["series"].iloc[i]), float(mc[i] / rc[i]) if rc[i] > 0 else math.inf)
                         for i in lose_idx), key=lambda x: -x[1])
        out.append(MethodSummary(
            method=m, series=len(both), ratio_quantiles=quant, geomean_ratio=geo, total_ratio=tot,
            wins=int((rel < -1e-9).sum()), losses=int(lose_idx.size),
            ties=int((np.abs(rel) <= 1e-9).sum()), total_test_cost=float(mc.sum()),
            saved=float(rc.sum() - mc.sum()), losing_series=tuple(losing),
            errors=int(ok[col].isna().sum())))
    fails = tuple((str(r["series"]), str(r["error"])) for _, r in failed.iterrows())
    return FleetSummary(reference=reference, n_series=n, n_ok=len(ok), n_failed=len(failed),
                        methods=tuple(out), failed=fails)


def write_summary(summary: FleetSummary, out: str | Path, *, table: Any = None) -> list[Path]:
    """``summary.json``, ``summary.txt`` and (with ``table``) ``report.html`` + ``fleet_ratios.png``."""
    out = Path(out)
    written = [_atomic_bytes(out / "summary.json", json.dumps(summary.to_json(), indent=1,
                                                               default=json_default).encode()),
               _atomic_bytes(out / "summary.txt", (summary.text() + "\n").encode())]
    if table is not None:
        written += _html_report(summary, table, out)
    return written


def _html_report(summary: FleetSummary, table: Any, out: Path) -> list[Path]:
    import html

    written: list[Path] = []
    img = ""
    ref = summary.reference
    data = []
    if ref is not None and len(table):
        ok = table[table["status"] == "ok"]
        for m in summary.methods:
            if m.method == ref or f"{m.method}.test_cost" not in ok.columns:
                continue
            both = ok[ok[f"{m.method}.test_cost"].notna() & (ok[f"{ref}.test_cost"] > 0)]
            if len(both):
                data.append((m.method, (both[f"{m.method}.test_cost"] / both[f"{ref}.test_cost"]).to_numpy()))
    if data:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:  # pragma: no cover
            plt = None
        if plt is not None:
            fig, ax = plt.subplots(figsize=(8, 0.6 * len(data) + 1.6))
            ax.boxplot([d for _, d in data], orientation="horizontal", showfliers=True)
            ax.set_yticks(range(1, len(data) + 1), [m for m, _ in data])
            ax.axvline(1.0, color="0.4", lw=1, ls="--")
            ax.set_xlabel(f"test cost / {ref} test cost (per series; < 1 = cheaper)")
            ax.set_title(f"{summary.n_ok} series", fontsize=10, loc="left")
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90)
            plt.close(fig)
            written.append(_atomic_bytes(out / "fleet_ratios.png", buf.getvalue()))
            img = '<img src="fleet_ratios.png" alt="distribution of relative test costs">'
    esc = html.escape
    rows = []
    for m in summary.methods:
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in m.cells()) + "</tr>")
    losing = []
    for m in summary.methods:
        if m.method != ref and m.losing_series:
            items = "".join(f"<li>{esc(s)}: {r:.3f}</li>" for s, r in m.losing_series[:30])
            losing.append(f"<h3>{esc(m.method)} loses to {esc(str(ref))} on {m.losses} series</h3>"
                          f"<ul>{items}</ul>")
    fails = "".join(f"<li>{esc(s)}: {esc(e)}</li>" for s, e in summary.failed)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>replenish fleet</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}</style>
</head><body><h1>Fleet: {summary.n_series} series</h1>
<p>{summary.n_ok} ok, {summary.n_failed} failed. Every method is tuned or trained on each series'
training window and replayed on its held-out test window; costs are relative to the best static
policy <b>{esc(str(ref))}</b> of the same series (ratio &lt; 1: cheaper). <i>saved</i> is
Σ (reference − method) test cost in $.</p>
<table><tr><th>method</th><th>series</th><th>p10</th><th>median</th><th>p90</th><th>geomean</th>
<th>total</th><th>wins</th><th>losses</th><th>saved $</th></tr>{''.join(rows)}</table>
{img}{''.join(losing)}{'<h2>Failed series</h2><ul>' + fails + '</ul>' if fails else ''}
<p>Full table: <a href="{TABLE_CSV}">{TABLE_CSV}</a> / {TABLE_PARQUET}.</p></body></html>
"""
    written.append(_atomic_bytes(out / "report.html", page.encode("utf-8")))
    return written
