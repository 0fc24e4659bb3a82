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

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.io import json_default
from replenish.core.validate import SpecError, require
from replenish.model.demand import WEEKDAYS
from replenish.model.dynamics import COST_COLUMNS, feasible_max
from replenish.model.spec import Problem
from replenish.policies.base import Policy

#: Largest reduced state space on which the explanation computes exact DP values.
EXPLAIN_DP_LIMIT = 400_000
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Largest chain used for the next-days forecast.
FORECAST_STATE_LIMIT = 500_000


# ----------------------------------------------------------------------------
# states
# ----------------------------------------------------------------------------
def parse_weekday(value: str | int | None, *, field_name: str = "--weekday") -> int | None:
    """``"Sat"``/``"saturday"``/``5`` → 5 (Monday = 0); ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        require(0 <= int(value) <= 6, field_name, value, "must be 0..6 (Monday = 0) or Mon..Sun")
        return int(value)
    s = str(value).strip().lower()
    if s.isdigit():
        return parse_weekday(int(s), field_name=field_name)
    hits = [i for i, name in enumerate(_WEEKDAY_NAMES) if len(s) >= 2 and name.startswith(s)]
    if len(hits) == 1:
        return hits[0]
    raise SpecError(field_name, value, "unknown weekday (expected Mon..Sun or 0..6, Monday = 0)")


def parse_date(value: str | _dt.date | None, *, field_name: str = "--date") -> _dt.date | None:
    """ISO date ``YYYY-MM-DD`` → :class:`datetime.date`."""
    if value is None or isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise SpecError(field_name, value, "not a date (expected YYYY-MM-DD)") from None


def parse_ints(text: str | Sequence[int] | int | None, *, field_name: str) -> list[int]:
    """``"3,2"`` → ``[3, 2]`` (also accepts an int or a list)."""
    if text is None:
        return []
    if isinstance(text, (int, np.integer)):
        return [int(text)]
    if not isinstance(text, str):
        return [int(x) for x in text]
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise SpecError(field_name, text, "must be comma-separated integers (units)") from None


def make_state(problem: Problem, on_hand: int, in_transit: Sequence[int] | int | None = None, *,
               weekday: int | str | None = None, date: str | _dt.date | None = None) -> np.ndarray:
    """Build and validate the full state ``[α, β_1..β_L, (w)]`` (int64 (d,)).

    Args:
        problem: the problem the state belongs to.
        on_hand: ``α`` (units) after today's demand; negative = backlog.
        in_transit: ``β_1..β_L`` (units; ``β_1`` arrives tomorrow morning), one
            value per lead-time period; a single number with ``L = 1``.
            Missing trailing slots are 0.
        weekday: weekday of tomorrow (the next demand day), seasonal demand only.
        date: today's date (the order is placed this evening); tomorrow's
            weekday becomes the phase.  Give ``weekday`` or ``date``, not both.

    Raises :class:`SpecError` (one line naming the field and value) when the
    state is infeasible for ``problem``: negative stock under lost sales,
    backlog beyond the represented bound, in-transit entries that are not
    single orders (negative, not a multiple of ``m``, above ``a_max``), or a
    position ``α + Σβ`` above the capacity/position bound ``B``.
    """
    L, m, B = problem.lead_time, problem.order_multiple, problem.bound
    pipe = parse_ints(in_transit, field_name="in_transit")
    require(len(pipe) <= L, "in_transit", pipe,
            f"has {len(pipe)} entries but the lead time is L = {L} (one entry per day in transit"
            + (", none when L = 0)" if L == 0 else ")"))
    pipe = pipe + [0] * (L - len(pipe))
    require(isinstance(on_hand, (int, np.integer)) and not isinstance(on_hand, bool), "on_hand",
            on_hand, "must be an integer (units)")
    a = int(on_hand)
    if problem.lost_sales:
        require(a >= 0, "on_hand", a, "must be >= 0 under lost sales (no backlog)")
    else:
        require(a >= problem.min_net_inventory, "on_hand", a,
                f"backlog beyond the represented bound {problem.min_net_inventory}")
    for i, b in enumerate(pipe, start=1):
        require(b >= 0, f"in_transit[{i}]", b, "must be >= 0")
        require(b % m == 0, f"in_transit[{i}]", b, f"must be a multiple of the order multiple m = {m}")
        require(b <= problem.max_order_units, f"in_transit[{i}]", b,
                f"exceeds the largest single order {problem.max_order_units}")
    pos = a + sum(pipe)
    what = "capacity C" if problem.capacity is not None else "position bound B"
    require(pos <= B, "state", [a, *pipe],
            f"infeasible: on hand + in transit = {pos} exceeds the {what} = {B}")
    w = parse_weekday(weekday)
    d = parse_date(date)
    require(w is None or d is None, "--weekday", weekday, "give --weekday or --date, not both")
    if d is not None:
        w = (d + _dt.timedelta(days=1)).weekday()
    state = np.array([a, *pipe], dtype=np.int64)
    if problem.seasonal:
        require(w is not None, "--weekday", None,
                "demand is weekday-seasonal: give tomorrow's weekday (--weekday) or today's --date")
        require(problem.period == 7 or w < problem.period, "--weekday", w,
                f"phase must be < {problem.period}")
        state = np.append(state, w % problem.period)
    return state


def describe_state(problem: Problem, state: np.ndarray) -> str:
    """``"on hand 3, in transit [2], tomorrow Sat"``."""
    s = [int(x) for x in np.asarray(state).reshape(-1)]
    txt = f"on hand {s[0]}"
    if problem.lead_time:
        txt += f", in transit {s[1: problem.lead_time + 1]}"
    if problem.seasonal:
        txt += f", tomorrow {WEEKDAYS[s[-1]] if problem.period == 7 else 'phase ' + str(s[-1])}"
    return txt


def state_label(problem: Problem, state: np.ndarray) -> str:
    """Compact ``"(α,β)"`` label, with the weekday when seasonal."""
    s = [int(x) for x in np.asarray(state).reshape(-1)]
    core = "(" + ",".join(str(x) for x in s[: problem.lead_time + 1]) + ")"
    if problem.seasonal:
        core += " " + (WEEKDAYS[s[-1]] if problem.period == 7 else f"w{s[-1]}")
    return core


# ----------------------------------------------------------------------------
# exact action values
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionValues:
    """Exact average-cost DP action values of a problem (all reduced states).

    Attributes:
        mdp: the :class:`~replenish.solvers.dp.MDP` of the problem (reduced states).
        policy: the optimal policy (a :class:`~replenish.policies.table.TablePolicy`).
        gain: ``g*`` ($/period), optimal long-run average cost.
        relative_values: float64 (n,), ``h*`` per reduced state ($), ``h*(s_0) = 0``.
        q: float64 (n_sa,), ``Q*`` per state-action row of ``mdp`` ($).
        bellman_residual: ``max_s |g* + h*(s) − min_a Q*(s, a)|`` ($); small
            (``< 1e-6·max(1, |g*|)``) when ``policy`` is optimal.
    """

    mdp: Any
    policy: Policy
    gain: float
    relative_values: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    bellman_residual: float

    def at(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(orders, period_cost, Q)`` of every feasible order in one full state."""
        mdp = self.mdp
        s = int(mdp.index(np.asarray(state, dtype=np.int64)[None, :])[0])
        rows = slice(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1]))
        return mdp.sa_order[rows].copy(), mdp.sa_cost[rows].copy(), self.q[rows].copy()


def _relative_values(mdp: Any, policy: Policy) -> tuple[float, np.ndarray]:
    """Solve ``g + h(s) − Σ P_π(s, s') h(s') = c_π(s)``, ``h(0) = 0`` for ``policy`` on ``mdp``."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    n = mdp.n_states
    orders = policy.act(mdp.space.expand(mdp.states))
    # row of each state's chosen order (orders are ascending multiples of m within a state)
    k = mdp.sa_ptr[:-1] + orders // mdp.problem.order_multiple
    lens = mdp.tr_ptr[k + 1] - mdp.tr_ptr[k]
    rows = np.repeat(np.arange(n), lens)
    idx = _ranges(mdp.tr_ptr[k], lens)
    P = sp.csr_matrix((mdp.tr_prob[idx], (rows, mdp.tr_idx[idx].astype(np.int64))), shape=(n, n))
    A = (sp.identity(n, format="csr") - P).tolil()
    A[:, 0] = np.ones((n, 1))  # column 0 carries the unknown gain g (h(0) = 0)
    x = spla.spsolve(A.tocsc(), mdp.sa_cost[k])
    g = float(x[0])
    h = np.asarray(x, dtype=np.float64).copy()
    h[0] = 0.0
    return g, h


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each pair (vectorised)."""
    total = int(lens.sum())
    offs = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return offs + np.arange(total)


_AV_CACHE: dict[str, ActionValues | None] = {}


def action_values(problem: Problem, *, optimum: Policy | None = None) -> ActionValues | None:
    """Exact DP action values of ``problem``, or ``None`` when the state space is too large.

    Args:
        problem: the problem.
        optimum: its DP-optimal policy if already computed (e.g. the ``dp``
            method's result): then only the MDP is built and the evaluation
            equations solved, no value iteration.  Checked: if the Bellman
            residual shows it is not optimal, the DP is solved.

    Results are cached per problem (the last few).
    """
    from replenish.model.statespace import StateSpace
    from replenish.solvers.dp import build_mdp, solve_dp

    key = _problem_key(problem)
    if key in _AV_CACHE:
        return _AV_CACHE[key]
    try:
        n = StateSpace(problem, reduced=True).count()
    except SpecError:
        n = EXPLAIN_DP_LIMIT + 1
    if n > EXPLAIN_DP_LIMIT:
        _AV_CACHE[key] = None
        return None
    av = None
    if optimum is not None:
        av = _values_of(build_mdp(problem), optimum)
        if av.bellman_residual > 1e-6 * max(1.0, abs(av.gain)):
            av = None
    if av is None:
        dp = solve_dp(problem, objective="average")
        av = _values_of(dp.mdp, dp.policy)
    while len(_AV_CACHE) >= 4:
        _AV_CACHE.pop(next(iter(_AV_CACHE)))
    _AV_CACHE[key] = av
    return av


def _values_of(mdp: Any, policy: Policy) -> ActionValues:
    g, h = _relative_values(mdp, policy)
    q = mdp.q_values(h, 1.0)
    mins = np.minimum.reduceat(q, mdp.sa_ptr[:-1])
    resid = float(np.max(np.abs(g + h - mins)))
    return ActionValues(mdp=mdp, policy=policy, gain=g, relative_values=h, q=q, bellman_residual=resid)


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


# ----------------------------------------------------------------------------
# explain
# ----------------------------------------------------------------------------
def _feasible(problem: Problem, state: np.ndarray) -> bool:
    try:
        make_state(problem, int(state[0]), [int(x) for x in state[1: problem.lead_time + 1]],
                   weekday=int(state[-1]) if problem.seasonal else None)
    except SpecError:
        return False
    return True


def _problem_key(problem: Problem) -> str:
    return json.dumps(problem.to_dict(), sort_keys=True, default=json_default)


def neighbour_states(problem: Problem, state: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Feasible states with on-hand ``±1`` and each pipeline slot ``±m``."""
    out = []
    m = problem.order_multiple
    moves = [(0, 1, "on hand"), (0, -1, "on hand")]
    for i in range(1, problem.lead_time + 1):
        name = "in transit" if problem.lead_time == 1 else f"in transit β{i}"
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
        out.append(DayForecast(day=t, cost=float(comp[0] + comp[1] + comp[2] - comp[3]),
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
            f"needs {problem.state_dim} entries [α, β_1..β_L{', w' if problem.seasonal else ''}]")
    s = make_state(problem, int(s[0]), [int(x) for x in s[1: problem.lead_time + 1]],
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
        values = tuple(OrderValue(int(o), float(c), float(v), float(v - best))
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
    return Explanation(problem=problem, state=tuple(int(x) for x in s),
                       optimal_average_cost=av.gain if av is not None else None, values=values,
                       optimal_order=optimal_order, policies=tuple(out), notes=tuple(notes))


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
