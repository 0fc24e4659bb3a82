"""The comparison report: one self-contained ``report.html`` plus figures and tables.

:func:`write_report` takes :class:`~replenish.methods.SolveResult` objects (one
problem, or several :class:`ReportSection` s) and, for historical comparisons,
the :class:`~replenish.compare.Comparison` whose test-window replays it plots.
It writes into a folder:

* ``report.html`` — opens offline: figures are embedded as base64 PNG, styles
  inline, no scripts, no external resources;
* every figure as ``<name>.png`` and (unless ``svg=False``) ``<name>.svg``;
* ``results.json`` (``{"title", "sections": [{"problem", "rows", ...}]}``; each
  row is :meth:`SolveResult.to_json` plus ``label``, ``policy`` and
  ``relative_to_best_static``) and ``results.csv`` (one line per method);
* ``<section>-replay.csv`` for historical test windows.

Contents of each section: the summary table (average cost per period with its
95% CI or "exact", gap to the DP optimum, cost relative to the best static
policy — the cheapest of order-up-to, (s, S), (s, Q), capped base-stock and
constant order among the results —, training time, fill rate); cost bars with
error bars and the cost breakdown; the order in each state for every method
against the optimum; heatmaps of the order over on-hand × in-transit (per
weekday when demand is seasonal); learning curves of learners
(``extras["learning_curve"] = {"steps", "gap"|"cost"}``, or DQN's
``extras["history"]`` / Q-learning's ``extras["curve"]`` lists of points);
the test window replayed (demand, stock, orders, stockout days) for
historical data; and explanations at a few representative states (:mod:`replenish.explain`).

Every file is written atomically (temp file + rename).  matplotlib is imported
lazily with the Agg backend, so ``import replenish`` stays light.  Figures that
need states to be chosen (a large state space) use a fixed generator
``numpy.random.default_rng(0)`` owned by this module, so reports are
reproducible.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.io import atomic_write, json_default
from replenish.core.validate import require
from replenish.model.demand import WEEKDAYS
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.solvers.catalogue import SolveResult, learners, static_methods

#: Methods whose policies are "static" classic rules (the reference of relative costs).
STATIC_METHODS = static_methods()
#: Methods that learn from experience (learning curves).
LEARNERS = learners()
#: Order-per-state figures show every state up to this many per weekday, else the most visited.
MAX_STATES_PLOTTED = 90
#: Heatmaps subsample axes longer than this.
MAX_HEATMAP_AXIS = 260
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
_COST_COLORS = {"holding": "#4c72b0", "stockout": "#c44e52", "ordering": "#8172b2",
                "revenue": "#55a868"}


# ----------------------------------------------------------------------------
# inputs and outputs
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportSection:
    """One problem of a report.

    Attributes:
        results: the methods' results on this problem (same problem for all).
        labels: display label per result (default: method name, made unique).
        title: section heading (default: the problem name).
        comparison: a :class:`replenish.compare.Comparison` whose test-window
            replays are plotted and tabulated (its results should be
            ``results``), or ``None``.
        explain_states: full states to explain (default: a few representative ones).
    """

    results: Sequence[SolveResult]
    labels: Sequence[str] | None = None
    title: str | None = None
    comparison: Any = None
    explain_states: Sequence[Sequence[int]] | None = None


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote.

    Attributes:
        folder: the output folder.
        html: path of ``report.html``.
        json: path of ``results.json``; ``csv``: path of ``results.csv``.
        figures: names of the figures (each has ``.png`` and ``.svg`` files).
        files: every file written.
        data: the ``results.json`` object.
    """

    folder: Path
    html: Path
    json: Path
    csv: Path
    figures: tuple[str, ...]
    files: tuple[Path, ...]
    data: dict[str, Any] = field(repr=False)


@dataclass
class _Figure:
    name: str
    title: str
    caption: str
    png: bytes
    svg: str | None


def _slug(text: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return s or "x"


def _unique_labels(results: Sequence[SolveResult], labels: Sequence[str] | None) -> list[str]:
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


# ----------------------------------------------------------------------------
# summary rows
# ----------------------------------------------------------------------------
def best_static(results: Sequence[SolveResult]) -> SolveResult | None:
    """The cheapest result among the static classic methods (:data:`STATIC_METHODS`)."""
    stat = [r for r in results if r.method in STATIC_METHODS]
    return min(stat, key=lambda r: r.average_cost) if stat else None


def summary_rows(results: Sequence[SolveResult], labels: Sequence[str] | None = None,
                 comparison: Any = None) -> list[dict[str, Any]]:
    """One JSON-serialisable row per result (``SolveResult.to_json`` plus report fields).

    Added fields: ``label``, ``policy`` (description), ``relative_to_best_static``
    (``(g − g_static)/|g_static|``, ``None`` without a static method),
    ``best_static`` (its label), ``learner``; with a comparison, the ``test_*``
    and ``train_*`` replay figures of :mod:`replenish.compare`.
    """
    labels = _unique_labels(results, labels)
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
        row["best_static"] = ref_label
        g0 = ref.average_cost if ref is not None else None
        row["relative_to_best_static"] = (None if g0 is None else
                                          (r.average_cost - g0) / abs(g0) if g0 != 0 else None)
        mc = cmp_rows.get(id(r))
        if mc is not None and mc.test is not None:
            row.update(mc.to_json(ref_total))
            row["label"], row["policy"] = lab, r.policy.describe()
        rows.append(row)
    return rows


_CSV_FIELDS = ("label", "method", "policy", "average_cost", "exact", "ci95_low", "ci95_high",
               "optimal_average_cost", "gap", "relative_to_best_static", "seconds", "fill_rate",
               "stockout_rate", "average_on_hand", "holding", "stockout", "ordering", "revenue",
               "test_average_cost", "test_total_cost", "test_fill_rate", "test_stockout_days",
               "test_relative_to_reference")


def _csv_text(sections: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("section", *_CSV_FIELDS))
    for sec in sections:
        for row in sec["rows"]:
            ci = row.get("ci95") or (None, None)
            flat = dict(row, ci95_low=ci[0], ci95_high=ci[1], **(row.get("breakdown") or {}))
            w.writerow((sec["title"], *("" if flat.get(k) is None else flat.get(k)
                                        for k in _CSV_FIELDS)))
    return buf.getvalue()


# ----------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------
def fmt_cost(x: float | None) -> str:
    """Cost cells of the summary table: 4 decimals (``results.json`` rounds to the same)."""
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def fmt_pct(x: float | None) -> str:
    """Relative figures: signed percent with 2 decimals."""
    return "—" if x is None else f"{100 * x:+.2f}%"


def _ci_text(row: dict[str, Any]) -> str:
    if row.get("exact"):
        return "exact"
    ci = row.get("ci95")
    if ci:
        return f"± {(ci[1] - ci[0]) / 2:.4f}"
    return "—"


# ----------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
                         "legend.fontsize": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.fonttype": "none",
                         "figure.dpi": 100})
    return plt


#: Whether figures are also rendered as SVG (set per call by :func:`write_report`).
_SVG = [True]


def _finish(fig: Any, name: str, title: str, caption: str) -> _Figure:
    plt = _plt()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    svg = None
    if _SVG[0]:
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        svg = buf.getvalue()
    plt.close(fig)
    return _Figure(name=name, title=title, caption=caption, png=png.getvalue(), svg=svg)


def _optimum_policy(problem: Problem, results: Sequence[SolveResult]) -> Policy | None:
    """The DP-optimal policy: the ``dp`` result's, else solved (``None`` when too large)."""
    from replenish.workflows.explain import action_values

    dp_pol = next((r.policy for r in results
                   if r.method == "dp" and r.params.get("objective", "average") == "average"), None)
    av = action_values(problem, optimum=dp_pol)
    return av.policy if av is not None else dp_pol


def _plot_states(problem: Problem, reference: Policy | None) -> np.ndarray:
    """Full states for the order-per-state figure, sorted by (weekday, α, β)."""
    from replenish.model.statespace import StateSpace

    try:
        space = StateSpace(problem, reduced=False)
        n = space.count() // (problem.period if problem.seasonal else 1)
    except Exception:  # too large to index: use visited states
        n = MAX_STATES_PLOTTED + 1
    if n <= MAX_STATES_PLOTTED:
        states = space.enumerate()
        if problem.lost_sales is False:
            states = states[states[:, 0] >= -max(3, problem.lead_time + 1)]
    else:
        from replenish.evaluation.simulate import simulate

        pol = reference
        if pol is None:
            from replenish.policies.classic import OrderUpTo

            pol = OrderUpTo(problem=problem, level=problem.bound // 2)
        sim = simulate(problem, pol, rng=np.random.default_rng(0), n_paths=16, horizon=420,
                       warmup=50, record=True)
        assert sim.trajectory is not None
        visited = sim.trajectory["states"][:, 50:].reshape(-1, problem.state_dim)
        uniq, counts = np.unique(visited, axis=0, return_counts=True)
        keep = np.argsort(-counts, kind="stable")[: MAX_STATES_PLOTTED * (2 if problem.seasonal else 1)]
        states = uniq[keep]
    cols = [states[:, i] for i in range(states.shape[1] - 1, -1, -1)]
    if problem.seasonal:  # weekday first, then α, β
        cols = [states[:, i] for i in range(problem.lead_time, -1, -1)] + [states[:, -1]]
    return states[np.lexsort(cols)]


def fig_orders_per_state(problem: Problem, results: Sequence[SolveResult], labels: Sequence[str],
                         optimum: Policy | None, prefix: str) -> _Figure | None:
    """Order (units) per state for each method, against the DP optimum."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator
    states = _plot_states(problem, optimum)
    shown = [(lab, r) for lab, r in zip(labels, results, strict=True) if r.method != "dp"]
    if not shown and optimum is None:
        return None
    if not shown:
        shown = [("DP optimum", None)]
    n = len(states)
    x = np.arange(n)
    opt = optimum.act(states) if optimum is not None else None
    height = 1.75 * len(shown) + 1.6
    fig, axes = plt.subplots(len(shown), 1, figsize=(max(9.0, min(0.16 * n + 2, 15)), height),
                             squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.99, top=1 - 0.35 / height, bottom=1.35 / height,
                        hspace=0.45)
    ymax = max(1, int(problem.max_order_units))
    for i, (ax, (lab, r)) in enumerate(zip(axes[:, 0], shown, strict=True)):
        if problem.seasonal:
            for w in range(1, problem.period):
                edge = np.searchsorted(states[:, -1], w) - 0.5
                ax.axvline(edge, color="0.8", lw=0.8, zorder=0)
        if opt is not None:
            ax.plot(x, opt, "-", color="0.25", lw=1.2, drawstyle="steps-mid", label="DP optimum",
                    zorder=2)
        if r is not None:
            orders = r.policy.act(states)
            ax.plot(x, orders, "o", ms=4.5, color=_COLORS[i % len(_COLORS)], label=lab, zorder=3,
                    alpha=0.9)
            diff = "" if opt is None else \
                f" — differs from the optimum in {int((orders != opt).sum())} of {n} states"
            ax.set_title(f"{lab}{diff}", loc="left")
        else:
            ax.set_title("DP optimum", loc="left")
        ax.set_ylabel("order (units)")
        ax.set_ylim(-0.05 * ymax - 0.5, ymax * 1.05 + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.legend(loc="upper right", frameon=False, ncol=2)
        ax.grid(axis="y", color="0.92")
        ax.set_xlim(-0.8, n - 0.2)
        if i < len(shown) - 1:
            ax.set_xticks([])
    from replenish.workflows.explain import state_label

    ax = axes[-1, 0]
    if n <= 80:
        ax.set_xticks(x)
        ax.set_xticklabels([state_label(problem, s) for s in states], rotation=90,
                           fontsize=7 if n > 40 else 8)
    elif problem.seasonal:  # too many states to label: name the weekday blocks
        w = states[:, -1]
        centers = [float(np.mean(x[w == k])) for k in range(problem.period) if np.any(w == k)]
        names = [WEEKDAYS[k] if problem.period == 7 else f"w{k}" for k in range(problem.period)
                 if np.any(w == k)]
        ax.set_xticks(centers)
        ax.set_xticklabels(names)
    else:
        step = math.ceil(n / 60)
        ax.set_xticks(x[::step])
        ax.set_xticklabels([state_label(problem, s) for s in states[::step]], rotation=90, fontsize=7)
    what = "(α, β₁" + (", …, β_L" if problem.lead_time > 1 else "") + ")" if problem.lead_time else "α"
    ax.set_xlabel(f"state {what}: units on hand after today's demand, units in transit"
                  + (" — and tomorrow's weekday" if problem.seasonal else "")
                  + (" (sorted by weekday, then α, β)" if n > 80 and problem.seasonal else ""))
    all_states = n == len(states) and n <= MAX_STATES_PLOTTED * (problem.period if problem.seasonal else 1)
    caption = ("Order placed in each state (x axis: on hand α, in transit β; "
               + ("every state of the bounded space" if all_states and not problem.seasonal
                  else "the most visited states") + "), each method (dots) against the DP optimum (line).")
    return _finish(fig, f"{prefix}orders-per-state", "Order per state", caption)


def _visited_box(problem: Problem, reference: Policy | None) -> tuple[int, int]:
    """Upper ends of the on-hand and in-transit axes: the whole bound for small problems, else
    1.25 × the largest values seen when simulating ``reference`` (fixed generator, seed 0)."""
    B = problem.bound
    if B <= 40 or reference is None:
        return B, B
    from replenish.evaluation.simulate import simulate

    sim = simulate(problem, reference, rng=np.random.default_rng(0), n_paths=8, horizon=400,
                   warmup=20, record=True)
    assert sim.trajectory is not None
    st = sim.trajectory["states"][:, 20:].reshape(-1, problem.state_dim)
    a_hi = int(np.ceil(1.25 * max(1, st[:, 0].max()))) + problem.order_multiple
    b_hi = int(np.ceil(1.25 * max(1, st[:, 1].max()))) + problem.order_multiple if problem.lead_time else B
    return min(B, a_hi), min(B, b_hi)


def _heatmap_grid(problem: Problem, phase: int, box: tuple[int, int] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States of the on-hand × in-transit grid: α = lo..B, β_1 = 0, m, .. (other slots 0)."""
    lo = problem.min_net_inventory
    B = problem.bound
    a_hi, b_hi = box if box is not None else (B, B)
    alphas = np.arange(lo, a_hi + 1)
    if len(alphas) > MAX_HEATMAP_AXIS:
        alphas = np.unique(np.linspace(lo, a_hi, MAX_HEATMAP_AXIS).round().astype(np.int64))
    if problem.lead_time >= 1:
        betas = np.arange(0, min(problem.max_order_units, B - max(lo, 0), b_hi) + 1,
                          problem.order_multiple)
        if len(betas) > MAX_HEATMAP_AXIS:
            betas = betas[:: math.ceil(len(betas) / MAX_HEATMAP_AXIS)]
    else:
        betas = np.zeros(1, dtype=np.int64)
    A, Bt = np.meshgrid(alphas, betas)
    st = np.zeros((A.size, problem.state_dim), dtype=np.int64)
    st[:, 0] = A.ravel()
    if problem.lead_time >= 1:
        st[:, 1] = Bt.ravel()
    if problem.seasonal:
        st[:, -1] = phase
    return alphas, betas, st


def fig_heatmaps(problem: Problem, policies: Sequence[tuple[str, Policy]], prefix: str,
                 reference: Policy | None = None) -> _Figure:
    """Order over on hand (x) × in transit (y), one panel per policy (× weekday if seasonal)."""
    plt = _plt()
    box = _visited_box(problem, reference)
    phases = list(range(problem.period)) if problem.seasonal else [0]
    ncol = len(phases) if problem.seasonal else min(4, len(policies))
    nrow = len(policies) if problem.seasonal else math.ceil(len(policies) / ncol)
    small = problem.bound <= 20
    w_panel = 3.3 if not problem.seasonal else 2.05
    h_panel = 2.9 if small else 2.3
    width, height = w_panel * ncol + 1.2, h_panel * nrow + 0.8
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, height), squeeze=False, sharex=True, sharey=True)
    fig.subplots_adjust(left=0.75 / width, right=0.92, bottom=0.55 / height, top=1 - 0.45 / height,
                        wspace=0.12, hspace=0.55 if problem.seasonal else 0.35)
    cmap = plt.get_cmap("viridis").with_extremes(bad="#eeeeee")
    im = None
    grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k, (_lab, pol) in enumerate(policies):
        for w in phases:
            alphas, betas, st = _heatmap_grid(problem, w, box)
            ok = st[:, : problem.lead_time + 1].sum(axis=1) <= problem.bound
            z = np.full(st.shape[0], np.nan)
            if ok.any():
                z[ok] = pol.act(st[ok])
            grids[k, w] = (alphas, betas, z.reshape(len(betas), len(alphas)))
    vmax = max(1.0, float(np.nanmax([np.nanmax(g[2]) if np.isfinite(g[2]).any() else 0.0
                                     for g in grids.values()])))
    for k, (lab, _pol) in enumerate(policies):
        for j, w in enumerate(phases):
            ax = axes[k, j] if problem.seasonal else axes[k // ncol, k % ncol]
            alphas, betas, Z = grids[k, w]
            ext = (alphas[0] - 0.5, alphas[-1] + 0.5, betas[0] - 0.5 * problem.order_multiple,
                   betas[-1] + 0.5 * problem.order_multiple)
            im = ax.imshow(np.ma.masked_invalid(Z), origin="lower", aspect="auto", cmap=cmap,
                           vmin=0, vmax=vmax, extent=ext, interpolation="nearest")
            if small and len(alphas) * len(betas) <= 150:
                for (bi, ai), v in np.ndenumerate(Z):
                    if not np.isnan(v):
                        ax.text(alphas[ai], betas[bi], f"{int(v)}", ha="center", va="center",
                                fontsize=7, color="white" if v < 0.6 * vmax else "black")
            title = lab if not problem.seasonal else (f"{lab}\n{WEEKDAYS[w]}" if j == 0 else WEEKDAYS[w])
            ax.set_title(title, loc="left", fontsize=9)
            bottom = k == len(policies) - 1 if problem.seasonal else k // ncol == nrow - 1
            if bottom:
                ax.set_xlabel("on hand α (units)")
            if j == 0 or (not problem.seasonal and k % ncol == 0):
                ax.set_ylabel("in transit β₁ (units)" if problem.lead_time else "(no transit, L = 0)")
    if not problem.seasonal:
        for k in range(len(policies), nrow * ncol):
            axes[k // ncol, k % ncol].set_visible(False)
    cax = fig.add_axes((0.94, 0.15, 0.012, 0.7))
    if im is not None:
        fig.colorbar(im, cax=cax, label="order (units)")
    extra = " Other pipeline slots are 0." if problem.lead_time > 1 else ""
    per = " Columns: tomorrow's weekday." if problem.seasonal else ""
    zoom = (f" Axes zoomed to the stock levels the optimum visits (up to {box[0]} on hand, "
            f"{box[1]} in transit)." if box != (problem.bound, problem.bound) else "")
    cap = ("Order (colour, units) in each state: on hand after today's demand (x) and units in "
           f"transit arriving tomorrow (y); grey = infeasible (above the bound B = {problem.bound})."
           + per + zoom + extra)
    return _finish(fig, f"{prefix}heatmaps", "Order heatmaps", cap)


def fig_costs(rows: list[dict[str, Any]], prefix: str, historical: bool) -> _Figure:
    """Cost per period with 95% error bars, and the breakdown by component."""
    plt = _plt()
    n = len(rows)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.5, 0.42 * n + 1.9), sharey=True)
    y = np.arange(n)[::-1]
    cost = np.array([r["average_cost"] for r in rows])
    err = np.array([0.0 if r.get("exact") or not r.get("ci95") else (r["ci95"][1] - r["ci95"][0]) / 2
                    for r in rows])
    colors = [_COLORS[i % len(_COLORS)] for i in range(n)]
    a1.barh(y, cost, xerr=err, color=colors, alpha=0.85, capsize=4, height=0.65)
    for yi, c, e in zip(y, cost, err, strict=True):
        a1.text(c + e + 0.01 * max(abs(cost).max(), 1), yi, f"{c:.2f}", va="center", fontsize=8.5)
    opt = next((r["optimal_average_cost"] for r in rows if r.get("optimal_average_cost") is not None), None)
    if opt is not None:
        a1.axvline(opt, color="k", ls="--", lw=1)
        a1.text(opt, -0.75, f" optimum {opt:.2f}", fontsize=8.5, va="center", ha="left")
    a1.set_ylim(-1.05, n - 0.45)
    a1.set_yticks(y)
    a1.set_yticklabels([r["label"] for r in rows])
    a1.set_xlabel("long-run average cost ($ per period)" + (" under the fitted model" if historical else ""))
    a1.set_title("Average cost (bars: 95% CI when simulated)", loc="left")
    a1.set_xlim(min(0.0, float(cost.min()) * 1.1), float((cost + err).max()) * 1.15 + 1e-9)
    left = np.zeros(n)
    for comp in ("holding", "stockout", "ordering"):
        v = np.array([r["breakdown"].get(comp, 0.0) for r in rows])
        if np.any(v):
            a2.barh(y, v, left=left, color=_COST_COLORS[comp], label=comp, height=0.65)
            left += v
    rev = np.array([r["breakdown"].get("revenue", 0.0) for r in rows])
    if np.any(rev):
        a2.barh(y, -rev, color=_COST_COLORS["revenue"], label="revenue (−)", height=0.65)
    a2.axvline(0, color="0.3", lw=0.8)
    a2.set_xlabel("$ per period")
    a2.set_title("Cost breakdown", loc="left")
    a2.legend(loc="lower right", frameon=False, ncol=4, bbox_to_anchor=(1.0, 1.06))
    fig.tight_layout()
    return _finish(fig, f"{prefix}costs", "Cost comparison",
                   "Long-run average cost per period of each method (dashed: DP optimum) and its "
                   "components (holding, stockout, ordering; revenue counts negative).")


def _curve(r: SolveResult) -> tuple[np.ndarray, np.ndarray, str] | None:
    """``(steps, y, kind)`` with kind ``"gap"`` (fraction) or ``"cost"`` ($/period)."""
    lc = r.extras.get("learning_curve")
    if isinstance(lc, dict) and lc.get("steps"):
        steps = np.asarray(lc["steps"], dtype=float)
        if lc.get("gap") is not None:
            return steps, np.asarray(lc["gap"], dtype=float), "gap"
        if lc.get("cost") is not None:
            return steps, np.asarray(lc["cost"], dtype=float), "cost"
    hist = r.extras.get("history") or r.extras.get("curve")  # DQN / Q-learning conventions
    key = "step" if isinstance(hist, list) and hist and isinstance(hist[0], dict) and "step" in hist[0] \
        else "steps"
    if isinstance(hist, list) and hist and isinstance(hist[0], dict) and key in hist[0]:
        steps = np.array([h[key] for h in hist], dtype=float)
        if all(h.get("average_cost") is not None for h in hist):
            return steps, np.array([h["average_cost"] for h in hist], dtype=float), "cost"
        if all(h.get("gap") is not None for h in hist):
            return steps, np.array([h["gap"] for h in hist], dtype=float), "gap"
    return None


def fig_learning(results: Sequence[SolveResult], labels: Sequence[str], prefix: str) -> _Figure | None:
    """Gap to the optimum (or cost) against training steps, for each learner."""
    curves = []
    for lab, r in zip(labels, results, strict=True):
        c = _curve(r)
        if c is not None:
            curves.append((lab, r, *c))
    if not curves:
        return None
    plt = _plt()
    opt = next((r.optimal_average_cost for r in results if r.optimal_average_cost is not None), None)
    as_gap = opt is not None and opt != 0
    fig, ax = plt.subplots(figsize=(9.5, 4.0))
    for i, (lab, _r, steps, y, kind) in enumerate(curves):
        if as_gap and kind == "cost":
            y = (y - opt) / abs(opt)
        elif not as_gap and kind == "gap" and opt is not None:
            y = opt + y * abs(opt)
        ax.plot(steps, 100 * y if as_gap else y, "o-", ms=3.5, color=_COLORS[(i + 3) % len(_COLORS)],
                label=lab)
    if as_gap:
        ax.axhline(0, color="k", ls="--", lw=1, label="DP optimum")
        ax.set_ylabel("gap to the optimum (%)")
    else:
        ax.set_ylabel("average cost ($ per period)")
    ax.set_xlabel("training steps (environment transitions)")
    ax.grid(color="0.92")
    ax.legend(frameon=False)
    ax.set_title("Learning curves (periodic evaluations of the greedy policy)", loc="left")
    fig.tight_layout()
    return _finish(fig, f"{prefix}learning", "Learning curves",
                   "Greedy policy evaluated during training (simulated; DQN keeps the best one).")


def fig_replay(comparison: Any, labels_by_method: dict[str, str], prefix: str) -> list[_Figure]:
    """The test window replayed: demand, stock, orders and stockout days per method; cumulative cost."""
    plt = _plt()
    runs = [r for r in comparison.results if r.test is not None]
    if not runs:
        return []
    figs = []
    fig, axes = plt.subplots(len(runs), 1, figsize=(13, 2.25 * len(runs) + 0.9), sharex=True,
                             squeeze=False)
    for ax, r in zip(axes[:, 0], runs, strict=True):
        t = r.test.trajectory
        x = r.test.dates.astype("datetime64[D]").astype(object)
        ax.fill_between(x, t["demand"], step="mid", color="0.80", lw=0, label="demand (units/day)")
        ax.plot(x, t["states"][1:, 0], "-", color="#1f77b4", lw=1.0, label="on hand at close")
        pos = t["orders"] > 0
        ax.plot(np.asarray(x)[pos], t["orders"][pos], ".", ms=3, color="#ff7f0e", label="order placed")
        out = t["short"] > 0
        if out.any():
            ymax = max(float(t["demand"].max()), 1.0)
            ax.plot(np.asarray(x)[out], np.full(int(out.sum()), -0.06 * ymax), "|", ms=7, color="#d62728",
                    mew=1.5, label="stockout day")
        lab = labels_by_method.get(r.method, r.method)
        ax.set_title(f"{lab}: {r.test.average_cost:.2f} $/day, fill rate {r.test.fill_rate:.3f}, "
                     f"{r.test.stockout_days} stockout days", loc="left")
        ax.set_ylabel("units")
        ax.grid(axis="y", color="0.93")
    axes[0, 0].legend(loc="upper left", ncol=4, frameon=False, bbox_to_anchor=(0, 1.32))
    axes[-1, 0].set_xlabel("test window (date)")
    fig.tight_layout()
    figs.append(_finish(fig, f"{prefix}replay", "Test window replayed",
                        "Each policy replayed on the actual demand of the held-out test window: daily "
                        "demand (grey), stock on hand at closing (blue), orders placed (orange dots), "
                        "days with unmet demand (red ticks)."))
    fig, ax = plt.subplots(figsize=(11, 3.8))
    for i, r in enumerate(runs):
        x = r.test.dates.astype("datetime64[D]").astype(object)
        ax.plot(x, np.cumsum(r.test.trajectory["cost"]), color=_COLORS[i % len(_COLORS)],
                label=f"{labels_by_method.get(r.method, r.method)} ({r.test.total_cost:,.0f} $)")
    ax.set_ylabel("cumulative cost ($)")
    ax.set_xlabel("test window (date)")
    ax.grid(color="0.93")
    ax.legend(frameon=False, fontsize=8.5)
    ax.set_title("Cumulative cost over the test window", loc="left")
    fig.tight_layout()
    figs.append(_finish(fig, f"{prefix}replay-cost", "Cumulative test cost",
                        "Total cost accumulated day by day on the test window (lower is better)."))
    return figs


def representative_states(problem: Problem, optimum: Policy | None) -> list[np.ndarray]:
    """A few states worth explaining: empty, the most likely under the optimum, low and high stock."""
    states = [problem.start_state(0)]
    peak = 0
    if problem.seasonal:
        peak = int(np.argmax([problem.demand.mean_at(w) for w in range(problem.period)]))
    if optimum is not None:
        try:
            from replenish.evaluation.markov import evaluate_exact

            ev = evaluate_exact(problem, optimum)
            full = ev.chain.space.expand(ev.chain.states)
            likely = full[int(np.argmax(ev.stationary))]
            states.append(likely)
            if problem.lead_time >= 1 and likely[0] > 0:  # same position, split on hand / in transit
                s = likely.copy()
                m = problem.order_multiple
                shift = min(int(s[0]), m * max(1, int(s[0]) // (2 * m)))
                s[0] -= shift
                s[1] += shift
                if s[1] <= problem.max_order_units:
                    states.append(s)
        except Exception:  # explanation states are a convenience
            pass
    hi = problem.start_state(peak)
    hi[0] = max(0, (problem.bound * 3) // 4)
    states.append(hi)
    if problem.seasonal:
        e = problem.start_state(peak)
        states.append(e)
    out, seen = [], set()
    for s in states:
        key = tuple(int(x) for x in s)
        if key not in seen:
            seen.add(key)
            out.append(np.asarray(s, dtype=np.int64))
    return out[:5]


def fig_explain(problem: Problem, explanations: list[Any], labels: Sequence[str],
                prefix: str) -> _Figure | None:
    """Regret of every candidate order in each representative state, with each method's choice."""
    exps = [e for e in explanations if e.values]
    if not exps:
        return None
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    from replenish.workflows.explain import state_label

    fig, axes = plt.subplots(1, len(exps), figsize=(max(3.2 * len(exps), 9.0), 4.2), squeeze=False)
    for ax, e in zip(axes[0], exps, strict=True):
        orders = np.array([v.order for v in e.values])
        reg = np.array([v.regret for v in e.values])
        ax.plot(orders, reg, "-", color="0.4", lw=1.2)
        ax.plot(orders, reg, ".", color="0.4", ms=4)
        chosen = []
        for i, p in enumerate(e.policies):
            if p.regret is None:
                continue
            chosen.append(p.regret)
            if p.label == "DP optimum":
                ax.plot([p.order], [p.regret], "*", ms=15, color="k", label=p.label, zorder=5)
            else:  # concentric rings: methods choosing the same order stay visible
                ax.plot([p.order], [p.regret], "o", ms=max(5.0, 17 - 2.2 * i), mfc="none",
                        mec=_COLORS[i % len(_COLORS)], mew=1.8, label=p.label, zorder=4)
        ax.set_title(f"state {state_label(problem, np.asarray(e.state))}", loc="left")
        ax.set_xlabel("order tonight (units)")
        near = reg[np.abs(orders - orders[np.argmin(reg)]) <= max(2, 0.2 * orders.max())]
        lim = max([float(near.max()), *chosen, 1e-3])
        ax.set_ylim(-0.08 * lim, lim * 1.15)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.grid(color="0.93")
    axes[0, 0].set_ylabel("extra long-run cost ($)")
    h, lab = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    fig.legend(h, lab, loc="lower center", ncol=min(len(lab), 5), frameon=False, fontsize=9)
    return _finish(fig, f"{prefix}explain", "Value of each candidate order",
                   "Regret Q*(s, a) − min Q*(s, ·) of each order a (exact DP: extra long-run cost of "
                   "ordering a tonight and acting optimally afterwards); markers: each method's order "
                   "(★ DP optimum).")


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;background:#f6f7f9;color:#222}
main{max-width:1240px;margin:0 auto;padding:24px 28px;background:#fff}
h1{font-size:26px;margin:4px 0 4px}h2{font-size:21px;margin:34px 0 8px;border-bottom:2px solid #e3e6ea;
padding-bottom:4px}h3{font-size:16px;margin:22px 0 6px}
p.meta{color:#666;margin:0 0 14px;font-size:13px}
.tw{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e6e8eb;text-align:right;white-space:nowrap}
th{white-space:normal;vertical-align:bottom}
th{background:#f0f2f5;font-weight:600}td.l,th.l{text-align:left}
tr.best td{background:#eef8ee}
figure{margin:10px 0 22px}figure img{max-width:100%;height:auto;border:1px solid #eceef1}
figcaption{font-size:13px;color:#555;margin-top:4px}
.params td{text-align:left}.note{font-size:13px;color:#555}
code{background:#f0f2f5;padding:1px 4px;border-radius:3px}
"""


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, cls: str = "",
           left: int = 1, row_classes: Sequence[str] | None = None) -> str:
    h = "".join(f'<th class="l">{html.escape(c)}</th>' if i < left else f"<th>{html.escape(c)}</th>"
                for i, c in enumerate(head))
    body = []
    for k, r in enumerate(rows):
        tds = "".join(f'<td class="l">{html.escape(str(c))}</td>' if i < left
                      else f"<td>{html.escape(str(c))}</td>" for i, c in enumerate(r))
        rc = f' class="{row_classes[k]}"' if row_classes and row_classes[k] else ""
        body.append(f"<tr{rc}>{tds}</tr>")
    c = f' class="{cls}"' if cls else ""
    rows_html = "".join(body)
    return f'<div class="tw"><table{c}><thead><tr>{h}</tr></thead><tbody>{rows_html}</tbody></table></div>'


def _figure_html(f: _Figure) -> str:
    b64 = base64.b64encode(f.png).decode("ascii")
    files = f"<code>{f.name}.png</code>" + (f", <code>{f.name}.svg</code>" if f.svg is not None else "")
    return (f'<figure id="{f.name}"><img alt="{html.escape(f.title)}" '
            f'src="data:image/png;base64,{b64}"><figcaption>{html.escape(f.caption)} '
            f"({files})</figcaption></figure>")


def _problem_table(problem: Problem) -> str:
    d = problem.demand.to_dict()
    dem = d.get("kind", "?")
    if problem.seasonal:
        dem += ", weekday means " + ", ".join(f"{WEEKDAYS[w]} {problem.demand.mean_at(w):.1f}"
                                              for w in range(problem.period))
    else:
        dem += f", mean {problem.demand.mean_at(0):g} units/day"
    rows = [("demand D", dem), ("lead time L", f"{problem.lead_time} period(s)"),
            ("capacity C", "—" if problem.capacity is None else f"{problem.capacity} units"),
            ("position bound B", f"{problem.bound} units"),
            ("order multiple m", f"{problem.order_multiple} units"),
            ("excess demand", problem.excess_demand),
            ("holding h", f"{problem.holding_cost:g} $/unit/period"),
            ("stockout p", f"{problem.stockout_cost:g} $/unit"),
            ("fixed order K", f"{problem.fixed_order_cost:g} $/order"),
            ("unit cost c", f"{problem.unit_cost:g} $/unit"), ("price r", f"{problem.price:g} $/unit")]
    return _table(("parameter", "value"), rows, cls="params", left=2)


def _summary_html(rows: list[dict[str, Any]], historical: bool) -> str:
    head = ["method", "policy", "avg cost $/period", "95% CI / exact", "gap to optimum",
            "vs best static", "training s", "fill rate", "days with stockout", "avg on hand"]
    if historical:
        head += ["test $/day", "test total $", "test vs ref", "test stockout days"]
    body, classes = [], []
    best = min((r["average_cost"] for r in rows), default=None)
    for r in rows:
        line = [r["label"], r["policy"], fmt_cost(r["average_cost"]), _ci_text(r), fmt_pct(r.get("gap")),
                fmt_pct(r.get("relative_to_best_static")), f"{r.get('seconds', 0.0):.2f}",
                f"{r['fill_rate']:.4f}", f"{100 * r['stockout_rate']:.2f}%", f"{r['average_on_hand']:.2f}"]
        if historical:
            if r.get("test_average_cost") is not None:
                rel = r.get("test_relative_to_reference")
                line += [fmt_cost(r["test_average_cost"]), f"{r['test_total_cost']:.2f}",
                         "—" if rel is None else f"{100 * (rel - 1):+.2f}%", str(r["test_stockout_days"])]
            else:
                line += ["—"] * 4
        body.append(line)
        classes.append("best" if r["average_cost"] == best else "")
    return _table(head, body, left=2, row_classes=classes)


def _explain_html(problem: Problem, explanations: list[Any]) -> str:
    from replenish.workflows.explain import describe_state

    if not explanations:
        return ""
    head = ["method"] + [describe_state(problem, np.asarray(e.state)) for e in explanations]
    rows = []
    for k, p0 in enumerate(explanations[0].policies):
        cells = [p0.label]
        for e in explanations:
            p = e.policies[k]
            extra = "" if p.regret is None or p.regret < 5e-5 else f" (+{p.regret:.3f} $)"
            cells.append(f"{p.order}{extra}")
        rows.append(cells)
    out = [_table(head, rows, left=1)]
    e = explanations[0]
    if e.values:
        st = html.escape(describe_state(problem, np.asarray(e.state)))
        out.append(f"<h3>Candidate orders in state {st}</h3>")
        vr = [(str(v.order), f"{v.period_cost:.4f}", f"{v.q:.4f}", f"{v.regret:.4f}",
               "optimal" if v.order == e.optimal_order else "") for v in e.values]
        out.append(_table(("order", "tonight's expected cost $", "Q* $", "regret $", ""), vr, left=0))
    fc = [p for p in e.policies if p.forecast]
    if fc:
        days = len(fc[0].forecast)
        head2 = ["policy", "order"] + [f"day {d}" for d in range(1, days + 1)] + [f"{days} days"]
        rows2 = [[p.label, str(p.order)] + [f"{d.cost:.2f}" for d in p.forecast] + [f"{p.forecast_total:.2f}"]
                 for p in fc]
        out.append(f"<h3>Expected cost of the next {days} days from that state ($, exact)</h3>")
        out.append(_table(head2, rows2, left=1))
    return "\n".join(out)


# ----------------------------------------------------------------------------
# main entry point
# ----------------------------------------------------------------------------
def _build_section(sec: ReportSection, idx: int, multi: bool, explain_days: int
                   ) -> tuple[dict[str, Any], list[_Figure], str, str | None]:
    from replenish.workflows.explain import explain

    results = list(sec.results)
    require(len(results) >= 1, "results", 0, "a report needs at least one result")
    problem = results[0].policy.problem
    labels = _unique_labels(results, sec.labels)
    title = sec.title or problem.name
    prefix = f"{_slug(title)}-" if multi else ""
    rows = summary_rows(results, labels, sec.comparison)
    historical = sec.comparison is not None
    optimum = _optimum_policy(problem, results)
    figs: list[_Figure] = [fig_costs(rows, prefix, historical)]
    f = fig_orders_per_state(problem, results, labels, optimum, prefix)
    if f is not None:
        figs.append(f)
    pols: list[tuple[str, Policy]] = []
    if optimum is not None and not any(r.method == "dp" for r in results):
        pols.append(("DP optimum", optimum))
    pols += [(lab, r.policy) for lab, r in zip(labels, results, strict=True)]
    figs.append(fig_heatmaps(problem, pols, prefix, reference=optimum or results[0].policy))
    f = fig_learning(results, labels, prefix)
    if f is not None:
        figs.append(f)
    replay_csv = None
    if historical:
        by_method = {r.method: lab for lab, r in zip(labels, results, strict=True)}
        figs += fig_replay(sec.comparison, by_method, prefix)
        replay_csv = _replay_csv(sec.comparison, by_method)
    states = ([np.asarray(s, dtype=np.int64) for s in sec.explain_states] if sec.explain_states
              else representative_states(problem, optimum))
    named = {lab: r.policy for lab, r in zip(labels, results, strict=True) if r.method != "dp"}
    exps = []
    for s in states:
        try:
            exps.append(explain(problem, named, s, days=explain_days if not exps else 0,
                                neighbours=False))
        except Exception:  # a state a table policy does not cover
            continue
    f = fig_explain(problem, exps, labels, prefix)
    if f is not None:
        figs.append(f)
    data = {"title": title, "problem": problem.to_dict(), "rows": rows,
            "best_static": rows[0].get("best_static") if rows else None,
            "explanations": [e.to_json() for e in exps],
            "figures": [fg.name for fg in figs]}
    if historical:
        data["comparison"] = sec.comparison.to_json()
    parts = [f'<section id="{_slug(title)}"><h2>{html.escape(title)}</h2>', _problem_table(problem)]
    if historical:
        h = sec.comparison.history
        parts.append(f'<p class="note">Every method learned on {h.train.first} … {h.train.last} '
                     f"({len(h.train)} days); the figures \"test\" replay the finished policies on "
                     f"the actual demand of {h.test.first} … {h.test.last} ({len(h.test)} days), "
                     f"relative to the reference <b>{html.escape(str(sec.comparison.reference))}</b>. "
                     "“avg cost” is the long-run cost under the weekday model fitted on the "
                     "training window.</p>")
    parts.append("<h3>Summary</h3>")
    parts.append(_summary_html(rows, historical))
    ref = rows[0].get("best_static") if rows else None
    parts.append('<p class="note">Average cost: long-run $ per period, exact (stationary distribution '
                 "of the policy's Markov chain) or simulated with a 95% confidence interval. Gap: "
                 "(g − g*)/|g*| to the DP optimum g*. "
                 + (f"“vs best static”: relative to <b>{html.escape(ref)}</b>, the cheapest static "
                    "classic policy. " if ref else "")
                 + "Training s: wall time of the method, excluding evaluation.</p>")
    for fg in figs:
        if fg.name.endswith("explain"):
            continue
        parts.append(f"<h3>{html.escape(fg.title)}</h3>")
        parts.append(_figure_html(fg))
    if exps:
        parts.append("<h3>Explanations at representative states</h3>")
        parts.append('<p class="note">Order of each method (in brackets: its exact DP regret, the '
                     "extra long-run cost of that order compared with the best one). "
                     "Use <code>replenish explain CONFIG --policy FILE --state α,β</code> for any "
                     "state.</p>")
        parts.append(_explain_html(problem, exps))
        for fg in figs:
            if fg.name.endswith("explain"):
                parts.append(_figure_html(fg))
    parts.append("</section>")
    return data, figs, "\n".join(parts), replay_csv


def _replay_csv(comparison: Any, labels: dict[str, str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("method", "date", "weekday", "demand", "order", "on_hand", "short", "cost"))
    for r in comparison.results:
        if r.test is None:
            continue
        t = r.test.trajectory
        wd = (r.test.dates.astype(np.int64) + 3) % 7
        for i in range(r.test.days):
            w.writerow((labels.get(r.method, r.method), str(r.test.dates[i]), WEEKDAYS[int(wd[i])],
                        int(t["demand"][i]), int(t["orders"][i]), int(t["states"][i + 1][0]),
                        int(t["short"][i]), f"{t['cost'][i]:.6g}"))
    return buf.getvalue()


def write_report(results: Sequence[SolveResult] | Sequence[ReportSection], folder: str | Path, *,
                 labels: Sequence[str] | None = None, title: str | None = None,
                 comparison: Any = None, explain_days: int = 7, svg: bool = True) -> Report:
    """Write the report of ``results`` into ``folder`` (see the module docstring).

    Args:
        results: results on one problem, or a list of :class:`ReportSection`
            (several problems in one report).
        folder: output folder (created).
        labels: display labels of ``results`` (single-problem form only).
        title: report title.
        comparison: historical comparison of ``results`` (single-problem form only).
        explain_days: days of expected-cost forecast in the explanation section.
        svg: also write every figure as SVG (rendering twice; PNG is always written).
    """
    from replenish import __version__

    items = list(results)
    require(len(items) >= 1, "results", 0, "a report needs at least one result")
    if isinstance(items[0], ReportSection):
        sections = items
    else:
        sections = [ReportSection(results=items, labels=labels, comparison=comparison)]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    multi = len(sections) > 1
    secs, figs, parts, files = [], [], [], []
    _SVG[0] = bool(svg)
    for i, sec in enumerate(sections):
        data, fs, part, replay_csv = _build_section(sec, i, multi, explain_days)
        secs.append(data)
        figs += fs
        parts.append(part)
        if replay_csv is not None:
            files.append(atomic_write(folder / f"{_slug(data['title'])}-replay.csv", replay_csv))
    title = title or " / ".join(s["title"] for s in secs)
    for fg in figs:
        files.append(atomic_write(folder / f"{fg.name}.png", fg.png))
        if fg.svg is not None:
            files.append(atomic_write(folder / f"{fg.name}.svg", fg.svg))
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    data = {"title": title, "generated": now, "replenish_version": __version__, "sections": secs}

    jpath = atomic_write(folder / "results.json", json.dumps(data, indent=1, default=json_default))
    cpath = atomic_write(folder / "results.csv", _csv_text(secs))
    toc = "".join(f'<li><a href="#{_slug(s["title"])}">{html.escape(s["title"])}</a></li>' for s in secs)
    doc = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><main>"
           f"<h1>{html.escape(title)}</h1><p class=\"meta\">replenish {__version__} — generated {now} — "
           "figures also as PNG/SVG files, results in <code>results.json</code> and "
           "<code>results.csv</code> next to this page.</p>"
           + (f"<ul>{toc}</ul>" if multi else "") + "\n".join(parts) + "</main></body></html>\n")
    hpath = atomic_write(folder / "report.html", doc)
    files += [jpath, cpath, hpath]
    return Report(folder=folder, html=hpath, json=jpath, csv=cpath,
                  figures=tuple(f.name for f in figs), files=tuple(files), data=data)


def write_comparison_report(comparison: Any, folder: str | Path, *, title: str | None = None,
                            svg: bool = True) -> Report:
    """Report of a :class:`replenish.compare.Comparison` (methods that ran; replays of the test window)."""
    ok = [r for r in comparison.results if r.solve is not None]
    require(len(ok) >= 1, "comparison", "no results", "no method produced a policy")
    sec = ReportSection(results=[r.solve for r in ok], labels=[r.method for r in ok],
                        title=title or comparison.problem.name, comparison=comparison)
    return write_report([sec], folder, title=title, svg=svg)
