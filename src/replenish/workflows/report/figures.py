"""Figures of the report: matplotlib, imported inside the functions (importing the package stays light).

Shared helpers: :func:`pyplot` (the Agg backend, optionally with the report's
style), :func:`render` (PNG bytes and SVG text of a figure, which is then
closed) and :func:`finish` (a named :class:`Figure` of the report); the colour
palette :data:`COLORS` of every figure.  The chart figures are here (costs,
learning curves, the replayed test window, candidate orders, the test-window
plot of ``replenish compare``); the figures of a policy over the state space
(orders per state, heatmaps) are in :mod:`replenish.workflows.report.policy_figures`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replenish.model.spec import Problem
from replenish.solvers.catalogue import SolveResult

#: A general palette (series that are not methods).  Methods have their own fixed colour and
#: marker in every figure: :func:`method_style`, from the catalogue (``MethodSpec.color/marker``).
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#bcbd22", "#7f7f7f")
#: Colour and marker of anything that is not a method of the catalogue.
OTHER_STYLE = ("#e377c2", "o")


def method_style(method: str | None) -> tuple[str, str]:
    """``(colour, marker)`` of ``method`` in every figure (the same in reports and fleet).

    ``method`` is a catalogue name (``"qlearning"``) or ``"DP optimum"``; anything else gets
    :data:`OTHER_STYLE`.  Several runs of one method (e.g. "Q-learning (seed)" and
    "Q-learning (default)") share its colour; figures tell them apart by line style.
    """
    from replenish.solvers.catalogue import METHODS

    if method == "DP optimum":
        method = "dp"
    spec = METHODS.get(method or "")
    return (spec.color, spec.marker) if spec is not None else OTHER_STYLE
#: Colours of the cost components.
COST_COLORS = {"holding": "#4c72b0", "stockout": "#c44e52", "ordering": "#8172b2",
               "revenue": "#55a868"}
#: Whether figures are also rendered as SVG (set per call by :func:`.writer.write_report`).
SVG = [True]


@dataclass
class Figure:
    """A rendered figure of the report: ``<name>.png`` (and ``<name>.svg`` unless ``svg`` is ``None``)."""

    name: str
    title: str
    caption: str
    png: bytes
    svg: str | None


def pyplot(*, style: bool = True) -> Any:
    """``matplotlib.pyplot`` on the Agg backend; ``style``: with the report's fonts and spines."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if style:
        plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
                             "legend.fontsize": 9, "axes.spines.top": False,
                             "axes.spines.right": False, "svg.fonttype": "none",
                             "figure.dpi": 100})
    return plt


def render(fig: Any, *, dpi: int = 100, svg: bool = False) -> tuple[bytes, str | None]:
    """The figure as PNG bytes (and SVG text when ``svg``); the figure is closed."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=dpi)
    text = None
    if svg:
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        text = buf.getvalue()
    pyplot(style=False).close(fig)
    return png.getvalue(), text


def finish(fig: Any, name: str, title: str, caption: str) -> Figure:
    """Render a report figure (PNG at 100 dpi, SVG when :data:`SVG` is on) and close it."""
    png, svg = render(fig, dpi=100, svg=SVG[0])
    return Figure(name=name, title=title, caption=caption, png=png, svg=svg)


def fig_costs(rows: list[dict[str, Any]], prefix: str, historical: bool) -> Figure:
    """Cost per period with 95% error bars, and the breakdown by component."""
    plt = pyplot()
    n = len(rows)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.5, 0.42 * n + 1.9), sharey=True)
    y = np.arange(n)[::-1]
    cost = np.array([r["average_cost"] for r in rows])
    err = np.array([0.0 if r.get("exact") or not r.get("ci95") else (r["ci95"][1] - r["ci95"][0]) / 2
                    for r in rows])
    colors = [method_style(r.get("method"))[0] for r in rows]
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
            a2.barh(y, v, left=left, color=COST_COLORS[comp], label=comp, height=0.65)
            left += v
    rev = np.array([r["breakdown"].get("revenue", 0.0) for r in rows])
    if np.any(rev):
        a2.barh(y, -rev, color=COST_COLORS["revenue"], label="revenue (−)", height=0.65)
    a2.axvline(0, color="0.3", lw=0.8)
    a2.set_xlabel("$ per period")
    a2.set_title("Cost breakdown", loc="left")
    a2.legend(loc="lower right", frameon=False, ncol=4, bbox_to_anchor=(1.0, 1.06))
    fig.tight_layout()
    return finish(fig, f"{prefix}costs", "Cost comparison",
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


#: Quantile of all curve points above which a learning curve may be clipped (early spikes).
LEARNING_CLIP_QUANTILE = 0.75


def _fmt_steps(n: float) -> str:
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" if n >= 1e3 else f"{n:g}"


def learning_ylim(ys: Sequence[np.ndarray], *, floor: float | None = None) -> tuple[float, float]:
    """A robust y-range for learning curves: the top is the larger of the
    :data:`LEARNING_CLIP_QUANTILE` quantile of all points and 1.5 × the highest point of the
    second half of any run (so the late stage is always shown in full and early spikes fall
    above); the bottom is the lowest point (or ``floor``, e.g. 0 for a gap to the optimum)."""
    arrs = [np.asarray(y, dtype=float) for y in ys if len(y)]
    allv = np.concatenate(arrs)
    allv = allv[np.isfinite(allv)]
    late = max(float(np.nanmax(y[len(y) // 2:])) for y in arrs)
    lo = float(allv.min()) if floor is None else min(floor, float(allv.min()))
    base = 0.0 if floor is None else floor
    hi = min(float(allv.max()), max(float(np.quantile(allv, LEARNING_CLIP_QUANTILE)),
                                    base + 1.5 * (late - base)))
    span = max(hi - lo, 1e-9)
    return lo - 0.05 * span, hi + 0.12 * span


def fig_learning(results: Sequence[SolveResult], labels: Sequence[str], prefix: str) -> Figure | None:
    """Gap to the optimum (when known, else cost) against the fraction of each learner's own
    training (each method on its own step axis, its total in the legend); a robust y-range
    (:func:`learning_ylim`), points above it drawn on the top edge as ▲."""
    curves = []
    for lab, r in zip(labels, results, strict=True):
        c = _curve(r)
        if c is not None:
            curves.append((lab, r, *c))
    if not curves:
        return None
    plt = pyplot()
    opt = next((r.optimal_average_cost for r in results if r.optimal_average_cost is not None), None)
    as_gap = opt is not None and opt != 0
    fig, ax = plt.subplots(figsize=(9.5, 4.0))
    seen: dict[str, int] = {}
    drawn = []
    for lab, r, steps, y, kind in curves:
        if as_gap and kind == "cost" and opt is not None:  # (as_gap implies opt is not None)
            y = (y - opt) / abs(opt)
        elif not as_gap and kind == "gap" and opt is not None:
            y = opt + y * abs(opt)
        total = float(r.params.get("steps") or steps.max() or 1.0)
        drawn.append((lab, r, steps / max(total, steps.max()), 100 * y if as_gap else y, total))
    lo, hi = learning_ylim([d[3] for d in drawn], floor=0.0 if as_gap else None)
    clipped = 0
    for lab, r, x, y, _total in drawn:
        color, marker = method_style(r.method)
        k = seen[r.method] = seen.get(r.method, -1) + 1  # further runs of a method: other line styles
        ax.plot(x, np.minimum(y, hi), marker=marker, ls=("-", "--", ":", "-.")[k % 4],
                ms=4, color=color, mfc=color if k == 0 else "none", label=lab)
        over = y > hi
        if over.any():
            clipped += int(over.sum())
            ax.plot(x[over], np.full(int(over.sum()), hi), "^", ms=7, color=color, clip_on=False)
    if as_gap:
        ax.axhline(0, color=method_style("dp")[0], ls="--", lw=1, label="DP optimum")
        ax.set_ylabel("gap to the optimum (%)")
    else:
        ax.set_ylabel("average cost ($ per period)")
    ax.set_ylim(lo, hi)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("fraction of the method's own training (its total steps in the legend)")
    ax.grid(color="0.92")
    leg = ax.legend(frameon=False)
    totals = {d[0]: d[4] for d in drawn}
    for t in leg.get_texts():  # the legend names each run's own length
        if t.get_text() in totals:
            t.set_text(f"{t.get_text()} ({_fmt_steps(totals[t.get_text()])} steps)")
    ax.set_title("Learning curves (periodic evaluations of the greedy policy)", loc="left")
    fig.tight_layout()
    unit = "%" if as_gap else " $/period"
    clip = (f" The y-axis stops at {hi:.3g}{unit} (the larger of the {int(100 * LEARNING_CLIP_QUANTILE)}th "
            "percentile of all points and 1.5 × the highest point of any run's second half); "
            f"{clipped} early point(s) above it are drawn on the top edge (▲)." if clipped else "")
    return finish(fig, f"{prefix}learning", "Learning curves",
                  "Greedy policy evaluated during training (simulated; DQN keeps the best one), "
                  "against the fraction of each method's own training so that runs of different "
                  "lengths share the axis" + (", as the gap to the DP optimum" if as_gap else "")
                  + "." + clip)


#: Days of the test window shown day by day in the replay figure (the rest: weekly summary).
REPLAY_ZOOM_DAYS = 28


def fig_replay(comparison: Any, labels_by_method: dict[str, str], prefix: str) -> list[Figure]:
    """The test window replayed: demand, stock, orders and stockout days per method; cumulative cost."""
    plt = pyplot()
    runs = [r for r in comparison.results if r.test is not None]
    if not runs:
        return []
    figs = []
    # 1. a month zoom: the first four weeks, day by day
    n = min(REPLAY_ZOOM_DAYS, min(r.test.days for r in runs))
    fig, axes = plt.subplots(len(runs), 1, figsize=(11, 1.9 * len(runs) + 1.0), sharex=True,
                             squeeze=False)
    ymax = max(max(float(r.test.trajectory["demand"][:n].max()),
                   float(_on_hand(r)[:n].max()),
                   float(r.test.trajectory["orders"][:n].max())) for r in runs)
    ymax = max(ymax, 1.0)
    for ax, r in zip(axes[:, 0], runs, strict=True):
        t = r.test.trajectory
        x = r.test.dates[:n].astype("datetime64[D]").astype(object)
        color, marker = method_style(r.method)
        ax.bar(x, t["demand"][:n], width=0.8, color="0.85", label="demand")
        ax.step(x, _on_hand(r)[:n], where="mid", color="0.25", lw=1.2, label="on hand at close")
        if r.policy is not None and r.policy.problem.perishable:
            gone = t["expired"][:n] > 0
            ax.plot(np.asarray(x)[gone], t["expired"][:n][gone], "x", ls="none", ms=5, color="#8c564b",
                    label="wasted")
        pos = t["orders"][:n] > 0
        ax.plot(np.asarray(x)[pos], t["orders"][:n][pos], marker, ls="none", ms=5, color=color,
                label="order placed")
        out = t["short"][:n] > 0
        if out.any():
            ax.plot(np.asarray(x)[out], np.full(int(out.sum()), -0.07 * ymax), "|", ms=8,
                    color="#d62728", mew=2, label="stockout day", clip_on=False)
        lab = labels_by_method.get(r.method, r.method)
        ax.set_title(f"{lab}: {t['cost'][:n].sum() / n:.2f} $/day in these {n} days "
                     f"({r.test.average_cost:.2f} over the window), {int(out.sum())} stockout days",
                     loc="left", fontsize=9)
        ax.set_ylabel("units")
        ax.set_ylim(-0.1 * ymax, 1.08 * ymax)
        ax.grid(axis="y", color="0.93")
    axes[0, 0].legend(loc="lower left", ncol=4, frameon=False, bbox_to_anchor=(0, 1.18), fontsize=8)
    axes[-1, 0].set_xlabel("date")
    fig.autofmt_xdate()
    fig.tight_layout()
    first, last = runs[0].test.dates[0], runs[0].test.dates[n - 1]
    figs.append(finish(fig, f"{prefix}replay", "Test window replayed: the first four weeks",
                        f"Each policy replayed on the actual demand of {first} … {last} (the first "
                        f"{n} days of the held-out test window), day by day: demand (grey bars), stock "
                        "on hand at closing (line), orders placed (markers in the method's colour), "
                        "days with unmet demand (red ticks). The weekly summary below covers the "
                        "whole window."))
    # 2. a weekly summary of the whole window
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 5.4), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 2]})
    weeks = None
    for r in runs:
        t = r.test.trajectory
        k = r.test.days // 7
        if k < 1:
            continue
        wk = r.test.dates[: 7 * k: 7].astype("datetime64[D]").astype(object)
        cost = t["cost"][: 7 * k].reshape(k, 7).sum(axis=1)
        color, marker = method_style(r.method)
        a2.plot(wk, cost, "-", marker=marker, ms=3.5, lw=1.1, color=color,
                label=labels_by_method.get(r.method, r.method))
        if weeks is None:
            weeks = (wk, t["demand"][: 7 * k].reshape(k, 7).sum(axis=1))
    if weeks is not None:
        a1.bar(weeks[0], weeks[1], width=5.5, color="0.75")
    a1.set_ylabel("demand\n(units/week)")
    a1.grid(axis="y", color="0.93")
    a2.set_ylabel("cost ($/week)")
    a2.grid(axis="y", color="0.93")
    a2.legend(frameon=False, ncol=min(4, len(runs)), fontsize=8, loc="upper left")
    a2.set_xlabel("week starting")
    fig.autofmt_xdate()
    fig.tight_layout()
    figs.append(finish(fig, f"{prefix}replay-weekly", "Test window replayed: weekly summary",
                        "Every full week of the held-out test window: total demand (top) and each "
                        "policy's cost in that week (bottom, in the method's colour)."))
    fig, ax = plt.subplots(figsize=(11, 3.8))
    for r in runs:
        x = r.test.dates.astype("datetime64[D]").astype(object)
        ax.plot(x, np.cumsum(r.test.trajectory["cost"]), color=method_style(r.method)[0],
                label=f"{labels_by_method.get(r.method, r.method)} ({r.test.total_cost:,.0f} $)")
    ax.set_ylabel("cumulative cost ($)")
    ax.set_xlabel("test window (date)")
    ax.grid(color="0.93")
    ax.legend(frameon=False, fontsize=8.5)
    ax.set_title("Cumulative cost over the test window", loc="left")
    fig.tight_layout()
    figs.append(finish(fig, f"{prefix}replay-cost", "Cumulative test cost",
                        "Total cost accumulated day by day on the test window (lower is better)."))
    return figs


def fig_forecast(comparison: Any, prefix: str) -> list[Figure]:
    """Forecast vs actual over the test window (mean and 10–90% interval of the one-day-ahead
    predictive pmf, as issued each evening), and the forecaster's feature importances."""
    runs = [r for r in comparison.results
            if r.test is not None and r.policy is not None and hasattr(r.policy, "forecaster")]
    if not runs:
        return []
    from replenish.model.forecast import pmf_quantile

    plt = pyplot()
    pol = runs[0].policy
    fc, ctx = pol.forecaster, pol.context
    dates = runs[0].test.dates
    first = int((dates[0] - ctx.dates[0]).astype(np.int64))
    ev = first - 1 + np.arange(dates.size)
    pm = fc.pmfs_many(ctx, ev, 1)[:, 0]
    k = np.arange(pm.shape[1])
    mean = pm @ k
    lo, hi = pmf_quantile(pm, 0.1), pmf_quantile(pm, 0.9)
    actual = ctx.demand[first: first + dates.size]
    x = dates.astype("datetime64[D]").astype(object)
    n = min(2 * REPLAY_ZOOM_DAYS, dates.size)  # eight weeks day by day, then weekly sums
    fig, (ax, aw) = plt.subplots(2, 1, figsize=(11, 6.2), gridspec_kw={"height_ratios": [1.2, 1]})
    ax.fill_between(x[:n], lo[:n], hi[:n], step="mid", color="#aec7e8", lw=0, label="forecast 10–90%")
    ax.plot(x[:n], mean[:n], "-", color="#1f77b4", lw=1.2, drawstyle="steps-mid", label="forecast mean")
    ax.plot(x[:n], actual[:n], "o", ms=3.5, color="black", label="actual sales")
    cover = float(np.mean((actual >= lo) & (actual <= hi)))
    sc = fc.scores(ctx, first, first + dates.size - 1)
    ax.set_title(f"one day ahead, as known each evening ({fc.choice}), whole window: pinball at "
                 f"{fc.critical_ratio:.2f} = {sc['pinball_ratio']:.3f} of the weekday model's, CRPS "
                 f"{sc['crps_ratio']:.3f}; {100 * cover:.0f}% of days inside 10–90%\n"
                 f"the first {n} days:", loc="left", fontsize=9)
    ax.set_ylabel("units/day")
    ax.grid(axis="y", color="0.93")
    ax.legend(frameon=False, ncol=3, fontsize=8.5)
    k7 = dates.size // 7
    if k7 >= 1:
        wk = x[: 7 * k7: 7]
        aw.bar(wk, actual[: 7 * k7].reshape(k7, 7).sum(axis=1), width=5.5, color="0.75",
               label="actual sales")
        aw.plot(wk, mean[: 7 * k7].reshape(k7, 7).sum(axis=1), "-", marker=".", color="#1f77b4",
                label="sum of the daily forecast means")
        aw.legend(frameon=False, ncol=2, fontsize=8.5)
    aw.set_title("every full week of the test window", loc="left", fontsize=9)
    aw.set_ylabel("units/week")
    aw.grid(axis="y", color="0.93")
    for a in (ax, aw):  # two date axes of different spans: both keep their labels
        plt.setp(a.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    weather = [c for c in fc.spec.forecast]
    note = (f" The forecast columns ({', '.join(weather)}) are actual values standing in for "
            "forecasts in this data: the figures are optimistic by the forecast error." if weather else "")
    figs = [finish(fig, f"{prefix}forecast", "Forecast vs actual (test window)",
                   "The forecaster's predictive distribution of each test day, issued the evening "
                   "before from the sales up to then and the plan of the coming days, against the "
                   "actual sales: eight weeks day by day (top), every week of the window (bottom)."
                   + note)]
    if fc.importances:
        imp = sorted(fc.importances.items(), key=lambda kv: kv[1])[-12:]
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(imp) + 1.0))
        ax.barh([n for n, _ in imp], [v for _, v in imp], color="#1f77b4")
        ax.set_xlabel("share of the total split gain")
        ax.grid(axis="x", color="0.93")
        fig.tight_layout()
        figs.append(finish(fig, f"{prefix}importances", "Feature importances",
                           "Which features the forecaster's trees use most (LightGBM split gain)."))
    return figs


def fig_explain(problem: Problem, explanations: list[Any], labels: Sequence[str],
                prefix: str, methods: Sequence[str] | None = None) -> Figure | None:
    """Regret of every candidate order in each representative state, with each method's choice.

    ``methods``: the method of each label (colours; default: the labels themselves)."""
    method_of = dict(zip(labels, methods if methods is not None else labels, strict=True))
    exps = [e for e in explanations if e.values]
    if not exps:
        return None
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    from replenish.workflows.explain import state_label

    fig, axes = plt.subplots(1, len(exps), figsize=(max(3.4 * len(exps), 9.0), 4.4), squeeze=False)
    for ax, e in zip(axes[0], exps, strict=True):
        shown = [r[0].order for r in e.value_rows(3) if r is not None]
        lo, hi = min(shown), max(shown)
        vals = [v for v in e.values if lo <= v.order <= hi]
        orders = np.array([v.order for v in vals])
        reg = np.array([v.regret for v in vals])
        ax.plot(orders, reg, "-", color="0.4", lw=1.2)
        ax.plot(orders, reg, ".", color="0.4", ms=4)
        # one marker per order chosen, labelled with every policy that chose it (none hidden)
        groups: dict[int, list[Any]] = {}
        for p in e.policies:
            if p.regret is not None and lo <= p.order <= hi:
                groups.setdefault(p.order, []).append(p)
        top = max(float(reg.max()) if reg.size else 0.0, 1e-3)
        for o, ps in sorted(groups.items()):
            y = ps[0].regret
            for i, p in enumerate(ps):
                if p.label == "DP optimum":
                    ax.plot([o], [y], "*", ms=15, color=method_style("dp")[0], zorder=5, label=p.label)
                else:  # concentric rings in each method's colour
                    ax.plot([o], [y], "o", ms=max(5.0, 17 - 2.2 * i), mfc="none",
                            mec=method_style(method_of.get(p.label, p.label))[0], mew=1.8, zorder=4,
                            label=p.label)
            ha = "left" if o == lo and hi > lo else "right" if o == hi and hi > lo else "center"
            ax.annotate("\n".join(p.label for p in ps), (o, y), xytext=(0, 12),
                        textcoords="offset points", ha=ha, va="bottom", fontsize=7.5,
                        color="0.15")
        ax.set_title(f"state {state_label(problem, np.asarray(e.state))}", loc="left")
        ax.set_xlabel("order tonight (units)")
        n_lab = max((len(ps) for ps in groups.values()), default=1)
        ax.set_ylim(-0.06 * top, top * (1.12 + 0.09 * n_lab))  # every curve point and label inside
        pad = max(0.6 * problem.order_multiple, 0.05 * (hi - lo))  # room for the rings at the ends
        ax.set_xlim(lo - pad, hi + pad)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.grid(color="0.93")
    axes[0, 0].set_ylabel("extra long-run cost ($)")
    fig.tight_layout()
    return finish(fig, f"{prefix}explain", "Value of each candidate order",
                  "Regret Q*(s, a) − min Q*(s, ·) of each order a (exact DP: extra long-run cost of "
                  "ordering a tonight and acting optimally afterwards), for the orders near the "
                  "optimal one and those the methods chose; each chosen order is labelled with every "
                  "method choosing it (★ DP optimum, rings in each method's colour).")


def _on_hand(run: Any) -> np.ndarray:
    """Stock on hand each evening of a replayed run (every age class of a perishable product)."""
    states = run.test.trajectory["states"][1:]
    problem = run.policy.problem if run.policy is not None else None
    n = problem.stock_slots if problem is not None and problem.perishable else 1
    return states[:, :n].sum(axis=1)


def compare_replay_png(comparison: Any, days: int = 56) -> bytes | None:
    """``test_replay.png`` of ``replenish compare``: the first ``days`` days of the test window
    (demand, on-hand stock, orders) per method, 90 dpi, matplotlib's default style."""
    runs = [r for r in comparison.results if r.test is not None]
    if not runs:
        return None
    plt = pyplot(style=False)
    fig, axes = plt.subplots(len(runs), 1, figsize=(11, 2.2 * len(runs) + 0.6), sharex=True,
                             squeeze=False)
    for ax, r in zip(axes[:, 0], runs, strict=True):
        t = r.test.trajectory
        n = min(days, r.test.days)
        x = r.test.dates[:n].astype("datetime64[D]").astype(object)
        ax.bar(x, t["demand"][:n], color="0.85", label="demand")
        ax.step(x, _on_hand(r)[:n], where="mid", color="C0", label="on hand (evening)")
        ax.plot(x, t["orders"][:n], "o", ms=3, color="C3", label="order")
        ax.set_ylabel("units")
        ax.set_title(f"{r.method}: test {r.test.average_cost:.1f} $/day, fill {r.test.fill_rate:.3f}",
                     fontsize=9, loc="left")
    axes[0, 0].legend(fontsize=8, ncol=3, loc="upper right")
    fig.suptitle(f"{comparison.problem.name}: first {days} days of the test window", fontsize=10)
    fig.tight_layout()
    return render(fig, dpi=90)[0]
