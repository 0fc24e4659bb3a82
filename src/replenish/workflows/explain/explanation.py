"""Explain a policy's order in a state: candidate orders with their values, the expected next days, and
what neighbouring states would order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.model.dynamics import COST_COLUMNS, feasible_max, total_cost
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.workflows.explain.objects import (
    DayForecast,
    Explanation,
    Neighbour,
    OrderValue,
    PolicyExplanation,
)
from replenish.workflows.explain.state import FORECAST_STATE_LIMIT, make_state, split_state
from replenish.workflows.explain.values import _problem_key, action_values


# ----------------------------------------------------------------------------
# explain
# ----------------------------------------------------------------------------
def _feasible(problem: Problem, state: np.ndarray) -> bool:
    try:
        make_state(problem, *split_state(problem, state),
                   weekday=int(state[-1]) if problem.seasonal else None)
    except SpecError:
        return False
    return True


def neighbour_states(problem: Problem, state: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Feasible states with on-hand ``±1`` and each pipeline slot ``±m``."""
    out = []
    m = problem.order_multiple
    n = problem.stock_slots
    moves = []
    for i in range(n):
        name = "on hand" if n == 1 else f"on hand α{i + 1}"
        moves += [(i, 1, name), (i, -1, name)]
    for i in range(n, n + problem.lead_time):
        name = "in transit" if problem.lead_time == 1 else f"in transit β{i - n + 1}"
        moves += [(i, m, name), (i, -m, name)]
    for i, d, name in moves:
        s = np.array(state, dtype=np.int64, copy=True)
        s[i] += d
        if _feasible(problem, s):
            out.append((f"{name} {d:+d}", s))
    return out


def policy_action_values(policy: Policy, state: np.ndarray) -> tuple[tuple[tuple[int, float], ...] | None,
                                                                    str]:
    """The policy's own action values in ``state`` (feasible orders only), and a note.

    Uses ``policy.q_values(states) -> (n, n_actions)`` when the policy has it
    (DQN: action ``j`` orders ``j·observation.order_step`` units; Q-tables:
    action ``k`` orders ``k·m``).  Classic rules and DP tables have none.
    """
    fn = getattr(policy, "q_values", None)
    if not callable(fn):
        return None, ("no action values of its own (a rule or a table); the exact DP regrets "
                      "above are its values")
    st = np.asarray(state, dtype=np.int64)[None, :]
    q = np.asarray(fn(st), dtype=np.float64).reshape(-1)
    obs = getattr(policy, "observation", None)
    amax = feasible_max(policy.problem, st)
    acts = np.arange(q.size, dtype=np.int64)
    if obs is not None and callable(getattr(obs, "orders", None)) and callable(getattr(obs, "mask", None)):
        # DQN: the observation maps action indices to orders (order or order-up-to-level grids)
        ok = np.asarray(obs.mask(st, amax)).reshape(-1)
        orders = np.asarray(obs.orders(np.repeat(st, q.size, axis=0), acts, np.repeat(amax, q.size)))
    else:
        step = int(getattr(obs, "order_step", policy.problem.order_multiple))
        orders = acts * step
        ok = orders <= int(amax[0])
    best: dict[int, float] = {}
    for o, v in zip(orders[ok], q[ok], strict=True):  # several actions may give the same order
        best[int(o)] = max(best.get(int(o), -np.inf), float(v))
    note = ("network Q-values, reward units (reward = −cost / cost scale, relative to the average); "
            "higher is better" if obs is not None else "the policy's Q-values")
    return tuple(sorted(best.items())), note


def critical_ratio_order(problem: Problem, state: np.ndarray) -> tuple[int, int] | None:
    """``(order, S)``: the order up to ``S``, the ``(p + r)/(p + r + h)`` quantile of the demand of
    the ``L + 1`` days tonight's order must cover (the newsvendor base-stock rule), from the
    position ``α + Σβ``; rounded to the pack size and clipped to the feasible range.  A
    reference for reading the candidate orders (``None`` when the ratio is undefined)."""
    from replenish.model.dynamics import clip_orders

    p, r, h = problem.stockout_cost, problem.price, problem.holding_cost
    if p + r + h <= 0:
        return None
    ratio = (p + r) / (p + r + h)
    phase = int(state[-1]) if problem.seasonal else 0
    pmf = np.ones(1)
    for k in range(problem.lead_time + 1):
        pmf = np.convolve(pmf, problem.demand.pmf((phase + k) % problem.period))
    level = int(np.searchsorted(np.cumsum(pmf), ratio - 1e-12))
    position = int(np.sum(np.asarray(state)[: problem.position_slots]))
    m = problem.order_multiple
    want = max(0, level - position)
    order = int(clip_orders(problem, np.asarray(state)[None, :], np.array([-(-want // m) * m]))[0])
    return order, level


def forecast(problem: Problem, policy: Policy, state: np.ndarray, days: int) -> tuple[DayForecast, ...]:
    """Expected figures of the next ``days`` periods under ``policy`` from ``state`` (exact).

    The chain of the policy from ``state`` is built by
    :func:`replenish.markov.build_chain`; the one-hot distribution on the start
    state is propagated ``days`` times with ``P``, and each day's expected cost
    is ``μ_t · c`` (``c`` the expected one-period costs per state).
    """
    from replenish.evaluation.markov import build_chain

    if days <= 0:
        return ()
    chain = build_chain(problem, policy, start=np.asarray(state, dtype=np.int64),
                        max_states=FORECAST_STATE_LIMIT)
    mu = np.zeros(chain.states.shape[0])
    mu[chain.start] = 1.0
    PT = chain.P.T.tocsr()
    out = []
    for t in range(1, days + 1):
        comp = mu @ chain.costs
        parts = dict(zip(COST_COLUMNS, (float(x) for x in comp), strict=True))
        out.append(DayForecast(day=t, cost=float(total_cost(comp)),
                               order=float(mu @ chain.orders), on_hand=float(mu @ chain.on_hand),
                               stockout_probability=float(mu @ chain.stockout), **parts))
        mu = PT @ mu
    return tuple(out)


def explain(problem: Problem, policies: Mapping[str, Policy] | Sequence[Policy], state: Any, *,
            days: int = 7, with_dp: bool = True, neighbours: bool = True) -> Explanation:
    """Explain the order of each policy in ``state`` (see the module docstring).

    Args:
        problem: the problem (DP values, forecasts and validation use it).
        policies: ``{label: policy}`` or a list (labelled by ``describe()``).
        state: full state ``[α, β_1..β_L, (w)]``; validated with :func:`make_state`.
        days: length of the expected-cost forecast (0 for none).
        with_dp: add the DP optimum and exact action values when tabulable.
        neighbours: include the orders in neighbouring states.

    No randomness: every figure is exact.
    """
    s = np.asarray(state, dtype=np.int64).reshape(-1)
    require(s.size == problem.state_dim, "state", s.tolist(),
            f"needs {problem.state_dim} entries "
            f"[{'α_1..α_n' if problem.perishable else 'α'}, β_1..β_L{', w' if problem.seasonal else ''}]")
    s = make_state(problem, *split_state(problem, s),
                   weekday=int(s[-1]) if problem.seasonal else None)
    if not isinstance(policies, Mapping):
        policies = {p.describe(): p for p in policies}
    notes = []
    for label, pol in policies.items():
        if _problem_key(pol.problem) != _problem_key(problem):
            notes.append(f"{label} was built for problem '{pol.problem.name}', which differs from "
                         f"'{problem.name}' (costs or demand); its order is still shown")
    av = action_values(problem) if with_dp else None
    values: tuple[OrderValue, ...] = ()
    optimal_order = None
    all_policies: dict[str, Policy] = {}
    if av is not None:
        orders, pc, q = av.at(s)
        best = float(q.min())
        def to_go(v: float) -> float:  # Q* − g*, rounding-level noise at the reference shown as 0
            x = float(v - av.gain)
            return 0.0 if abs(x) < 1e-9 * max(1.0, abs(av.gain)) else x

        values = tuple(OrderValue(int(o), float(c), float(v), float(v - best), to_go(v))
                       for o, c, v in zip(orders, pc, q, strict=True))
        optimal_order = int(orders[int(np.argmin(q))])
        all_policies["DP optimum"] = av.policy
    elif with_dp:
        notes.append("the state space is too large for exact DP values")
    all_policies.update(policies)
    regret_of = {v.order: v.regret for v in values}
    nbrs = neighbour_states(problem, s) if neighbours else []
    opt_nbr = ([int(av.policy.order(ns)) for _, ns in nbrs] if av is not None
               else [None] * len(nbrs))
    out = []
    for label, pol in all_policies.items():
        order = int(pol.order(s))
        own, note = policy_action_values(pol, s)
        try:
            fc = forecast(problem, pol, s, days)
        except (SpecError, ValueError) as exc:
            fc = ()
            notes.append(f"{label}: no forecast ({exc})")
        nb = tuple(Neighbour(ch, tuple(int(x) for x in ns), int(pol.order(ns)), o)
                   for (ch, ns), o in zip(nbrs, opt_nbr, strict=True))
        out.append(PolicyExplanation(label=label, describe=pol.describe(), order=order,
                                     regret=regret_of.get(order), own_values=own,
                                     own_values_note=note, forecast=fc, neighbours=nb))
    ref = None
    if av is not None:
        ref = tuple(int(x) for x in av.mdp.space.expand(av.mdp.states[:1])[0])
    try:
        base = critical_ratio_order(problem, s)
    except (SpecError, ValueError):  # a demand without a pmf in this phase
        base = None
    return Explanation(problem=problem, state=tuple(int(x) for x in s),
                       optimal_average_cost=av.gain if av is not None else None, values=values,
                       optimal_order=optimal_order, policies=tuple(out), notes=tuple(notes),
                       reference_state=ref, base_stock=base)
