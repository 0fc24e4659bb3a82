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


def _Stationary() -> Any:
    """A stationary stand-in demand (the state checks of :func:`make_state` need no phase)."""
    from replenish.model.demand import Poisson

    return Poisson(1.0)


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


def recommend(policy: Policy, on_hand: int | Sequence[int], in_transit: Sequence[int] | int | None = None, *,
              weekday: int | str | None = None, date: str | _dt.date | None = None,
              context: Any = None, features: dict[str, Any] | None = None) -> Recommendation:
    """The order to place now for the observed state (see :func:`make_state`).

    A policy using future demand information (``forecast-base-stock``, ``lookahead``) needs
    ``date``: it forecasts from the sales up to that day and the features of the coming days,
    read from its saved series, from ``context`` (the series re-read from the data file) and
    ``features`` (``{column: value}`` for the coming days, e.g. tomorrow's promotion)."""
    d = parse_date(date)
    phase = None
    if hasattr(policy, "for_evening"):
        from replenish.core.validate import require

        require(d is not None, "--date", None, "this policy forecasts from the calendar: give --date")
        policy, phase = policy.for_evening(d, context=context, features=features)
    elif features:
        from replenish.core.validate import SpecError

        raise SpecError("--features", features, "this policy uses no features")
    problem = policy.problem
    if phase is not None:
        state = make_state(problem.replace(demand=_Stationary()), on_hand, in_transit)
        state = np.append(state, phase)
    else:
        state = make_state(problem, on_hand, in_transit, weekday=weekday, date=d)
    order = int(policy.order(state))
    first = None
    if d is not None:
        first = d + _dt.timedelta(days=problem.lead_time + 1 if problem.lead_time else 1)
    pos = int(state[: problem.position_slots].sum()) + order
    return Recommendation(order=order, state=tuple(int(x) for x in state), policy=policy.describe(),
                          problem=problem, date=d, first_demand_day=first, position_after=pos)
