"""The per-series work: :class:`SeriesTask` in, one flat result row out (:func:`run_series`).

:func:`run_series` is pure and never raises for a bad series: it runs
:func:`~replenish.workflows.compare.compare` on the problem fitted on the
series' training window, replays every policy on its test window and returns
the row of the fleet table (``status = "error"`` and the message in
``error`` when the series cannot be run).  It runs in whichever process an
engine chooses (:mod:`replenish.workflows.fleet.engines`), with the thread
limit of the task (:func:`thread_limit`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from replenish.core.io import json_default
from replenish.core.validate import SpecError, require
from replenish.workflows.fleet.journal import table_columns
from replenish.workflows.fleet.series import key_string, native


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
    origin: str | None = None
    test_days: int = 365

    @property
    def series(self) -> str:
        """The row's key: the series, and ``@origin`` for a rolling-origin fleet."""
        return key_string(self.key) + (f" @{self.origin}" if self.origin else "")

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
        if self.origin is not None:  # fitted on all data before the origin, tested from it
            data["demand"] = dict(demand, **_origin_windows(demand, self.origin, self.test_days))
        base = str(data.get("name") or "").strip()
        data["name"] = f"{base} {self.series}".strip() if base else self.series
        return data


def _origin_windows(demand: dict[str, Any], origin: str, test_days: int) -> dict[str, Any]:
    """``train``/``test`` of a rolling origin: all days of the series before it, then
    ``test_days`` days from it (clipped to the data)."""
    import datetime as _dt

    from replenish.workflows.history import read_table_series

    full = read_table_series(demand)
    day = _dt.date.fromisoformat(origin)
    require(full.first < day <= full.last, "compare.origins", origin,
            f"outside the series' data ({full.first} .. {full.last})")
    end = min(day + _dt.timedelta(days=test_days - 1), full.last)
    return {"train": [full.first.isoformat(), (day - _dt.timedelta(days=1)).isoformat()],
            "test": [origin, end.isoformat()]}


def empty_row(task: SeriesTask) -> dict[str, Any]:
    """A row of the task's series with every column empty and ``status = "error"``."""
    row: dict[str, Any] = dict.fromkeys(table_columns([c for c, _ in task.key], task.methods))
    row.update({"series": task.series, **dict(task.key), "origin": task.origin, "status": "error",
                "seed": task.seed,
                "worker": f"{socket.gethostname()}:{os.getpid()}"})
    return row


@contextlib.contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Limit numba, BLAS/OpenMP and torch to ``n`` threads while the block runs."""
    import numba
    from threadpoolctl import threadpool_limits

    old_nb = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
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


def error_text(exc: BaseException) -> str:
    """A one-line message of an exception (a :class:`SpecError` as it prints)."""
    if isinstance(exc, SpecError):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def run_series(task: SeriesTask) -> dict[str, Any]:
    """Fit, tune/train and replay every method on one series; a flat result row.

    Runs :func:`replenish.workflows.compare.compare` on the problem fitted on the series'
    training window and replays each policy on its test window.  Never raises
    for a bad series: load errors and training errors give ``status = "error"``
    and the message in ``error``; a method that refuses the series (e.g. a
    Q-table too large) sets ``M.error`` and the others still count.  Pure: the
    row depends on the task only (up to ``seconds`` and ``worker``).
    """
    from replenish.workflows.compare import compare
    from replenish.workflows.config import config_from_dict

    t0 = time.perf_counter()
    row = empty_row(task)
    try:
        with thread_limit(task.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rounding of fractional sales: n_rounded
            raw = task.config_dict()
            if task.origin is not None and isinstance(raw.get("compare"), dict):
                raw["compare"] = {k: v for k, v in raw["compare"].items()
                                  if k not in ("origins", "test_days")}
            cfg = config_from_dict(raw)
            require(cfg.history is not None, "demand.kind", cfg.problem.demand.kind,
                    "a fleet needs [demand] kind = \"history\"")
            p, h = cfg.problem, cfg.history
            row.update({"pack": p.order_multiple, "bound": p.bound, "n_rounded": h.n_rounded,
                        "train_days": len(h.train), "test_days": len(h.test)})
            options = {m: cfg.section(m) for m in task.methods}
            comp = compare(p, h, list(task.methods), options=options, seed=task.seed,
                           with_optimum=False, context=cfg.context)
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
        row["error"] = error_text(exc)
    row["seconds"] = time.perf_counter() - t0
    return row


def _small_params(params: dict[str, Any]) -> dict[str, Any]:
    """Scalar parameters only (tables of states/orders stay in policy files)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        v = native(v)
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and len(v) <= 16 and all(
                isinstance(native(x), (int, float, str, bool)) for x in v):
            out[k] = [native(x) for x in v]
    return out


def crashed_row(task: SeriesTask, exc: BaseException) -> dict[str, Any]:
    """The row of a series whose worker died (not recorded: a rerun retries it)."""
    row = empty_row(task)
    row["error"] = f"worker failed: {error_text(exc)}"
    return row
