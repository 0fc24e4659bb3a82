"""Future demand information: the ``[features]`` of a sales history and the design matrix of a forecast.

The evening decision of day ``e`` (after that day's sales are known) orders for
the days ``d = e + h``, ``h = 1, 2, ...`` (the horizon ``h``).  What may be known
that evening about day ``d`` comes in three kinds, named in a ``[features]``
table::

    [features]
    known_ahead = ["is_holiday", "is_schoolholiday", "promotion_currentweek"]
    forecast = ["rain", "temperature"]
    level = true

* **calendar** (always): weekday and day of the year of ``d``, derived from the date;
* ``known_ahead``: plan and calendar columns (public and school holidays, planned
  promotions), valid for the days an order covers: their values on ``d − 1``,
  ``d`` and ``d + 1`` (the day before a holiday sells differently);
* ``forecast``: columns known only as forecasts (weather).  **In the bakery data
  the actual rain and temperature stand in for forecasts**, so a policy using
  them is optimistic by the forecast error; leave them out (``forecast = []``)
  to measure without;
* ``level = true``: the recent level of sales, from sales **up to day e only**:
  the sales of the last two days with ``d``'s weekday that are known on evening
  ``e`` (``d − 7⌈h/7⌉`` and seven days before), the mean of the last 7 and 28
  days (``e − 6 .. e``, ``e − 27 .. e``), and the horizon ``h``.  Values that need
  days before the start of the data are missing (NaN; the forecaster handles
  them natively).

:func:`design_matrix` builds the feature rows for any (evening, horizon) pairs;
it reads sales only at indices ``<= e`` and feature columns only at indices
``<= d + 1``, which ``tests/test_context.py`` checks by changing every later value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require

#: Keys of a ``[features]`` table.
FEATURE_KEYS = ("known_ahead", "forecast", "level")


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns a forecast may use and how each is known on the decision evening.

    Attributes:
        known_ahead: plan/calendar columns valid for the days an order covers.
        forecast: columns known as forecasts (stand-ins: actual values in the bakery data).
        level: use level features of past sales (lags, rolling means; no look-ahead).
    """

    known_ahead: tuple[str, ...] = ()
    forecast: tuple[str, ...] = ()
    level: bool = True

    def __post_init__(self) -> None:
        for key in ("known_ahead", "forecast"):
            cols = getattr(self, key)
            require(isinstance(cols, (list, tuple)) and all(isinstance(c, str) and c for c in cols),
                    f"features.{key}", cols, "must be a list of column names")
            object.__setattr__(self, key, tuple(cols))
        require(isinstance(self.level, bool), "features.level", self.level, "must be true or false")
        both = set(self.known_ahead) & set(self.forecast)
        require(not both, "features.forecast", sorted(both), "listed as known_ahead too")

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns this spec reads."""
        return self.known_ahead + self.forecast

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> FeatureSpec:
        """Build from a ``[features]`` TOML table (validated, one-line errors)."""
        require(isinstance(table, Mapping), "features", table, "must be a table")
        for key in table:
            require(key in FEATURE_KEYS, f"features.{key}", table[key],
                    f"unknown key (expected one of {', '.join(FEATURE_KEYS)})")
        return cls(known_ahead=tuple(table.get("known_ahead", ())),
                   forecast=tuple(table.get("forecast", ())), level=table.get("level", True))

    def to_dict(self) -> dict[str, Any]:
        return {"known_ahead": list(self.known_ahead), "forecast": list(self.forecast),
                "level": self.level}

    def names(self) -> list[str]:
        """Names of the design-matrix columns, in order."""
        out = ["weekday", "day_of_year"]
        for c in self.known_ahead:
            out += [f"{c} (day before)", c, f"{c} (day after)"]
        out += list(self.forecast)
        if self.level:
            out += ["same_weekday_lag1", "same_weekday_lag2", "mean_7d", "mean_28d", "horizon"]
        return out


@dataclass(frozen=True, eq=False)
class Context:
    """One sales series with its feature columns, day by day.

    Attributes:
        dates: ``datetime64[D]`` (n,), consecutive days.
        demand: int64 (n,), units sold each day.
        columns: name → float64 (n,) feature column (NaN where unknown).
        name: label of the series.
    """

    dates: np.ndarray
    demand: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = "series"

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates, dtype="datetime64[D]")
        demand = np.asarray(self.demand, dtype=np.int64)
        require(dates.ndim == 1 and dates.size >= 1 and demand.shape == dates.shape, "context.demand",
                demand.shape, f"must have one value per date ({dates.shape[0]})")
        require(bool(np.all(np.diff(dates).astype(np.int64) == 1)), "context.dates", "gaps",
                "must be consecutive days")
        cols = {}
        for k, v in self.columns.items():
            arr = np.asarray(v, dtype=np.float64)
            require(arr.shape == dates.shape, f"features.{k}", arr.shape,
                    f"must have one value per date ({dates.shape[0]})")
            cols[k] = arr
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "demand", demand)
        object.__setattr__(self, "columns", cols)

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    def index(self, day: Any, *, field_name: str = "date") -> int:
        """Index of ``day`` (a date, ISO string or ``datetime64``); outside the data: SpecError."""
        try:
            d = np.datetime64(str(day)[:10], "D")
        except ValueError:
            raise SpecError(field_name, day, "must be a date YYYY-MM-DD") from None
        i = int((d - self.dates[0]).astype(np.int64))
        require(0 <= i < len(self), field_name, str(day),
                f"outside the data ({self.dates[0]} .. {self.dates[-1]})")
        return i

    def truncated(self, end: int) -> Context:
        """The days ``0 .. end − 1`` (what is known on the evening of day ``end − 1``, features
        excepted)."""
        return Context(self.dates[:end], self.demand[:end],
                       {k: v[:end] for k, v in self.columns.items()}, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"start": str(self.dates[0]), "demand": self.demand.tolist(), "name": self.name,
                "columns": {k: [None if np.isnan(x) else float(x) for x in v]
                            for k, v in self.columns.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Context:
        require(isinstance(data, Mapping), "context", type(data).__name__, "must be a table")
        try:
            demand = np.asarray(data["demand"], dtype=np.int64)
            start = np.datetime64(str(data["start"]), "D")
            cols = {str(k): np.array([np.nan if x is None else x for x in v], dtype=np.float64)
                    for k, v in dict(data.get("columns", {})).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError("context", type(exc).__name__, f"malformed context ({exc})") from None
        return cls(start + np.arange(demand.size), demand, cols, str(data.get("name", "series")))


def check_columns(spec: FeatureSpec, available: list[str] | tuple[str, ...], source: str) -> None:
    """One-line error naming the first feature column missing from ``available``."""
    for key in ("known_ahead", "forecast"):
        for c in getattr(spec, key):
            if c not in available:
                raise SpecError(f"features.{key}", c, f"no such column in {source} "
                                                      f"(columns: {', '.join(map(str, available))})")


def _shifted(col: np.ndarray, idx: np.ndarray) -> np.ndarray:
    n = col.shape[0]
    ok = (idx >= 0) & (idx < n)
    out = np.full(idx.shape, np.nan)
    out[ok] = col[idx[ok]]
    return out


def design_matrix(ctx: Context, spec: FeatureSpec, evenings: np.ndarray,
                  horizons: np.ndarray) -> np.ndarray:
    """Feature rows for the target days ``d = e + h`` seen on evenings ``e`` (float64 (n, f)).

    Args:
        ctx: the series and its feature columns.
        spec: which features.
        evenings: int (n,), index of each decision evening ``e`` (sales known up to ``e``).
        horizons: int (n,), ``h >= 1``.

    Sales are read only at indices ``<= e``; feature columns at ``d − 1 .. d + 1``
    (NaN outside the data).  Columns: :meth:`FeatureSpec.names`.
    """
    e = np.asarray(evenings, dtype=np.int64)
    h = np.asarray(horizons, dtype=np.int64)
    require(bool(np.all(h >= 1)), "horizons", int(h.min()) if h.size else 0, "must be >= 1")
    d = e + h
    days = ctx.dates[0] + d
    cols: list[np.ndarray] = [((days.astype(np.int64) + 3) % 7).astype(np.float64)]
    years = days.astype("datetime64[Y]")
    cols.append((days - years.astype("datetime64[D]")).astype(np.float64))
    for c in spec.known_ahead:
        v = ctx.columns[c]
        cols += [_shifted(v, d - 1), _shifted(v, d), _shifted(v, d + 1)]
    for c in spec.forecast:
        cols.append(_shifted(ctx.columns[c], d))
    if spec.level:
        sales = ctx.demand.astype(np.float64)
        csum = np.concatenate([[0.0], np.cumsum(sales)])
        lag = d - 7 * ((h + 6) // 7)  # the last day with d's weekday known on evening e (<= e)
        cols += [_shifted(sales, lag), _shifted(sales, lag - 7)]
        for w in (7, 28):
            lo = e - w + 1
            ok = (lo >= 0) & (e < len(ctx))
            m = np.full(e.shape, np.nan)
            m[ok] = (csum[e[ok] + 1] - csum[lo[ok]]) / w
            cols.append(m)
        cols.append(h.astype(np.float64))
    return np.column_stack(cols) if cols else np.zeros((e.size, 0))
