"""Rows of the report and its CSV files: ``results.csv``, the replayed test window per day.

:func:`summary_rows` gives the rows of ``results.json`` (one per method:
:meth:`SolveResult.to_json` plus report fields), :func:`results_csv` flattens
them into ``results.csv``; :func:`replay_csv` (``<section>-replay.csv``) and
:func:`compare_replay_csv` (``test_replay.csv`` of ``replenish compare``) list
each replayed test day per method.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from replenish.core.validate import require
from replenish.model.demand import WEEKDAYS
from replenish.solvers.catalogue import SolveResult, learners, static_methods

#: Methods whose policies are "static" classic rules (the reference of relative costs).
STATIC_METHODS = static_methods()
#: Methods that learn from experience (learning curves).
LEARNERS = learners()


def unique_labels(results: Sequence[SolveResult], labels: Sequence[str] | None) -> list[str]:
    """Display labels: ``labels`` or the method names, made unique (policy description, then a number)."""
    if labels is not None:
        require(len(labels) == len(results), "labels", len(labels),
                f"need one label per result ({len(results)})")
        out = list(labels)
    else:
        out = [r.method for r in results]
    seen: dict[str, int] = {}
    for i, lab in enumerate(out):
        if lab in seen or out.count(lab) > 1:
            out[i] = f"{lab} ({results[i].policy.describe()})"
        seen[lab] = i
    for i, lab in enumerate(out):  # still duplicated (same description): number them
        if out.count(lab) > 1:
            out[i] = f"{lab} #{i + 1}"
    return out


def best_static(results: Sequence[SolveResult]) -> SolveResult | None:
    """The cheapest result among the static classic methods (:data:`STATIC_METHODS`)."""
    stat = [r for r in results if r.method in STATIC_METHODS]
    return min(stat, key=lambda r: r.average_cost) if stat else None


def summary_rows(results: Sequence[SolveResult], labels: Sequence[str] | None = None,
                 comparison: Any = None, reference: str | None = None) -> list[dict[str, Any]]:
    """One JSON-serialisable row per result (``SolveResult.to_json`` plus report fields).

    Added fields: ``label``, ``policy`` (description), ``relative_to_best_static``
    (``(g − g_static)/|g_static|``, ``None`` without a static method),
    ``best_static`` (its label), ``learner``; with a comparison, the ``test_*``
    and ``train_*`` replay figures of :mod:`replenish.compare`; ``reference`` (the label
    of the decision's reference, :mod:`replenish.workflows.decision`) and
    ``relative_to_reference`` (``(g − g_ref)/|g_ref|`` on the long-run cost).
    """
    labels = unique_labels(results, labels)
    ref_row = next((r for lab, r in zip(labels, results, strict=True) if lab == reference), None)
    ref = best_static(results)
    ref_label = labels[list(results).index(ref)] if ref is not None else None
    cmp_rows: dict[int, Any] = {}
    ref_total = None
    if comparison is not None:
        ref_total = comparison.reference_total
        for mc in comparison.results:
            if mc.solve is not None:
                cmp_rows[id(mc.solve)] = mc
    rows = []
    for lab, r in zip(labels, results, strict=True):
        row = r.to_json()
        row["label"] = lab
        row["policy"] = r.policy.describe()
        row["learner"] = r.method in LEARNERS
        row["perishable"] = r.policy.problem.perishable
        row["best_static"] = ref_label
        g0 = ref.average_cost if ref is not None else None
        row["relative_to_best_static"] = (None if g0 is None else
                                          (r.average_cost - g0) / abs(g0) if g0 != 0 else None)
        g1 = ref_row.average_cost if ref_row is not None else None
        row["reference"] = reference if ref_row is not None else None
        row["relative_to_reference"] = (None if not g1 else (r.average_cost - g1) / abs(g1))
        mc = cmp_rows.get(id(r))
        if mc is not None and mc.test is not None:
            row.update(mc.to_json(ref_total))
            row["label"], row["policy"] = lab, r.policy.describe()
        rows.append(row)
    return rows


CSV_FIELDS = ("label", "method", "policy", "average_cost", "exact", "ci95_low", "ci95_high",
               "optimal_average_cost", "gap", "relative_to_best_static", "relative_to_reference",
               "seconds", "fill_rate", "stockout_rate", "average_on_hand", "holding", "stockout",
               "ordering", "revenue", "waste",
               "test_average_cost", "test_total_cost", "test_fill_rate", "test_stockout_days",
               "test_relative_to_reference", "test_wasted", "test_waste_rate")


def results_csv(sections: list[dict[str, Any]]) -> str:
    """``results.csv``: one line per method and section, columns :data:`CSV_FIELDS`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("section", *CSV_FIELDS))
    for sec in sections:
        for row in sec["rows"]:
            ci = row.get("ci95") or (None, None)
            flat = dict(row, ci95_low=ci[0], ci95_high=ci[1], **(row.get("breakdown") or {}))
            w.writerow((sec["title"], *("" if flat.get(k) is None else flat.get(k)
                                        for k in CSV_FIELDS)))
    return buf.getvalue()


def _replay_days(comparison: Any) -> Iterator[tuple[str, Any, int, Any, Any, Any, Any, float]]:
    """``(method, date, weekday 0..6, demand, order, on hand, short, cost)`` per replayed test day."""
    for r in comparison.results:
        if r.test is None:
            continue
        t = r.test.trajectory
        wd = (r.test.dates.astype(np.int64) + 3) % 7
        n = r.policy.problem.stock_slots if r.policy.problem.perishable else 1  # every age class
        for i in range(r.test.days):
            yield (r.method, r.test.dates[i], int(wd[i]), t["demand"][i], t["orders"][i],
                   t["states"][i + 1][:n].sum(), t["short"][i], t["cost"][i])


def replay_csv(comparison: Any, labels: dict[str, str]) -> str:
    """``<section>-replay.csv``: each test day per method (its label), weekday names."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("method", "date", "weekday", "demand", "order", "on_hand", "short", "cost"))
    for method, date, wd, demand, order, on_hand, short, cost in _replay_days(comparison):
        w.writerow((labels.get(method, method), str(date), WEEKDAYS[wd], int(demand), int(order),
                    int(on_hand), int(short), f"{cost:.6g}"))
    return buf.getvalue()


def compare_replay_csv(comparison: Any) -> str:
    """``test_replay.csv`` of ``replenish compare``: each test day per method, weekday 0 = Monday."""
    lines = ["method,date,weekday,demand,order,on_hand,short,cost"]
    for method, date, wd, demand, order, on_hand, short, cost in _replay_days(comparison):
        lines.append(f"{method},{date},{wd},{demand},{order},{on_hand},{short},{cost:.6g}")
    return "\n".join(lines) + "\n"
