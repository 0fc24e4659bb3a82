"""The results folder: journal (``fleet.jsonl``), consolidated table, run manifest and lock.

The journal is the source of truth: one JSON line per finished series,
appended, flushed and ``fsync``-ed (:func:`append_row`); a torn last line or
a duplicate is dropped when the folder is opened again (:func:`load_journal`),
so a resumed run neither loses nor repeats a series.  The table
(``fleet.parquet`` / ``fleet.csv``, :func:`results_frame`, :func:`write_table`)
is rebuilt from the journal and rewritten atomically.  The manifest
(``fleet-run.json``, :func:`check_manifest`) refuses to mix two setups in one
folder, and :func:`folder_lock` refuses a second concurrent run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from replenish.core.io import atomic_write, json_default
from replenish.core.validate import SpecError, require

JOURNAL = "fleet.jsonl"
TABLE_PARQUET = "fleet.parquet"
TABLE_CSV = "fleet.csv"
MANIFEST = "fleet-run.json"
LOCK = ".fleet.lock"
#: Per-method columns of the table (``f"{method}.{name}"``).
METHOD_FIELDS = ("test_cost", "test_cost_per_day", "relative", "train_cost_per_day", "model_cost",
                 "fill_rate", "stockout_days", "policy", "params", "seconds", "error")
#: Series-level columns after ``series`` and the group-by columns.
SERIES_FIELDS = ("origin", "status", "error", "seed", "reference", "pack", "bound", "n_rounded", "train_days",
                 "test_days", "seconds", "worker")
#: Columns that depend on the machine and the load, not on the data (left out of equality checks).
VOLATILE_FIELDS = ("seconds", "worker")


def table_columns(group_by: Sequence[str], methods: Sequence[str]) -> list[str]:
    """Column order of the fleet table."""
    return ["series", *group_by, *SERIES_FIELDS,
            *(f"{m}.{f}" for m in methods for f in METHOD_FIELDS)]


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


def _journal_line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, default=json_default, allow_nan=True) + "\n").encode("utf-8")


def append_row(fh: IO[bytes], row: dict[str, Any]) -> None:
    """Append one row to the open journal and force it to disk (flush + ``fsync``)."""
    fh.write(_journal_line(row))
    fh.flush()
    os.fsync(fh.fileno())


def load_journal(out: Path) -> dict[str, dict[str, Any]]:
    """The journal's rows by series; a torn last line or duplicates are first dropped from the file."""
    journal, dirty = read_journal(out)
    if dirty:  # drop a torn last line / duplicates before appending
        atomic_write(out / JOURNAL, b"".join(_journal_line(r) for r in journal.values()))
    return journal


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
    pq = atomic_write(out / TABLE_PARQUET, buf.getvalue())
    csv = atomic_write(out / TABLE_CSV, df.to_csv(index=False).encode("utf-8"))
    return pq, csv


def read_table(out: str | Path) -> Any:
    """The consolidated table ``OUT/fleet.parquet`` as a DataFrame."""
    import pandas as pd

    path = Path(out) / TABLE_PARQUET
    require(path.is_file(), "--out", str(out), f"has no {TABLE_PARQUET}")
    return pd.read_parquet(path)


def _file_digest(path: Path) -> str:
    """SHA-256 of a file (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold ``OUT/.fleet.lock`` (``flock``) while the block runs; a second run on the folder is refused."""
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


def run_manifest(config: Mapping[str, Any], data: Path, group_by: Sequence[str], methods: Sequence[str],
                 seed: int) -> dict[str, Any]:
    """The run's fingerprint (``fleet-run.json``): config tables, data file and its SHA-256, setup."""
    return {"format": "replenish.fleet/1", "config": config, "data": str(data),
            "data_sha256": _file_digest(data), "group_by": list(group_by),
            "methods": list(methods), "seed": int(seed)}


def check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``fleet-run.json``, or refuse a folder whose manifest describes another run."""
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
        atomic_write(mpath, json.dumps(manifest, indent=1, default=str).encode("utf-8"))
