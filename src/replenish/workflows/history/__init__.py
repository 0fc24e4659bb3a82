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

from replenish.workflows.history.bootstrap import bootstrap_demand
from replenish.workflows.history.fitting import (
    derive_order_multiple,
    max_window_demand,
    problem_from_history,
)
from replenish.workflows.history.loading import (
    _window_arg,
    data_path,
    load_history,
    read_context,
    read_series,
    read_table,
    read_table_series,
    reread_context,
)
from replenish.workflows.history.replay import ReplayResult, default_start_state, replay
from replenish.workflows.history.series import (
    HISTORY_KEYS,
    TARGET_ACTIONS,
    DemandSeries,
    HistoricalDemand,
    fit_weekday_empirical,
)

__all__ = [
    "HISTORY_KEYS",
    "TARGET_ACTIONS",
    "DemandSeries",
    "HistoricalDemand",
    "ReplayResult",
    "_window_arg",
    "bootstrap_demand",
    "data_path",
    "default_start_state",
    "derive_order_multiple",
    "fit_weekday_empirical",
    "load_history",
    "max_window_demand",
    "problem_from_history",
    "read_context",
    "read_series",
    "read_table",
    "read_table_series",
    "replay",
    "reread_context",
]
