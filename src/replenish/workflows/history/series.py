"""Sales series: :class:`DemandSeries` (one store × product, daily) and :class:`HistoricalDemand` (its
training and test windows).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
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
        columns: feature columns read for ``[features]``, name → float64 (n,).
    """

    dates: np.ndarray
    demand: np.ndarray
    holiday: np.ndarray | None = field(default=None, repr=False)
    name: str = "series"
    columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

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
                            None if self.holiday is None else self.holiday[sel], self.name,
                            {k: v[sel] for k, v in self.columns.items()})

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
