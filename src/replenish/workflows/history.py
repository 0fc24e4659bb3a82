"""Historical daily demand: loading, weekday models fitted on a training window, replay.

A sales history is one row per day (CSV, gzip-compressed CSV or Parquet) with a
date column and a demand column (units sold that day); other columns can
select one series (``filter = { store = 2, product = 109 }``).  The history is
split into a **training window** (everything a method may learn from) and a
**test window** (held out, used only to replay the finished policies)::

    [demand]
    kind = "history"
    file = "bakery_sample.csv.gz"      # relative to the config file's folder
    date_column = "date"
    demand_column = "demand"
    filter = { store = 2, product = 109 }
    train = ["2016-01-02", "2016-12-31"]  # inclusive; TOML dates work too
    test = ["2017-01-01", "2017-12-31"]

Validation (each a one-line :class:`~replenish.errors.SpecError` naming the
field and value): unreadable file or unknown format, missing columns, a filter
matching no rows, unparsable or duplicate dates, gaps in the calendar between
the first and last day used, negative or missing (NaN) demand, empty or
reversed windows, windows outside the data, overlapping windows (the test
window must start after the training window ends), a training window with no
sales at all, and a weekday absent from the training window.

Fractional demand (the bakery data has 42 such values) is rounded to the
nearest integer, halves upwards (``⌊x + 0.5⌋``), with a :class:`UserWarning`
that counts the rounded values; ``fractional = "error"`` refuses them instead.

What is fitted on the training window (never on the test window):

* :func:`fit_weekday_empirical` — one empirical pmf per weekday,
  ``P(D = k | w) = #{training days t: weekday(t) = w, D_t = k} / #{days with
  weekday w}``; a weekday on which the store never sold (closed on Sundays)
  becomes a point mass at 0.  Optionally holidays are left out of the fit
  (``exclude_holidays = true``: closed public holidays then no longer look
  like ordinary zero-sale days of their weekday).  Sampling this model *is*
  the day-level bootstrap of the training window (each simulated day is a
  training day of the same weekday drawn with replacement), so the
  environment and every simulation-based learner see far more than 365 days;
  :func:`bootstrap_demand` adds a week-block bootstrap that also keeps the
  correlation between days of the same week.
* large volumes (:func:`derive_order_multiple`): when the config does not give
  ``order_multiple``, the pack size ``m`` is the smallest of ``1, 2, 5, 10, 20,
  50, ...`` with ``B̂ / m <= 200`` orders to choose from, where
  ``B̂ = max_w Σ_{j=0..L} max D_{w+j}`` is the largest ``L + 1``-day demand of
  the fitted model; the position bound (when neither ``capacity`` nor
  ``position_bound`` is given) is the problem's automatic bound for the fitted
  model (:attr:`replenish.spec.Problem.bound`: that largest ``L + 1``-day
  demand plus ``2·EOQ`` for ``K > 0`` plus ``m``), rounded up to a multiple of
  ``m``.  A series selling hundreds a day then has about ``7·B`` reduced
  states and at most 201 actions, so the DP stays exact.

Replay (:func:`replay`) runs a finished policy on the actual demand of a
window through :func:`replenish.simulate.simulate` (the one compiled
dynamics), starting in the evening before the window's first day, with phase =
that day's weekday.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.model.demand import WEEKDAYS, WeekdayEmpirical

#: Keys accepted in a ``[demand] kind = "history"`` table.
HISTORY_KEYS = ("kind", "file", "date_column", "demand_column", "filter", "train", "test",
                "exclude_holidays", "holiday_column", "fractional")
#: Pack sizes tried by :func:`derive_order_multiple`, times powers of ten.
_NICE = (1, 2, 5)
#: Target number of order quantities for :func:`derive_order_multiple`.
TARGET_ACTIONS = 200


# ----------------------------------------------------------------------------
# series
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DemandSeries:
    """A contiguous daily demand series (one window of a history).

    Attributes:
        dates: ``datetime64[D]`` (n,), consecutive days.
        demand: int64 (n,), units demanded (sold) each day.
        holiday: bool (n,) public-holiday flags, or ``None`` if unknown.
        name: label of the series (e.g. ``"store=2 product=109"``).
    """

    dates: np.ndarray
    demand: np.ndarray
    holiday: np.ndarray | None = field(default=None, repr=False)
    name: str = "series"

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates, dtype="datetime64[D]")
        demand = np.asarray(self.demand)
        require(dates.ndim == 1 and demand.shape == dates.shape, "series.demand", demand.shape,
                f"must have one value per date ({dates.shape[0]})")
        require(np.issubdtype(demand.dtype, np.integer), "series.demand", demand.dtype,
                "must be integers (units)")
        if dates.size:
            require(bool(np.all(np.diff(dates).astype(np.int64) == 1)), "series.dates",
                    "gaps", "must be consecutive days")
            require(bool(np.all(demand >= 0)), "series.demand", int(demand.min()), "must be >= 0")
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "demand", demand.astype(np.int64))
        if self.holiday is not None:
            object.__setattr__(self, "holiday", np.asarray(self.holiday, dtype=bool))

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    @property
    def weekdays(self) -> np.ndarray:
        """int64 (n,), weekday of each day (Monday = 0), the demand phase."""
        # 1970-01-01 was a Thursday (weekday 3)
        return (self.dates.astype(np.int64) + 3) % 7

    @property
    def start_phase(self) -> int:
        """Weekday of the first day (Monday = 0)."""
        return int(self.weekdays[0])

    @property
    def first(self) -> _dt.date:
        return self.dates[0].item()

    @property
    def last(self) -> _dt.date:
        return self.dates[-1].item()

    def window(self, start: Any, end: Any, *, field_name: str = "window") -> DemandSeries:
        """The days ``start .. end`` (inclusive) as a new series."""
        lo, hi = _as_day(start, f"{field_name}[0]"), _as_day(end, f"{field_name}[1]")
        require(lo <= hi, field_name, [str(lo), str(hi)], "start is after end: the window is empty")
        require(len(self) > 0 and lo >= self.dates[0] and hi <= self.dates[-1], field_name,
                [str(lo), str(hi)],
                f"outside the data ({self.dates[0] if len(self) else '-'} .. "
                f"{self.dates[-1] if len(self) else '-'})")
        sel = (self.dates >= lo) & (self.dates <= hi)
        return DemandSeries(self.dates[sel], self.demand[sel],
                            None if self.holiday is None else self.holiday[sel], self.name)

    def weekday_profile(self) -> list[float]:
        """Mean demand per weekday, Monday to Sunday (NaN for an absent weekday)."""
        wd = self.weekdays
        return [float(self.demand[wd == w].mean()) if np.any(wd == w) else math.nan
                for w in range(7)]


@dataclass(frozen=True)
class HistoricalDemand:
    """A loaded history split into training and test windows.

    Attributes:
        series: the whole validated series (from the first to the last day used).
        train: the training window (fitting, tuning, learning).
        test: the held-out test window (replay only).
        source: the file it came from.
        filter: the column filter that selected the series.
        n_rounded: number of fractional values rounded to integers.
        exclude_holidays: whether holidays were left out of the weekday fit.
    """

    series: DemandSeries
    train: DemandSeries
    test: DemandSeries
    source: str = ""
    filter: dict[str, Any] = field(default_factory=dict)
    n_rounded: int = 0
    exclude_holidays: bool = False

    @property
    def name(self) -> str:
        return self.series.name

    def fit(self) -> WeekdayEmpirical:
        """The weekday model fitted on the training window (see :func:`fit_weekday_empirical`)."""
        return fit_weekday_empirical(self.train, exclude_holidays=self.exclude_holidays)

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description (windows, sizes, weekday means)."""
        return {"source": self.source, "filter": self.filter, "name": self.name,
                "train": [str(self.train.first), str(self.train.last)], "train_days": len(self.train),
                "test": [str(self.test.first), str(self.test.last)], "test_days": len(self.test),
                "n_rounded": self.n_rounded, "exclude_holidays": self.exclude_holidays,
                "train_weekday_means": dict(zip(WEEKDAYS, self.train.weekday_profile(), strict=True)),
                "test_weekday_means": dict(zip(WEEKDAYS, self.test.weekday_profile(), strict=True))}


# ----------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------
def _as_day(value: Any, field_name: str) -> np.datetime64:
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]")
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, str):
        try:
            return np.datetime64(_dt.date.fromisoformat(value.strip()), "D")
        except ValueError:
            pass
    raise SpecError(field_name, value, "must be a date YYYY-MM-DD")


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
                fractional: str = "round", name: str | None = None) -> tuple[DemandSeries, int]:
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
                                 *([holiday_column] if holiday_column else [])]))
    df = read_table(path, columns=wanted)
    for key, col in (("demand.date_column", date_column), ("demand.demand_column", demand_column),
                     *((f"demand.filter.{k}", k) for k in filter),
                     *((("demand.holiday_column", holiday_column),) if holiday_column else ())):
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
    if name is None:
        name = " ".join(f"{k}={v}" for k, v in filter.items()) or Path(path).name.split(".")[0]
    return DemandSeries(days, demand, holiday, name), n_frac


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


# ----------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------
def _fit_days(series: DemandSeries, exclude_holidays: bool) -> tuple[np.ndarray, np.ndarray]:
    """(demand, weekday) of the days used for fitting; every weekday must be present."""
    demand, wd = series.demand, series.weekdays
    if exclude_holidays:
        require(series.holiday is not None, "demand.exclude_holidays", True,
                "needs a holiday column (demand.holiday_column)")
        keep = ~series.holiday  # type: ignore[operator]
        demand, wd = demand[keep], wd[keep]
    for w in range(7):
        require(bool(np.any(wd == w)), "demand.train", [str(series.first), str(series.last)],
                f"has no {WEEKDAYS[w]} to fit (a training window needs every weekday)")
    return demand, wd


def fit_weekday_empirical(series: DemandSeries, *, exclude_holidays: bool = False) -> WeekdayEmpirical:
    """Per-weekday empirical demand distributions of ``series`` (the training window).

    ``P(D = k | w)`` is the fraction of the series' days with weekday ``w``
    (holidays left out if ``exclude_holidays``) on which demand was ``k``; a
    weekday without any sale is a point mass at 0 (a closed day).
    """
    demand, wd = _fit_days(series, exclude_holidays)
    pmfs = []
    for w in range(7):
        counts = np.bincount(demand[wd == w]).astype(np.float64)
        pmfs.append(counts / counts.sum())
    return WeekdayEmpirical(tuple(tuple(p) for p in pmfs))


def _nice_at_least(x: float) -> int:
    """Smallest of 1, 2, 5, 10, 20, 50, ... that is >= ``x``."""
    if x <= 1:
        return 1
    k = 10 ** math.floor(math.log10(x))
    for mult in (*_NICE, 10):
        if mult * k >= x - 1e-9:
            return mult * k
    return 10 * k  # pragma: no cover


def max_window_demand(model: WeekdayEmpirical, days: int) -> int:
    """``max_w Σ_{j<days} max{k: P(D = k | w + j) > 0}``: the largest ``days``-day demand."""
    tops = [int(np.flatnonzero(np.asarray(model.pmf(w)) > 0)[-1]) for w in range(7)]
    return max(sum(tops[(w + j) % 7] for j in range(days)) for w in range(7))


def derive_order_multiple(model: WeekdayEmpirical, lead_time: int, *,
                          target_actions: int = TARGET_ACTIONS) -> int:
    """Pack size ``m``: the smallest of 1, 2, 5, 10, 20, 50, ... with ``B̂ / m <= target_actions``.

    ``B̂`` is :func:`max_window_demand` over ``L + 1`` days, the largest demand
    between an order and the next order's arrival under the fitted model.
    """
    return _nice_at_least(max_window_demand(model, lead_time + 1) / target_actions)


def problem_from_history(table: Mapping[str, Any], *, problem: Mapping[str, Any] | None = None,
                         name: str | None = None,
                         base_dir: str | Path | None = None) -> tuple[Any, HistoricalDemand]:
    """Build the fitted :class:`~replenish.spec.Problem` from a ``[demand] kind = "history"`` table.

    Args:
        table: the ``[demand]`` table (keys :data:`HISTORY_KEYS`).
        problem: the ``[problem]`` table; ``order_multiple`` and the position
            bound are derived from the data when absent (module docstring).
        name: the problem name (default: the series label).
        base_dir: folder a relative ``file`` resolves against (the config file's).

    Returns:
        ``(problem, history)``: the problem whose demand is the weekday model
        fitted on the training window, and the loaded :class:`HistoricalDemand`.
    """
    from replenish.model.spec import Problem

    require(isinstance(table, Mapping), "demand", table, "must be a table")
    for key in table:
        require(key in HISTORY_KEYS, f"demand.{key}", table[key],
                f"unknown key for kind = 'history' (expected {', '.join(HISTORY_KEYS[1:])})")
    for key in ("file", "train", "test"):
        require(key in table, f"demand.{key}", None, "required for kind = 'history'")
    file = table["file"]
    require(isinstance(file, str) and file != "", "demand.file", file, "must be a file name")
    path = Path(file)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    filt = table.get("filter", {})
    require(isinstance(filt, Mapping), "demand.filter", filt, "must be a table {column = value}")
    for key in ("date_column", "demand_column", "holiday_column", "fractional"):
        if key in table:
            require(isinstance(table[key], str), f"demand.{key}", table[key], "must be a string")
    hist = load_history(path, train=table["train"], test=table["test"],
                        date_column=table.get("date_column", "date"),
                        demand_column=table.get("demand_column", "demand"), filter=dict(filt),
                        exclude_holidays=table.get("exclude_holidays", False),
                        holiday_column=table.get("holiday_column"),
                        fractional=table.get("fractional", "round"))
    model = hist.fit()
    prob = dict(problem or {})
    lead_time = prob.get("lead_time", 0)
    if "order_multiple" not in prob and isinstance(lead_time, int) and 0 <= lead_time <= 52:
        prob["order_multiple"] = derive_order_multiple(model, lead_time)
    data = {"name": name or hist.name, "problem": prob, "demand": model.to_dict()}
    p = Problem.from_dict(data)
    if p.capacity is None and p.position_bound is None:
        m = p.order_multiple
        p = p.replace(position_bound=int(math.ceil(p.bound / m) * m))
    return p, hist


# ----------------------------------------------------------------------------
# bootstrap
# ----------------------------------------------------------------------------
def bootstrap_demand(series: DemandSeries, rng: np.random.Generator, *, n_paths: int, horizon: int,
                     start_phase: int = 0, block: str = "day",
                     exclude_holidays: bool = False) -> np.ndarray:
    """Demand matrices resampled from a (training) series, aligned to weekdays.

    Args:
        series: the training window.
        rng: the caller's generator (the only source of randomness).
        n_paths, horizon: shape of the result.
        start_phase: weekday of column 0 (Monday = 0); column ``t`` has weekday
            ``(start_phase + t) mod 7``.
        block: ``"day"`` draws every day independently among the training days
            of the same weekday (the same distribution as
            :func:`fit_weekday_empirical`); ``"week"`` draws whole Monday-to-Sunday
            weeks of the training window (keeping within-week correlation;
            incomplete weeks at the window edges are not used).
        exclude_holidays: leave holidays out of the pool (``block = "day"``).

    Returns:
        int64 (n_paths, horizon) demand.
    """
    require(isinstance(n_paths, int) and n_paths >= 1, "n_paths", n_paths, "must be >= 1")
    require(isinstance(horizon, int) and horizon >= 1, "horizon", horizon, "must be >= 1")
    require(block in ("day", "week"), "block", block, "must be 'day' or 'week'")
    phases = (start_phase + np.arange(horizon)) % 7
    if block == "day":
        demand, wd = _fit_days(series, exclude_holidays)
        out = np.empty((n_paths, horizon), dtype=np.int64)
        for w in range(7):
            pool = demand[wd == w]
            cols = np.flatnonzero(phases == w)
            if cols.size:
                out[:, cols] = pool[rng.integers(0, pool.size, size=(n_paths, cols.size))]
        return out
    wd = series.weekdays
    first_monday = int(np.flatnonzero(wd == 0)[0]) if np.any(wd == 0) else len(series)
    n_weeks = (len(series) - first_monday) // 7
    require(n_weeks >= 1, "series", series.name, "needs at least one full Monday-to-Sunday week")
    weeks = series.demand[first_monday: first_monday + 7 * n_weeks].reshape(n_weeks, 7)
    n_blocks = (start_phase + horizon + 6) // 7
    pick = rng.integers(0, n_weeks, size=(n_paths, n_blocks))
    flat = weeks[pick].reshape(n_paths, n_blocks * 7)
    return np.ascontiguousarray(flat[:, start_phase: start_phase + horizon])


# ----------------------------------------------------------------------------
# replay
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayResult:
    """A policy replayed on an actual demand series.

    Attributes:
        total_cost: $ over the window (holding + stockout + ordering − revenue).
        average_cost: $/day.
        breakdown: $/day by component: holding, stockout, ordering, revenue.
        fill_rate: units served from stock on the day / units demanded.
        stockout_days: number of days with unmet demand.
        stockout_rate: fraction of days with unmet demand.
        average_on_hand: mean end-of-day on-hand stock (units).
        days: length of the window.
        dates: ``datetime64[D]`` (days,) the days replayed.
        start_state: the full state the evening before the first day.
        trajectory: ``states`` (days + 1, d), ``orders``, ``demand``, ``cost``,
            ``short`` (days,) arrays, for plotting.
    """

    total_cost: float
    average_cost: float
    breakdown: dict[str, float]
    fill_rate: float
    stockout_days: int
    stockout_rate: float
    average_on_hand: float
    days: int
    dates: np.ndarray = field(repr=False)
    start_state: np.ndarray = field(repr=False)
    trajectory: dict[str, np.ndarray] = field(repr=False)

    def to_json(self, prefix: str = "") -> dict[str, Any]:
        """Scalar fields as a JSON-serialisable dict, keys prefixed with ``prefix``."""
        d = {"total_cost": self.total_cost, "average_cost": self.average_cost,
             "breakdown": self.breakdown, "fill_rate": self.fill_rate,
             "stockout_days": self.stockout_days, "stockout_rate": self.stockout_rate,
             "average_on_hand": self.average_on_hand, "days": self.days,
             "first_day": str(self.dates[0]), "last_day": str(self.dates[-1]),
             "start_state": self.start_state.tolist()}
        return {f"{prefix}{k}": v for k, v in d.items()}


def default_start_state(problem: Any, series: DemandSeries) -> np.ndarray:
    """The common start of every replay: the evening before the first day of ``series``.

    Nothing in transit; on hand ``α₀ = ⌈Σ_{j<L} E[D_{w₀+j}]⌉`` under the
    problem's (fitted) model, i.e. enough for the expected demand of the ``L``
    days before tonight's order can arrive (0 when ``L = 0``), capped at the
    position bound; phase = weekday of the first day.  The same for every
    policy, so differences in replayed cost come from the policies alone.
    """
    w0 = series.start_phase
    state = problem.start_state(w0)
    exp = sum(problem.demand.mean_at((w0 + j) % problem.period) for j in range(problem.lead_time))
    state[0] = min(math.ceil(exp - 1e-9), problem.bound)
    return state


def replay(problem: Any, policy: Any, series: DemandSeries | np.ndarray, *,
           start_state: np.ndarray | None = None, start_phase: int | None = None) -> ReplayResult:
    """Replay ``policy`` on the actual demand of ``series`` (one path, every day counted).

    Args:
        problem: the problem (costs, lead time, bounds; its demand model is not
            used to draw anything, only for :func:`default_start_state`).
        policy: any :class:`~replenish.policies.base.Policy`.
        series: a :class:`DemandSeries` (dates give the weekday phases), or an
            int array of daily demand (then ``start_phase`` gives the weekday
            of the first day, default 0; dates are numbered from 1970-01-05, a Monday).
        start_state: the full state the evening before the first day; default
            :func:`default_start_state`.  Its phase slot is set to the first
            day's weekday when demand is seasonal.

    Runs :func:`replenish.simulate.simulate` with ``demand = series[None, :]``
    and no warm-up, so the dynamics are the package's one compiled transition.
    """
    from replenish.evaluation.simulate import simulate

    if not isinstance(series, DemandSeries):
        arr = np.asarray(series)
        require(arr.ndim == 1 and arr.size >= 1, "series", arr.shape, "must be a non-empty 1-d array")
        require(np.issubdtype(arr.dtype, np.integer) and bool(np.all(arr >= 0)), "series", "values",
                "demand must be non-negative integers")
        first = np.datetime64("1970-01-05") + int(start_phase or 0)
        series = DemandSeries(first + np.arange(arr.size), arr.astype(np.int64), name="array")
    require(len(series) >= 1, "series", series.name, "is empty")
    if start_state is None:
        start = default_start_state(problem, series)
    else:
        start = np.array(start_state, dtype=np.int64).reshape(-1)
        require(start.shape[0] == problem.state_dim, "start_state", start.tolist(),
                f"must have {problem.state_dim} entries [α, β_1..β_L, (w)]")
        if problem.seasonal:
            start[-1] = series.start_phase % problem.period
    sim = simulate(problem, policy, demand=series.demand[None, :], start=start, warmup=0,
                   record=True)
    assert sim.trajectory is not None
    traj = {k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in sim.trajectory.items()}
    n = len(series)
    short = traj["short"]
    return ReplayResult(total_cost=float(traj["cost"].sum()), average_cost=sim.average_cost,
                        breakdown=sim.breakdown, fill_rate=sim.fill_rate,
                        stockout_days=int((short > 0).sum()), stockout_rate=sim.stockout_days,
                        average_on_hand=sim.average_on_hand, days=n, dates=series.dates,
                        start_state=start, trajectory=traj)
