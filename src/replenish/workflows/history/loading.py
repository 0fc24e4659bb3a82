"""Reading sales files (CSV, compressed CSV, Parquet) into validated :class:`DemandSeries` with one-
line errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.workflows.history.series import DemandSeries, HistoricalDemand, _as_day, _fit_days

#: Largest daily demand accepted from a sales file (units): the fitted pmfs have one point a unit.
MAX_DAILY_DEMAND = 100_000


# ----------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------
def _window_arg(value: Any, field_name: str) -> tuple[np.datetime64, np.datetime64]:
    require(isinstance(value, (list, tuple)) and len(value) == 2, field_name, value,
            "must be [start, end] (inclusive dates)")
    lo, hi = _as_day(value[0], f"{field_name}[0]"), _as_day(value[1], f"{field_name}[1]")
    require(lo <= hi, field_name, [str(lo), str(hi)], "start is after end: the window is empty")
    return lo, hi


def read_table(path: str | Path, *, columns: list[str] | None = None) -> Any:
    """Read a CSV (plain or ``.gz``/``.bz2``/``.xz``/``.zip``) or Parquet file into a DataFrame.

    ``columns`` restricts the columns read; if some are missing the whole file
    is read (the caller reports the missing column by name).
    """
    import pandas as pd

    path = Path(path)
    require(path.is_file(), "demand.file", str(path), "no such file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        reader = pd.read_parquet
    elif ".csv" in suffixes or ".txt" in suffixes or (suffixes and suffixes[-1] in (".gz", ".bz2", ".xz",
                                                                                     ".zip")):
        reader = pd.read_csv  # type: ignore[assignment]
    else:
        raise SpecError("demand.file", str(path), "unknown format (expected .csv, .csv.gz or .parquet)")
    kw = {"columns": columns} if reader is pd.read_parquet else {"usecols": columns}
    try:
        try:
            return reader(path, **kw)
        except Exception:
            if columns is None:
                raise
            return reader(path)
    except Exception as exc:  # OSError, parser errors of pandas/pyarrow, bad compression
        msg = f"cannot read ({type(exc).__name__}: {exc})".splitlines()[0]
        raise SpecError("demand.file", str(path), msg) from None


def read_series(path: str | Path, *, date_column: str = "date", demand_column: str = "demand",
                filter: Mapping[str, Any] | None = None,
                span: tuple[Any, Any] | None = None, holiday_column: str | None = None,
                fractional: str = "round", name: str | None = None,
                columns: tuple[str, ...] = ()) -> tuple[DemandSeries, int]:
    """Load and validate one daily series; returns ``(series, n_rounded)``.

    Args:
        path: CSV or Parquet file.
        date_column, demand_column: column names.
        filter: ``{column: value}`` selecting one series.
        span: ``(first, last)`` days to keep (inclusive); only these are
            validated, and both must be in the data.  ``None`` keeps all days.
        holiday_column: optional 0/1 column of public holidays.
        fractional: ``"round"`` (halves up, with a warning counting them) or ``"error"``.
        name: label (default: from the filter, else the file name).
        columns: feature columns to read as well (``[features]``): numbers or
            booleans, NaN where missing.

    Errors: missing columns, a filter matching nothing, unparsable, duplicate
    or missing dates (a gap in the calendar), negative or missing demand.
    """
    import pandas as pd

    filter = dict(filter or {})
    require(fractional in ("round", "error"), "demand.fractional", fractional,
            "must be 'round' or 'error'")
    for key, col in (("demand.date_column", date_column), ("demand.demand_column", demand_column)):
        require(isinstance(col, str) and col != "", key, col, "must be a column name")
    wanted = list(dict.fromkeys([date_column, demand_column, *filter,
                                 *([holiday_column] if holiday_column else []), *columns]))
    df = read_table(path, columns=wanted)
    for key, col in (("demand.date_column", date_column), ("demand.demand_column", demand_column),
                     *((f"demand.filter.{k}", k) for k in filter),
                     *((("demand.holiday_column", holiday_column),) if holiday_column else ()),
                     *(("features", c) for c in columns)):
        if col not in df.columns:
            raise SpecError(key, col, f"no such column in {Path(path).name} "
                                      f"(columns: {', '.join(map(str, df.columns))})")
    for col, value in filter.items():
        require(isinstance(value, (int, float, str)) and not isinstance(value, bool),
                f"demand.filter.{col}", value, "must be a number or a string")
        sel = df[col] == value
        if not sel.any():
            seen = sorted(df[col].dropna().unique().tolist())[:12]
            raise SpecError(f"demand.filter.{col}", value,
                            f"matches no row (values include {', '.join(map(str, seen))})")
        df = df[sel]
    require(len(df) > 0, "demand.file", str(path), "has no rows")
    dates = pd.to_datetime(df[date_column].astype(str), errors="coerce", format="mixed")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise SpecError(f"demand.{date_column}", df[date_column].iloc[i],
                        f"unparsable date (row {i + 1} of the selected series)")
    days = dates.to_numpy().astype("datetime64[D]")
    if span is not None:
        lo, hi = _as_day(span[0], "span[0]"), _as_day(span[1], "span[1]")
        first, last = days.min(), days.max()
        require(lo >= first and hi <= last, "demand.train" if lo < first else "demand.test",
                str(lo) if lo < first else str(hi), f"outside the data ({first} .. {last})")
        keep = (days >= lo) & (days <= hi)
        df, days = df[keep], days[keep]
    order = np.argsort(days, kind="stable")
    days = days[order]
    step = np.diff(days).astype(np.int64)
    dup = np.flatnonzero(step == 0)
    if dup.size:
        raise SpecError(f"demand.{date_column}", str(days[dup[0]]),
                        f"duplicate date ({dup.size} duplicates; add a filter to select one series)")
    gaps = np.flatnonzero(step > 1)
    if gaps.size:
        missing = int((step[gaps] - 1).sum())
        raise SpecError(f"demand.{date_column}", str(days[gaps[0]] + 1),
                        f"missing from the calendar ({missing} missing days in {gaps.size} gaps)")
    raw = pd.to_numeric(df[demand_column], errors="coerce").to_numpy(dtype=np.float64)[order]
    bad = ~np.isfinite(raw)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpecError(f"demand.{demand_column}", str(df[demand_column].iloc[order[i]]),
                        f"missing or non-numeric demand on {days[i]} ({int(bad.sum())} such values)")
    if (raw < 0).any():
        i = int(np.flatnonzero(raw < 0)[0])
        raise SpecError(f"demand.{demand_column}", float(raw[i]),
                        f"negative demand on {days[i]} ({int((raw < 0).sum())} negative values)")
    if (raw > MAX_DAILY_DEMAND).any():  # checked before any cast to int64
        i = int(np.flatnonzero(raw > MAX_DAILY_DEMAND)[0])
        raise SpecError(f"demand.{demand_column}", float(raw[i]),
                        f"demand on {days[i]} exceeds {MAX_DAILY_DEMAND} units a day "
                        f"({int((raw > MAX_DAILY_DEMAND).sum())} such values)")
    frac = raw != np.floor(raw)
    n_frac = int(frac.sum())
    if n_frac:
        if fractional == "error":
            i = int(np.flatnonzero(frac)[0])
            raise SpecError(f"demand.{demand_column}", float(raw[i]),
                            f"fractional demand on {days[i]} ({n_frac} fractional values)")
        warnings.warn(f"{n_frac} fractional demand value(s) rounded to the nearest integer "
                      f"(halves up) in {Path(path).name}", UserWarning, stacklevel=2)
    demand = np.floor(raw + 0.5).astype(np.int64)
    holiday = None
    if holiday_column:
        holiday = pd.to_numeric(df[holiday_column], errors="coerce").fillna(0).to_numpy()[order] != 0
    extra = {}
    for c in columns:
        v = pd.to_numeric(df[c].astype(float) if df[c].dtype == bool else df[c], errors="coerce")
        arr = v.to_numpy(dtype=np.float64)[order]
        bad = np.isnan(arr) & df[c].notna().to_numpy()[order]
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SpecError(f"features.{c}", str(df[c].iloc[order[i]]),
                            f"not a number on {days[i]} ({int(bad.sum())} such values)")
        extra[c] = arr
    if name is None:
        name = " ".join(f"{k}={v}" for k, v in filter.items()) or Path(path).name.split(".")[0]
    return DemandSeries(days, demand, holiday, name, extra), n_frac


def load_history(path: str | Path, *, train: Any, test: Any, date_column: str = "date",
                 demand_column: str = "demand", filter: Mapping[str, Any] | None = None,
                 exclude_holidays: bool = False, holiday_column: str | None = None,
                 fractional: str = "round", name: str | None = None) -> HistoricalDemand:
    """Load a daily series and split it into training and test windows.

    Args:
        path: CSV (plain or compressed) or Parquet file.
        train, test: ``[start, end]`` inclusive dates (ISO strings or dates); the
            test window must start after the training window ends.
        date_column, demand_column: column names.
        filter: ``{column: value}`` selecting one series.
        exclude_holidays: leave holidays out of the weekday fit (reads
            ``holiday_column``, default ``"is_holiday"``).
        fractional: ``"round"`` (default, with a warning) or ``"error"``.
        name: label (default: from the filter).

    Only the days from the start of the training window to the end of the
    test window are read and validated (gaps elsewhere are harmless).
    """
    tr = _window_arg(train, "demand.train")
    te = _window_arg(test, "demand.test")
    require(te[0] > tr[1], "demand.test", [str(te[0]), str(te[1])],
            f"must start after the training window ends ({tr[1]}): test data would leak into fitting")
    require(isinstance(exclude_holidays, bool), "demand.exclude_holidays", exclude_holidays,
            "must be true or false")
    if exclude_holidays and holiday_column is None:
        holiday_column = "is_holiday"
    full, n_frac = read_series(path, date_column=date_column, demand_column=demand_column,
                               filter=filter, span=(tr[0], te[1]), holiday_column=holiday_column,
                               fractional=fractional, name=name)
    train_s = full.window(*tr, field_name="demand.train")
    test_s = full.window(*te, field_name="demand.test")
    require(int(train_s.demand.sum()) > 0, "demand.train", [str(tr[0]), str(tr[1])],
            f"no sales at all in the training window of {full.name}: nothing to fit")
    _fit_days(train_s, exclude_holidays)  # every weekday present
    return HistoricalDemand(series=full, train=train_s, test=test_s, source=str(path),
                            filter=dict(filter or {}), n_rounded=n_frac,
                            exclude_holidays=exclude_holidays)


def data_path(file: Any, base_dir: str | Path | None) -> Path:
    """``[demand] file`` resolved against the config file's folder (when relative)."""
    path = Path(str(file))
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def read_table_series(table: Mapping[str, Any], *, base_dir: str | Path | None = None,
                      columns: tuple[str, ...] = ()) -> DemandSeries:
    """The whole series a ``[demand] kind = "history"`` table selects (file, filter, column
    names), with ``columns``; the rounding warning is left to the history's own load."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        series, _ = read_series(data_path(table["file"], base_dir),
                                date_column=table.get("date_column", "date"),
                                demand_column=table.get("demand_column", "demand"),
                                filter=dict(table.get("filter", {})),
                                fractional=table.get("fractional", "round"), columns=columns)
    return series


def read_context(table: Mapping[str, Any], features: Mapping[str, Any], history: HistoricalDemand | None,
                 *, base_dir: str | Path | None = None, train_end: Any = None) -> Any:
    """The :class:`~replenish.solvers.contextual.ContextData` of a history config's ``[features]``.

    Reads the whole series of ``table`` (the ``[demand] kind = "history"`` table) with
    the feature columns; the training window ends with ``history.train`` (or the day
    before ``train_end``).  A missing or non-numeric feature column is a one-line error
    naming it.
    """
    from replenish.model.context import Context, FeatureSpec
    from replenish.solvers.contextual import ContextData

    spec = FeatureSpec.from_dict(features)
    path = data_path(table["file"], base_dir)
    series = read_table_series(table, base_dir=base_dir, columns=spec.columns)
    ctx = Context(series.dates, series.demand, series.columns, series.name)
    if history is not None and train_end is None:  # the training window's first day starts it
        i0 = int((np.datetime64(history.train.first, "D") - ctx.dates[0]).astype(np.int64))
        ctx = Context(ctx.dates[i0:], ctx.demand[i0:], {k: v[i0:] for k, v in ctx.columns.items()},
                      ctx.name)
    if train_end is None:
        assert history is not None
        end = int((np.datetime64(history.train.last, "D") - ctx.dates[0]).astype(np.int64)) + 1
    else:
        end = ctx.index(train_end, field_name="compare.origins")
    require(end >= 56, "demand.train", str(ctx.dates[0]), "a contextual forecast needs >= 56 training days")
    source = {"file": str(path.resolve()), "filter": dict(table.get("filter", {})),
              "date_column": table.get("date_column", "date"),
              "demand_column": table.get("demand_column", "demand"),
              "fractional": table.get("fractional", "round")}
    return ContextData(ctx, spec, end, source)


def reread_context(policy: Any, data: str | Path | None = None) -> Any:
    """The series of a forecasting policy re-read from ``data`` (default: the file it was fitted
    on), with its feature columns: newer sales and plans for ``replenish recommend``.  ``None``
    when no file is given and the original is gone (the saved series is used then)."""
    from replenish.model.context import Context

    src = dict(getattr(policy, "source", {}) or {})
    path = Path(data) if data is not None else (Path(src["file"]) if src.get("file") else None)
    if path is None or (data is None and not path.is_file()):
        return None
    series = read_table_series(dict(src, file=str(path)), columns=policy.forecaster.spec.columns)
    return Context(series.dates, series.demand, series.columns, series.name)
