"""The result objects of :func:`replenish.workflows.explain.explain`: candidate orders, day forecasts,
neighbouring states, per-policy explanations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from replenish.model.spec import Problem
from replenish.workflows.explain.state import describe_state, state_label


# ----------------------------------------------------------------------------
# explanation objects
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderValue:
    """Exact DP value of one candidate order in the explained state.

    Attributes:
        order: ``a`` (units).
        period_cost: ``c(s, a)`` ($), expected cost of tonight's period.
        q: ``Q*(s, a)`` ($), tonight's period plus the optimal relative value after it.
        regret: ``Q*(s, a) − min_a Q*(s, a)`` ($), extra long-run cost of ordering ``a``.
        cost_to_go: ``Q*(s, a) − g*`` ($): the expected cost of ordering ``a`` tonight and
            acting optimally afterwards, relative to starting from the reference state
            (:attr:`Explanation.reference_state`, where the optimal cost-to-go is 0) —
            the one Q scale of ``replenish explain`` and the report.
    """

    order: int
    period_cost: float
    q: float
    regret: float
    cost_to_go: float = float("nan")


@dataclass(frozen=True)
class DayForecast:
    """Expected figures of one of the next days under a policy (exact, from its chain).

    Attributes:
        day: 1 = the period that starts with tonight's order.
        cost: expected cost ($) of that period; ``holding``, ``stockout``,
            ``ordering``, ``revenue``, ``waste``: its components ($).
        order: expected order placed that evening (units).
        on_hand: expected end-of-day stock (units).
        stockout_probability: probability that some demand is unmet that day.
    """

    day: int
    cost: float
    holding: float
    stockout: float
    ordering: float
    revenue: float
    order: float
    on_hand: float
    stockout_probability: float
    waste: float = 0.0


@dataclass(frozen=True)
class Neighbour:
    """The order in a neighbouring state (``change`` e.g. ``"on hand +1"``)."""

    change: str
    state: tuple[int, ...]
    order: int
    optimal_order: int | None


@dataclass(frozen=True)
class PolicyExplanation:
    """One policy's decision in the explained state.

    Attributes:
        label: name of the policy in the report (``"DP optimum"``, a file name...).
        describe: ``policy.describe()``.
        order: ``policy.act(state)`` (units).
        regret: DP regret of that order ($), ``None`` without DP values.
        own_values: the policy's own action values ``[(order, value)]`` (DQN:
            network Q, reward units, higher is better), or ``None``.
        own_values_note: what ``own_values`` are, or why there are none.
        forecast: expected figures of the next days.
        neighbours: orders in neighbouring states.
    """

    label: str
    describe: str
    order: int
    regret: float | None
    own_values: tuple[tuple[int, float], ...] | None
    own_values_note: str
    forecast: tuple[DayForecast, ...]
    neighbours: tuple[Neighbour, ...]

    @property
    def forecast_total(self) -> float:
        """Expected cost ($) of all forecast days together."""
        return float(sum(d.cost for d in self.forecast))


@dataclass(frozen=True)
class Explanation:
    """The result of :func:`explain`.

    Attributes:
        problem: the problem.
        state: the full state explained, int tuple ``(α, β_1..β_L, (w))``.
        optimal_average_cost: ``g*`` ($/period) or ``None``.
        values: exact DP value of every feasible order, or ``()`` when the
            problem is too large for the DP.
        optimal_order: ``argmin_a Q*(s, a)`` (ties: smaller order) or ``None``.
        policies: one :class:`PolicyExplanation` per policy (DP optimum first).
        notes: caveats (e.g. a policy trained on a different problem).
        reference_state: the state where the optimal cost-to-go is 0 (the scale's reference
            point), ``None`` without DP values.
        base_stock: ``(order, S)`` of the critical-ratio base-stock rule in this state
            (:func:`~replenish.workflows.explain.explanation.critical_ratio_order`), a notable
            candidate shown beside the policies' orders, or ``None``.
    """

    problem: Problem
    state: tuple[int, ...]
    optimal_average_cost: float | None
    values: tuple[OrderValue, ...]
    optimal_order: int | None
    policies: tuple[PolicyExplanation, ...]
    notes: tuple[str, ...] = ()
    reference_state: tuple[int, ...] | None = None
    base_stock: tuple[int, int] | None = None

    def scale_note(self) -> str:
        """What the cost-to-go column means (CLI and report say the same)."""
        ref = ("" if self.reference_state is None else
               describe_state(self.problem, np.asarray(self.reference_state)))
        return ("cost-to-go $ = Q*(s, a) − g*: expected cost of ordering a tonight and acting "
                f"optimally afterwards, relative to starting from the state {ref} with the optimal "
                "policy (0 there; negative = cheaper than that start); regret $ = its excess over "
                "the best order")

    def constant_period_cost(self) -> float | None:
        """Tonight's expected cost when it is the same for every candidate order, else ``None``."""
        if not self.values:
            return None
        pc = np.array([v.period_cost for v in self.values])
        return float(pc[0]) if float(np.ptp(pc)) <= 1e-9 * max(1.0, abs(float(pc[0]))) else None

    def period_cost_note(self) -> str | None:
        """Why the "tonight's expected cost" column is left out, when it is constant."""
        c = self.constant_period_cost()
        if c is None:
            return None
        pr = self.problem
        why = ""
        if pr.lead_time >= 1 and pr.fixed_order_cost == 0 and pr.unit_cost == 0:
            why = (f" (with lead time L = {pr.lead_time} tonight's order arrives after today's "
                   "demand, and placing it costs nothing: K = 0, c = 0)")
        return f"tonight's expected cost is {c:.4f} $ whatever the order{why}; it is left out"

    def value_rows(self, k: int | None = 3) -> list[tuple[OrderValue, tuple[str, ...]] | None]:
        """The candidate orders to show: ``k`` orders either side of the optimal order, every
        policy's order and ordering nothing; ``None`` marks skipped orders (``k=None``: all).
        Each row carries the labels of the policies choosing that order."""
        if not self.values:
            return []
        who: dict[int, list[str]] = {}
        for p in self.policies:
            who.setdefault(p.order, []).append(p.label)
        if self.base_stock is not None:
            who.setdefault(self.base_stock[0], []).append(
                f"(critical-ratio base-stock, S = {self.base_stock[1]})")
        orders = [v.order for v in self.values]
        if k is None:
            keep = set(range(len(orders)))
        else:
            centre = orders.index(self.optimal_order) if self.optimal_order in orders else 0
            keep = set(range(max(0, centre - k), min(len(orders), centre + k + 1)))
            keep |= {i for i, o in enumerate(orders) if o in who or o == 0}
        rows: list[tuple[OrderValue, tuple[str, ...]] | None] = []
        prev = -1
        for i in sorted(keep):
            if i > prev + 1:
                rows.append(None)
            rows.append((self.values[i], tuple(who.get(orders[i], ()))))
            prev = i
        if prev < len(orders) - 1:
            rows.append(None)
        return rows

    def to_json(self) -> dict[str, Any]:
        """JSON object printed by ``replenish explain --json``."""
        def pe(p: PolicyExplanation) -> dict[str, Any]:
            return {"label": p.label, "policy": p.describe, "order": p.order, "regret": p.regret,
                    "own_values": [{"order": o, "value": v} for o, v in p.own_values]
                    if p.own_values is not None else None,
                    "own_values_note": p.own_values_note,
                    "forecast": [d.__dict__ for d in p.forecast],
                    "forecast_total": p.forecast_total,
                    "neighbours": [{"change": n.change, "state": list(n.state), "order": n.order,
                                    "optimal_order": n.optimal_order} for n in p.neighbours]}

        return {"problem": self.problem.name, "state": list(self.state),
                "state_text": describe_state(self.problem, np.asarray(self.state)),
                "optimal_average_cost": self.optimal_average_cost,
                "optimal_order": self.optimal_order,
                "reference_state": None if self.reference_state is None else list(self.reference_state),
                "scale": self.scale_note() if self.values else None,
                "base_stock": None if self.base_stock is None else
                {"order": self.base_stock[0], "level": self.base_stock[1]},
                "values": [v.__dict__ for v in self.values],
                "policies": [pe(p) for p in self.policies], "notes": list(self.notes)}

    def text(self, *, window: int | None = 3) -> str:
        """Plain-text rendering (what ``replenish explain`` prints); ``window``: candidate orders
        shown either side of the optimal one (``None``: all)."""
        pr = self.problem
        out = [f"{pr.name}: state {describe_state(pr, np.asarray(self.state))}"]
        out += [f"note: {n}" for n in self.notes]
        out.append("")
        out.append(f"{'policy':<28} {'order':>6} {'DP regret $':>12} {'next days $':>12}")
        for p in self.policies:
            reg = "—" if p.regret is None else f"{p.regret:.4f}"
            fc = f"{p.forecast_total:.2f}" if p.forecast else "—"
            out.append(f"{p.label[:28]:<28} {p.order:>6} {reg:>12} {fc:>12}")
        if self.values:
            out.append("")
            out.append("value of each candidate order (exact DP):")
            out.append(self.scale_note())
            note = self.period_cost_note()
            if note:
                out.append(note)
            tonight = note is None
            out.append(f"{'order':>6} " + (f"{'tonight $':>10} " if tonight else "")
                       + f"{'cost-to-go $':>12} {'regret $':>10}  chosen by")
            for row in self.value_rows(window):
                if row is None:
                    out.append(f"{'…':>6}")
                    continue
                v, labels = row
                mark = ", ".join(labels)
                out.append(f"{v.order:>6} " + (f"{v.period_cost:>10.4f} " if tonight else "")
                           + f"{v.cost_to_go:>12.4f} {v.regret:>10.4f}  {mark}")
        for p in self.policies:
            if p.own_values is not None:
                out.append("")
                out.append(f"{p.label}: own action values ({p.own_values_note}):")
                out.append("  " + ", ".join(f"{o}: {v:.4f}" for o, v in p.own_values))
            elif p.own_values_note and p.label != "DP optimum":
                out.append("")
                out.append(f"{p.label}: {p.own_values_note}")
        for p in self.policies:
            if not p.forecast:
                continue
            out.append("")
            out.append(f"{p.label}: expected next {len(p.forecast)} days (exact, from its Markov chain)")
            out.append(f"{'day':>4} {'cost $':>9} {'holding':>8} {'stockout':>9} {'ordering':>9} "
                       f"{'revenue':>8} {'order':>6} {'on hand':>8} {'P(out)':>7}")
            for d in p.forecast:
                out.append(f"{d.day:>4} {d.cost:>9.3f} {d.holding:>8.3f} {d.stockout:>9.3f} "
                           f"{d.ordering:>9.3f} {d.revenue:>8.3f} {d.order:>6.2f} {d.on_hand:>8.2f} "
                           f"{d.stockout_probability:>7.3f}")
        for p in self.policies:
            if not p.neighbours:
                continue
            out.append("")
            out.append(f"{p.label}: order in neighbouring states (here: {p.order})")
            for n in p.neighbours:
                opt = "" if n.optimal_order is None else f"   (optimum {n.optimal_order})"
                out.append(f"  {n.change:<18} {state_label(pr, np.asarray(n.state)):<16} "
                           f"order {n.order}{opt}")
        return "\n".join(out)
