"""Figures of policies over the state space, and the states they show.

:func:`fig_orders_per_state` (the order in each state, every method against
the DP optimum) and :func:`fig_heatmaps` (the order over on hand × in
transit); :func:`optimum_policy` (the DP optimum the figures compare with) and
:func:`representative_states` (the states the report explains).  States that
must be chosen (a large state space) come from simulations with the fixed
generator ``numpy.random.default_rng(0)``, so reports are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from replenish.model.demand import WEEKDAYS
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.solvers.catalogue import SolveResult
from replenish.workflows.report.figures import Figure, finish, method_style, pyplot

#: Order-per-state figures show every state up to this many per weekday, else the most visited.
MAX_STATES_PLOTTED = 90
#: Heatmaps subsample axes longer than this.
MAX_HEATMAP_AXIS = 260


def optimum_policy(problem: Problem, results: Sequence[SolveResult]) -> Policy | None:
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
        cols = [states[:, i] for i in range(problem.position_slots - 1, -1, -1)] + [states[:, -1]]
    return states[np.lexsort(cols)]


def fig_orders_per_state(problem: Problem, results: Sequence[SolveResult], labels: Sequence[str],
                         optimum: Policy | None, prefix: str) -> Figure | None:
    """Order (units) per state for each method, against the DP optimum."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator
    states = _plot_states(problem, optimum)
    shown: list[tuple[str, SolveResult | None]] = [
        (lab, r) for lab, r in zip(labels, results, strict=True) if r.method != "dp"]
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
    acts = {lab: r.policy.act(states) for lab, r in shown if r is not None}
    # the y-axis from the orders shown (not the largest feasible order)
    highs = [int(np.max(a)) for a in acts.values()] + ([int(np.max(opt))] if opt is not None else [])
    ymax = max([1, *highs])
    for i, (ax, (lab, r)) in enumerate(zip(axes[:, 0], shown, strict=True)):
        if problem.seasonal:
            for w in range(1, problem.period):
                edge = np.searchsorted(states[:, -1], w) - 0.5
                ax.axvline(edge, color="0.8", lw=0.8, zorder=0)
        if opt is not None:
            ax.plot(x, opt, "-", color=method_style("dp")[0], lw=1.2, drawstyle="steps-mid",
                    label="DP optimum", zorder=2)
        if r is not None:
            orders = acts[lab]
            color, marker = method_style(r.method)
            ax.plot(x, orders, marker, ls="none", ms=4.5, color=color, label=lab, zorder=3, alpha=0.9)
            diff = "" if opt is None else \
                f" — differs from the optimum in {int((orders != opt).sum())} of {n} states"
            ax.set_title(f"{lab}{diff}", loc="left")
        else:
            ax.set_title("DP optimum", loc="left")
        ax.set_ylabel("order (units)")
        ax.set_ylim(-0.05 * ymax - 0.5, ymax * 1.05 + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.legend(loc="lower right", frameon=False, ncol=2, bbox_to_anchor=(1.0, 0.98), fontsize=8.5)
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
        day = states[:, -1]
        centers = [float(np.mean(x[day == k])) for k in range(problem.period) if np.any(day == k)]
        names = [WEEKDAYS[k] if problem.period == 7 else f"w{k}" for k in range(problem.period)
                 if np.any(day == k)]
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
    return finish(fig, f"{prefix}orders-per-state", "Order per state", caption)


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
    n = problem.stock_slots
    a_hi = int(np.ceil(1.25 * max(1, st[:, :n].sum(axis=1).max()))) + problem.order_multiple
    b_hi = int(np.ceil(1.25 * max(1, st[:, n].max()))) + problem.order_multiple if problem.lead_time else B
    return min(B, a_hi), min(B, b_hi)


def _heatmap_grid(problem: Problem, phase: int, box: tuple[int, int] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States of the on-hand × in-transit grid: α = lo..B, β_1 = 0, m, .. (other slots 0)."""
    lo = problem.min_net_inventory
    B = problem.bound
    a_hi, b_hi = box if box is not None else (B, B)
    if problem.shelf_life == 1:  # nothing is carried overnight
        a_hi = 0
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
    n = problem.stock_slots  # a perishable product: all of it in the freshest age class
    st[:, n - 1] = A.ravel()
    if problem.lead_time >= 1:
        st[:, n] = Bt.ravel()
    if problem.seasonal:
        st[:, -1] = phase
    return alphas, betas, st


def fig_heatmaps(problem: Problem, policies: Sequence[tuple[str, Policy]], prefix: str,
                 reference: Policy | None = None) -> Figure:
    """Order over on hand (x) × in transit (y), one panel per policy (× weekday if seasonal)."""
    plt = pyplot()
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
            ok = st[:, : problem.position_slots].sum(axis=1) <= problem.bound
            z = np.full(st.shape[0], np.nan)
            if ok.any():
                z[ok] = pol.act(st[ok])
            grids[k, w] = (alphas, betas, z.reshape(len(betas), len(alphas)))
    vmax = max(1.0, float(np.nanmax([np.nanmax(g[2]) if np.isfinite(g[2]).any() else 0.0
                                     for g in grids.values()])))
    # a policy whose orders do not depend on the weekday gets one panel, not seven equal ones
    same = {k: problem.seasonal and all(np.array_equal(grids[k, w][2], grids[k, phases[0]][2],
                                                       equal_nan=True) for w in phases)
            for k in range(len(policies))}
    for k, (lab, _pol) in enumerate(policies):
        for j, w in enumerate(phases):
            ax = axes[k, j] if problem.seasonal else axes[k // ncol, k % ncol]
            if same[k] and j > 0:
                ax.axis("off")
                if j == 1:
                    ax.text(0.02, 0.5, "same for every weekday", transform=ax.transAxes,
                            ha="left", va="center", fontsize=10, color="0.3")
                continue
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
            title = lab if not problem.seasonal else (
                f"{lab}\nevery weekday" if same[k] else f"{lab}\n{WEEKDAYS[w]}" if j == 0 else WEEKDAYS[w])
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
    per = (" Columns: tomorrow's weekday; a policy that orders the same whatever the weekday "
           "has one panel (\"same for every weekday\")." if problem.seasonal else "")
    zoom = (f" Axes zoomed to the stock levels the optimum visits (up to {box[0]} on hand, "
            f"{box[1]} in transit)." if box != (problem.bound, problem.bound) else "")
    cap = ("Order (colour, units) in each state: on hand after today's demand (x) and units in "
           f"transit arriving tomorrow (y); grey = infeasible (above the bound B = {problem.bound})."
           + per + zoom + extra)
    return finish(fig, f"{prefix}heatmaps", "Order heatmaps", cap)


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
