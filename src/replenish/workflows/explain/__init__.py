"""Explanations of ordering decisions, and today's order from a saved policy.

Two questions a user asks of any policy:

* **why this order?** — :func:`explain` takes a state ``s = [α, β_1..β_L, (w)]``
  and, for every policy given (plus the DP optimum when the problem is
  tabulable), reports the order ``π(s)``; the value of every candidate order
  ``a`` from the exact average-cost DP, ``Q*(s, a) = c(s, a) + Σ_s' P(s'|s, a)
  h*(s')`` ($; ``c`` the expected cost of tonight's period, ``h*`` the optimal
  relative values, Puterman 1994, §8.4), shown as the *regret*
  ``Q*(s, a) − min_a Q*(s, a)``, the extra long-run cost of ordering ``a``
  tonight and acting optimally afterwards; the policy's own action values when
  it has them (DQN: ``policy.q_values``, network units, higher is better); the
  expected cost of each of the next ``days`` periods under the policy,
  propagated exactly on its Markov chain (:func:`replenish.markov.build_chain`)
  from the one-hot start distribution; and the order in the neighbouring
  states (on-hand ``±1``, each pipeline slot ``±m``).
* **what do I order now?** — :func:`recommend` validates an observed state
  against the policy's problem (one-line :class:`~replenish.errors.SpecError`
  when infeasible) and returns ``policy.act(state)``.

Weekday conventions (seasonal demand): the state's phase ``w`` is the weekday
of the **next demand day** (tomorrow).  ``--weekday`` gives that day;
``--date`` gives *today* (the evening the order is placed), so ``w`` is the
weekday of ``date + 1``.

The relative values ``h*`` are obtained here by solving the evaluation
equations ``g + h(s) = c(s, π*(s)) + Σ P(s'|s, π*(s)) h(s')``, ``h(s_0) = 0``
of the DP policy on all reduced states (sparse direct solve) and checked
against the Bellman optimality equation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replenish.core.lazy import lazy_exports

#: name → submodule (imported on first use: ``replenish recommend`` needs only ``state`` and
#: ``recommend``, not the DP values behind ``explain``)
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("explain", "forecast", "neighbour_states", "policy_action_values",),
                    "replenish.workflows.explain.explanation"),
    **dict.fromkeys(("DayForecast", "Explanation", "Neighbour", "OrderValue", "PolicyExplanation",),
                    "replenish.workflows.explain.objects"),
    **dict.fromkeys(("Recommendation", "recommend",),
                    "replenish.workflows.explain.recommend"),
    **dict.fromkeys(("EXPLAIN_DP_LIMIT", "FORECAST_STATE_LIMIT", "describe_state", "make_state",
                     "parse_date", "parse_ints", "parse_weekday", "state_label"),
                    "replenish.workflows.explain.state"),
    **dict.fromkeys(("ActionValues", "action_values",),
                    "replenish.workflows.explain.values"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = [
    "EXPLAIN_DP_LIMIT", "FORECAST_STATE_LIMIT", "ActionValues", "DayForecast",
    "Explanation", "Neighbour", "OrderValue", "PolicyExplanation", "Recommendation",
    "action_values", "describe_state", "explain", "forecast", "make_state", "neighbour_states",
    "parse_date", "parse_ints", "parse_weekday", "policy_action_values", "recommend",
    "state_label",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from replenish.workflows.explain.explanation import (
        explain,
        forecast,
        neighbour_states,
        policy_action_values,
    )
    from replenish.workflows.explain.objects import (
        DayForecast,
        Explanation,
        Neighbour,
        OrderValue,
        PolicyExplanation,
    )
    from replenish.workflows.explain.recommend import Recommendation, recommend
    from replenish.workflows.explain.state import (
        EXPLAIN_DP_LIMIT,
        FORECAST_STATE_LIMIT,
        describe_state,
        make_state,
        parse_date,
        parse_ints,
        parse_weekday,
        state_label,
    )
    from replenish.workflows.explain.values import ActionValues, action_values
