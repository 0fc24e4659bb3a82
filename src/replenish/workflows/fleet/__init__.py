"""``replenish fleet``: every store × product series of a sales file, in parallel and resumable.

A retailer has thousands of store × product series, each needing its own
policy.  ``replenish fleet CONFIG --data FILE --group-by store,product`` runs
the historical-data pipeline of :mod:`replenish.workflows.compare` on every series of
``FILE``: each method is tuned or trained on the series' training window only
(the demand model is the weekday-empirical fit of that window,
:mod:`replenish.workflows.history`) and every finished policy is replayed on the actual
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

The workflow never prints: a series lost to a crashed worker is reported
through the ``log`` callback of :func:`run_fleet`; the progress bar (``progress``)
goes to stderr.

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

Modules: :mod:`.series` (discovery, labels, seeds, config validation),
:mod:`.task` (the per-series work), :mod:`.engines` (serial, local, Ray),
:mod:`.journal` (journal, table, manifest, lock), :mod:`.summary`
(:class:`FleetSummary`), :mod:`.report` (summary files and the HTML report)
and :mod:`.run` (the driver :func:`run_fleet`).
"""


from __future__ import annotations

from replenish.workflows.fleet.engines import ENGINES, EngineIter
from replenish.workflows.fleet.journal import (
    JOURNAL,
    LOCK,
    MANIFEST,
    METHOD_FIELDS,
    SERIES_FIELDS,
    TABLE_CSV,
    TABLE_PARQUET,
    VOLATILE_FIELDS,
    read_journal,
    read_table,
    results_frame,
    table_columns,
    write_table,
)
from replenish.workflows.fleet.report import write_summary
from replenish.workflows.fleet.run import DEFAULT_FLEET_METHODS, FleetRun, run_fleet
from replenish.workflows.fleet.series import (
    FLEET_KEYS,
    discover_series,
    key_string,
    load_fleet_config,
    series_seed,
    series_volumes,
    validate_fleet_config,
)
from replenish.workflows.fleet.summary import LEARNERS, REFERENCES, FleetSummary, MethodSummary, summarize
from replenish.workflows.fleet.task import SeriesTask, run_series

__all__ = [
    "DEFAULT_FLEET_METHODS",
    "ENGINES",
    "FLEET_KEYS",
    "JOURNAL",
    "LEARNERS",
    "LOCK",
    "MANIFEST",
    "METHOD_FIELDS",
    "REFERENCES",
    "SERIES_FIELDS",
    "TABLE_CSV",
    "TABLE_PARQUET",
    "VOLATILE_FIELDS",
    "EngineIter",
    "FleetRun",
    "FleetSummary",
    "MethodSummary",
    "SeriesTask",
    "discover_series",
    "key_string",
    "load_fleet_config",
    "read_journal",
    "read_table",
    "results_frame",
    "run_fleet",
    "run_series",
    "series_seed",
    "series_volumes",
    "summarize",
    "table_columns",
    "validate_fleet_config",
    "write_summary",
    "write_table",
]
