"""Today's order from a saved policy for an observed state (``replenish recommend``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.workflows.explain.state import describe_state, make_state, parse_date


# ----------------------------------------------------------------------------
# recommend
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Recommendation:
    """Today's order from a saved policy (:func:`recommend`).

    Attributes:
        order: units to order this evening (``policy.act(state)``).
        state: the validated full state.
        policy: ``policy.describe()``.
        problem: the policy's problem name.
        date: today's date if given.
        first_demand_day: the first day the order can serve demand, when ``date`` is known.
        position_after: inventory position ``α + Σβ + a`` after ordering (units).
    """

    order: int
    state: tuple[int, ...]
    policy: str
    problem: Problem
    date: _dt.date | None = None
    first_demand_day: _dt.date | None = None
    position_after: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"order": self.order, "state": list(self.state),
                "state_text": describe_state(self.problem, np.asarray(self.state)),
                "policy": self.policy, "problem": self.problem.name,
                "date": None if self.date is None else self.date.isoformat(),
                "first_demand_day": None if self.first_demand_day is None
                else self.first_demand_day.isoformat(),
                "position_after": self.position_after, "lead_time": self.problem.lead_time}

    def text(self) -> str:
        p = self.problem
        when = f" on the evening of {self.date:%a %Y-%m-%d}" if self.date else " tonight"
        txt = (f"{p.name}: {describe_state(p, np.asarray(self.state))}\n"
               f"order {self.order} unit{'s' if self.order != 1 else ''}{when} ({self.policy})")
        if self.first_demand_day is not None:
            txt += f"; it serves demand from {self.first_demand_day:%a %Y-%m-%d} on"
        else:
            txt += (f"; it serves demand {p.lead_time + 1 if p.lead_time else 1} day"
                    f"{'s' if p.lead_time else ''} from now")
        return txt + f"; inventory position after ordering: {self.position_after}"


def recommend(policy: Policy, on_hand: int, in_transit: Sequence[int] | int | None = None, *,
              weekday: int | str | None = None, date: str | _dt.date | None = None) -> Recommendation:
    """The order to place now for the observed state (see :func:`make_state`)."""
    problem = policy.problem
    d = parse_date(date)
    state = make_state(problem, on_hand, in_transit, weekday=weekday, date=d)
    order = int(policy.order(state))
    first = None
    if d is not None:
        first = d + _dt.timedelta(days=problem.lead_time + 1 if problem.lead_time else 1)
    pos = int(state[: problem.lead_time + 1].sum()) + order
    return Recommendation(order=order, state=tuple(int(x) for x in state), policy=policy.describe(),
                          problem=problem, date=d, first_demand_day=first, position_after=pos)
