"""Series of a sales file and the fleet's config: discovery, labels, seeds, sizes, validation."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.workflows.config import read_toml

#: Keys of the ``[fleet]`` table.
FLEET_KEYS: dict[str, type | tuple[type, ...]] = {
    "data": str, "group_by": list, "methods": list, "engine": str, "workers": int, "address": str,
    "seed": int}


def key_string(key: Sequence[tuple[str, Any]]) -> str:
    """The series label ``"store=2 product=109"`` (the ``series`` column)."""
    return " ".join(f"{c}={v}" for c, v in key)


def series_seed(seed: int, key: Sequence[tuple[str, Any]] | str) -> int:
    """The seed of one series: a function of the run seed and the key only (32-bit)."""
    label = key if isinstance(key, str) else key_string(key)
    ss = np.random.SeedSequence([int(seed), zlib.crc32(label.encode("utf-8"))])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def native(v: Any) -> Any:
    """A numpy scalar as the Python scalar (other values unchanged)."""
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
    return [tuple((c, native(v)) for c, v in zip(group_by, row, strict=True))
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
