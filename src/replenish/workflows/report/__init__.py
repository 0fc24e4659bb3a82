"""The comparison report: one self-contained ``report.html`` plus figures and tables.

:func:`write_report` takes :class:`~replenish.solvers.catalogue.SolveResult`
objects (one problem, or several :class:`ReportSection` s) and, for historical
comparisons, the :class:`~replenish.workflows.compare.Comparison` whose
test-window replays it plots.  It writes into a folder:

* ``report.html`` — opens offline: figures are embedded as base64 PNG, styles
  inline, no scripts, no external resources;
* every figure as ``<name>.png`` and (unless ``svg=False``) ``<name>.svg``;
* ``results.json`` (``{"title", "sections": [{"problem", "rows", ...}]}``; each
  row is :meth:`SolveResult.to_json` plus ``label``, ``policy`` and
  ``relative_to_best_static``) and ``results.csv`` (one line per method);
* ``<section>-replay.csv`` for historical test windows.

:func:`write_comparison_report` writes every output of ``replenish compare
--report``: ``compare.json``, ``compare.txt``, the policy files,
``test_replay.csv`` and ``test_replay.png``, then the report above.

The page starts with the decision of each section (:mod:`replenish.workflows.decision`:
the recommended policy, its saving against the reference, confidence, runner-up, reasons).
Contents of each section: the summary table (average cost per period with its
95% CI or "exact", gap to the DP optimum, cost relative to the decision's reference
— static (s, S) unless another is named, else the cheapest static rule —, training
time, fill rate; the recommended row highlighted); cost bars with
error bars and the cost breakdown; the order in each state for every method
against the optimum; heatmaps of the order over on-hand × in-transit (per
weekday when demand is seasonal); learning curves of learners
(``extras["learning_curve"] = {"steps", "gap"|"cost"}``, or DQN's
``extras["history"]`` / Q-learning's ``extras["curve"]`` lists of points), each
on its own training axis with a robust y-range;
the test window replayed for historical data (four weeks day by day, a weekly
summary, the cumulative cost); and explanations at a few representative states
(:mod:`replenish.workflows.explain`).

Modules: :mod:`.writer` (the entry points), :mod:`.tables` (rows, CSV),
:mod:`.html` (page assembly, escaping, tables), :mod:`.figures` (matplotlib
helpers, the palette, chart figures) and :mod:`.policy_figures` (orders per
state, heatmaps, the states shown).

Every file is written atomically (:func:`replenish.core.io.atomic_write`).
matplotlib is imported inside the figure functions with the Agg backend, so
importing this package stays light.  Figures that need states to be chosen (a
large state space) use a fixed generator ``numpy.random.default_rng(0)``, so
reports are reproducible.
"""

from __future__ import annotations

from replenish.workflows.report.figures import (
    COLORS,
    Figure,
    fig_costs,
    fig_explain,
    fig_learning,
    fig_replay,
    method_style,
)
from replenish.workflows.report.html import fmt_cost, fmt_pct
from replenish.workflows.report.policy_figures import (
    MAX_HEATMAP_AXIS,
    MAX_STATES_PLOTTED,
    fig_heatmaps,
    fig_orders_per_state,
    representative_states,
)
from replenish.workflows.report.tables import LEARNERS, STATIC_METHODS, best_static, summary_rows
from replenish.workflows.report.writer import (
    Report,
    ReportSection,
    write_comparison_report,
    write_report,
    write_rolling_report,
)

__all__ = [
    "COLORS",
    "LEARNERS",
    "MAX_HEATMAP_AXIS",
    "MAX_STATES_PLOTTED",
    "STATIC_METHODS",
    "Figure",
    "Report",
    "ReportSection",
    "best_static",
    "fig_costs",
    "fig_explain",
    "fig_heatmaps",
    "fig_learning",
    "fig_orders_per_state",
    "fig_replay",
    "fmt_cost",
    "fmt_pct",
    "method_style",
    "representative_states",
    "summary_rows",
    "write_comparison_report",
    "write_report",
    "write_rolling_report",
]
