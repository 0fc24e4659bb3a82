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
    """

    order: int
    period_cost: float
    q: float
    regret: float


@dataclass(frozen=True)
class DayForecast:
    """Expected figures of one of the next days under a policy (exact, from its chain).

    Attributes:
        day: 1 = the period that starts with tonight's order.
        cost: expected cost ($) of that period; ``holding``, ``stockout``,
            ``ordering``, ``revenue``: its components ($).
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
    """

    problem: Problem
    state: tuple[int, ...]
    optimal_average_cost: float | None
    values: tuple[OrderValue, ...]
    optimal_order: int | None
    policies: tuple[PolicyExplanation, ...]
    notes: tuple[str, ...] = ()

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
                "values": [v.__dict__ for v in self.values],
                "policies": [pe(p) for p in self.policies], "notes": list(self.notes)}

    def text(self) -> str:
        """Plain-text rendering (what ``replenish explain`` prints)."""
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
            out.append("value of each candidate order (exact DP; regret = extra long-run cost of "
                       "ordering a tonight, then acting optimally):")
            out.append(f"{'order':>6} {'tonight $':>10} {'Q* $':>12} {'regret $':>10}")
            for v in self.values:
                mark = "  <- optimal" if v.order == self.optimal_order else ""
                out.append(f"{v.order:>6} {v.period_cost:>10.4f} {v.q:>12.4f} {v.regret:>10.4f}{mark}")
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
