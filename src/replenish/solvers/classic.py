"""Optimisers of the classic policies, exact and by simulation.

Every classic policy of :mod:`replenish.policies.classic` comes with an
optimiser that finds its best parameters, so that learned policies are always
compared with the strongest version of each classic rule.

Exact optimisers (known demand distribution; long-run average cost)
-------------------------------------------------------------------

Each ``optimize_<family>(problem)`` returns a :class:`ClassicResult` (policy,
exact average cost, Markov-chain evaluation, number of candidates evaluated,
seconds).  Structure is used wherever theory gives it:

* **(s, S), backorders, stationary demand, unit order multiple** —
  Zheng & Federgruen (1991), "Finding optimal (s, S) policies is about as
  simple as evaluating a single policy", *Operations Research* 39(4):654–665.
  With ``G(y) = E[h (y − D^{L+1})^+ + p (D^{L+1} − y)^+]`` the expected
  holding/backlog cost charged ``L + 1`` days after the position is ``y``
  (``D^{L+1}`` the demand over ``L + 1`` days) and ``m(j)`` the renewal
  mass of one-period demand (``m(0) = 1/(1 − p_0)``,
  ``m(j) = Σ_{l=1}^{j} p_l m(j − l)/(1 − p_0)``), the cost of (s, S) is the
  renewal-reward ratio::

      c(s, S) = [K + Σ_{j=0}^{S−s−1} m(j) G(S − j)] / Σ_{j=0}^{S−s−1} m(j)  (+ (c − r)·E D)

  and their search returns the global optimum after a number of ``c(s, S)``
  evaluations of the order of ``S* − s*``.
* **(s, Q) = (r, nQ), backorders** — the position after ordering is uniform
  on ``{s+1, .., s+Q}`` (Hadley & Whitin 1963; Zipkin 2000, §6.6), so
  ``c(s, Q) = (1/Q)Σ G(y) + K·(1/Q)Σ_{j=1}^{Q} P(D >= j)``; for each ``Q`` the
  best window of the convex ``G`` is found with prefix sums, and the search
  over ``Q`` stops once the window average alone (non-decreasing in ``Q``)
  exceeds the best total.
* **order-up-to, backorders** — ``c(T) = G(T) + K·P(D > 0)``: the newsvendor
  level ``argmin G`` (Arrow, Harris & Marschak 1951).
* **everything else** (lost sales, lead times, capacity, order multiples,
  ``max_order``, weekday demand, capped base-stock, constant order) — every
  candidate is evaluated exactly on its Markov chain
  (:func:`replenish.markov.evaluate_exact`), in a bounded local search started
  at the analytic backorder solution: one-dimensional searches walk from the
  start in both directions, with accelerating moves while they improve and
  then unit steps until the cost has not improved for ``patience``
  consecutive candidates (exact for unimodal costs: the base-stock cost is
  convex under lost sales too, Janakiraman & Roundy 2004); two-parameter
  families search the outer parameter (S, Q, cap) that way, minimising the
  inner one (s, s, level) for each value with a warm-started walk, then check
  the eight neighbours of the result; weekday base-stock uses coordinate
  descent over the levels (with packs ``m > 1``: in steps of ``m`` first, then
  refined in single units).  These are local searches: the tests compare them
  with exhaustive enumeration on small instances.

Candidates whose backlog reaches the truncation bound of the exact chain with
probability above ``1e-4`` (unstable policies, e.g. a constant order below mean
demand under backorders) count as infinitely costly.

Optimisation by simulation
--------------------------

:func:`optimize_by_simulation` tunes any family on a given demand matrix
(historical data, bootstrap samples, or draws from a model without a usable
pmf), evaluating every candidate on the same demand (common random numbers),
with the same search strategy.  See its docstring.

Methods (``replenish solve --method NAME``): ``order-up-to``, ``sS``, ``sQ``,
``capped-base-stock``, ``constant-order``, ``myopic``, ``weekday-base-stock``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, check_keys, require
from replenish.evaluation.evaluate import Evaluation
from replenish.evaluation.markov import ExactEvaluation, evaluate_exact
from replenish.evaluation.simulate import SimulationResult, draw_demand, simulate
from replenish.model.demand import TAIL, multi_period_pmf
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.policies.classic import (
    SQ,
    SS,
    CappedBaseStock,
    ConstantOrder,
    Myopic,
    OrderUpTo,
    WeekdayBaseStock,
    effective_shortage_cost,
    newsvendor_cost,
)
from replenish.solvers.base import MethodOutput

#: family name (= CLI method name) → (policy class, parameter names).
FAMILIES: dict[str, tuple[type[Policy], tuple[str, ...]]] = {
    "order-up-to": (OrderUpTo, ("level",)),
    "sS": (SS, ("s", "S")),
    "sQ": (SQ, ("s", "Q")),
    "capped-base-stock": (CappedBaseStock, ("level", "cap")),
    "constant-order": (ConstantOrder, ("quantity",)),
    "weekday-base-stock": (WeekdayBaseStock, ("levels",)),
}

#: Default largest chain evaluated per candidate in exact searches.
SEARCH_STATE_LIMIT = 300_000
#: Stationary probability of hitting the backlog truncation above which a candidate is unstable.
UNSTABLE_MASS = 1e-4
_REL_TOL = 1e-12


# =============================================================================
# Results
# =============================================================================
@dataclass(frozen=True)
class ClassicResult:
    """Best policy of a classic family, evaluated exactly.

    Attributes:
        policy: the optimised policy.
        average_cost: its exact long-run average cost ($/period): from the
            Markov chain when ``evaluation`` is present, else from the renewal
            formula of the search.
        evaluation: Markov-chain evaluation of ``policy``
            (:func:`replenish.markov.evaluate_exact`); ``None`` only when that
            chain exceeds ``max_states`` and the cost comes from a formula.
        evaluations: number of candidate parameter sets whose cost was computed
            (exact chains or renewal formulas).
        seconds: wall time of the optimisation, final evaluation included.
        search: how the optimum was found (``"zheng-federgruen"``,
            ``"renewal-rnq"``, ``"newsvendor"``, ``"exact-local-search"``,
            ``"none"`` for the parameter-free myopic policy).
        formula_cost: the renewal-formula cost when the search used one (equals
            ``average_cost`` up to pmf/backlog truncation), else ``None``.
    """

    policy: Policy
    average_cost: float
    evaluation: ExactEvaluation | None = field(repr=False)
    evaluations: int
    seconds: float
    search: str
    formula_cost: float | None = None

    @property
    def params(self) -> dict[str, Any]:
        """The optimised parameters (``{"s": 4, "S": 10}`` ...)."""
        return self.policy.params()


@dataclass(frozen=True)
class SimulationSearchResult:
    """Result of :func:`optimize_by_simulation`.

    Attributes:
        family: the policy family searched.
        policy: the best policy found on the given demand.
        params: its parameters.
        average_cost: its sample-average cost per period on the given demand
            ($/period, periods after ``warmup``, all paths) — an in-sample
            (optimistically biased) figure; evaluate on held-out demand.
        ci95: 95% confidence interval of that average over paths (infinite
            half-width with a single path).
        simulation: the full :class:`~replenish.simulate.SimulationResult` of
            the best policy on the given demand.
        evaluations: number of candidates simulated.
        seconds: wall time.
        history: ``(params, average cost)`` of every candidate, in search order.
        budget_exhausted: True if ``max_evaluations`` stopped the search.
    """

    family: str
    policy: Policy
    params: dict[str, Any]
    average_cost: float
    ci95: tuple[float, float]
    simulation: SimulationResult = field(repr=False)
    evaluations: int
    seconds: float
    history: tuple[tuple[dict[str, Any], float], ...] = field(repr=False)
    budget_exhausted: bool = False


# =============================================================================
# Analytic building blocks (backorders): G, renewal masses, Zheng–Federgruen
# =============================================================================
def _lead_pmf(pmfs: Sequence[np.ndarray], periods: int, start_phase: int) -> np.ndarray:
    out = np.ones(1)
    for t in range(periods):
        out = np.convolve(out, pmfs[(start_phase + t) % len(pmfs)])
    return out


def _mixture(pmfs: Sequence[np.ndarray]) -> np.ndarray:
    n = max(len(p) for p in pmfs)
    out = np.zeros(n)
    for p in pmfs:
        out[: len(p)] += p
    return out / out.sum()


def _quantile(pmf: np.ndarray, ratio: float) -> int:
    return int(np.searchsorted(np.cumsum(pmf), ratio - 1e-12))


def _renewal_mass(pmf: np.ndarray, n: int) -> np.ndarray:
    """``m(0..n−1)``: expected periods the cumulative demand of a cycle equals ``j``."""
    q = np.asarray(pmf, dtype=np.float64)
    q0 = float(q[0])
    require(q0 < 1.0, "demand", "P(D = 0) = 1", "demand is always zero; nothing to optimise")
    m = np.zeros(n)
    m[0] = 1.0 / (1.0 - q0)
    for j in range(1, n):
        k = min(j, len(q) - 1)
        # Σ_{l=1}^{k} q_l m(j − l)
        m[j] = float(np.dot(q[1 : k + 1], m[j - 1 :: -1][:k])) / (1.0 - q0)
    return m


class _SSRenewal:
    """Renewal-reward cost ``c(s, S)`` of (s, S) under backorders (Zheng & Federgruen 1991)."""

    def __init__(self, one_period: np.ndarray, lead: np.ndarray, h: float, p: float,
                 K: float) -> None:
        self.q = np.asarray(one_period, dtype=np.float64)
        self.lead = np.asarray(lead, dtype=np.float64)
        self.h, self.p, self.K = h, p, K
        self.m = _renewal_mass(self.q, 64)
        self.M = np.concatenate([[0.0], np.cumsum(self.m)])
        self.count = 0

    def G(self, y: Any) -> Any:
        return newsvendor_cost(self.lead, y, self.h, self.p)

    def _grow(self, n: int) -> None:
        if n > len(self.m):
            self.m = _renewal_mass(self.q, max(n, 2 * len(self.m)))
            self.M = np.concatenate([[0.0], np.cumsum(self.m)])

    def cost(self, s: int, S: int) -> float:
        """``c(s, S)`` without the policy-independent ``(c − r)·E D`` term."""
        d = S - s
        self._grow(d)
        self.count += 1
        y = S - np.arange(d)
        return float((self.K + np.dot(self.m[:d], self.G(y))) / self.M[d])

    def y_star(self) -> int:
        y = np.arange(-1, len(self.lead) + 2)
        return int(y[np.argmin(self.G(y))])

    def solve(self) -> tuple[int, int, float]:
        """Zheng & Federgruen's algorithm: the optimal ``(s, S)`` and ``c(s, S)``."""
        G = lambda y: float(self.G(np.array([y]))[0])  # noqa: E731
        ys = self.y_star()
        s, S0 = ys, ys
        while True:  # step 0: lower s until c(s, y*) <= G(s)
            s -= 1
            if self.cost(s, S0) <= G(s):
                break
        c0 = self.cost(s, S0)
        S = S0 + 1
        while G(S) <= c0:  # step 1
            cs = self.cost(s, S)
            if cs < c0:
                S0 = S
                while self.cost(s, S0) <= G(s + 1):
                    s += 1
                c0 = self.cost(s, S0)
            S += 1
        return s, S0, c0


def _rnq_search(one_period: np.ndarray, lead: np.ndarray, h: float, p: float, K: float, *,
                q_step: int, s_low: int, top: int) -> tuple[int, int, float, int]:
    """Optimal (r, nQ) under backorders: ``(s, Q, cost, evaluations)`` (see module docstring).

    Windows ``{s+1 .. s+Q}`` within ``[s_low + 1, top]``; ``Q`` a multiple of ``q_step``.
    """
    sf = np.maximum(1.0 - np.concatenate([[0.0], np.cumsum(one_period)]), 0.0)  # P(D >= j)
    sf_sum = np.concatenate([[0.0], np.cumsum(sf[1:])])  # sf_sum[Q] = Σ_{j=1}^{Q} P(D >= j)
    y = np.arange(s_low + 1, top + 1)
    csum = np.concatenate([[0.0], np.cumsum(newsvendor_cost(lead, y, h, p))])
    best = (0, 0, math.inf)
    Q, evals = q_step, 0
    while Q <= len(y):
        win = (csum[Q:] - csum[:-Q]) / Q  # window averages for s = s_low .. top − Q
        i = int(np.argmin(win))
        evals += len(win)
        total = float(win[i]) + K * float(sf_sum[min(Q, len(sf_sum) - 1)]) / Q
        if total < best[2] - _REL_TOL * abs(total):
            best = (s_low + i, Q, total)
        if win[i] >= best[2]:  # the best window average never decreases with Q
            break
        Q += q_step
    return best[0], best[1], best[2], evals


# =============================================================================
# Generic searches
# =============================================================================
def _better(new: float, old: float) -> bool:
    """``new`` improves on ``old`` by more than rounding (``old`` may be infinite)."""
    if not new < old:
        return False
    return math.isinf(old) or new < old - _REL_TOL * max(1.0, abs(old))


def _walk(f: Callable[[int], float], x0: int, lo: int, hi: int, step: int,
          patience: int) -> tuple[int, float]:
    """Minimise ``f`` on the grid ``lo, lo+step, .. <= hi`` from ``x0``.

    In each direction: accelerating moves (1, 2, 4, .. grid steps) while they
    improve, then unit steps until ``patience`` consecutive candidates fail to
    improve; repeated until nothing changes.  Exact for unimodal ``f`` with
    ``patience >= 1`` (plateaus shorter than ``patience`` are crossed).
    """
    x0 = min(max(x0, lo), hi)
    x0 = lo + ((x0 - lo) // step) * step
    best_x, best_f = x0, f(x0)
    changed = True
    while changed:
        changed = False
        for direction in (1, -1):
            jump = 1
            while True:  # accelerate
                x = best_x + direction * jump * step
                if not lo <= x <= hi:
                    break
                fx = f(x)
                if not _better(fx, best_f):
                    break
                best_x, best_f, changed = x, fx, True
                jump *= 2
            x, misses = best_x, 0
            while misses < patience:  # unit steps
                x += direction * step
                if not lo <= x <= hi:
                    break
                fx = f(x)
                if _better(fx, best_f):
                    best_x, best_f, misses, changed = x, fx, 0, True
                else:
                    misses += 1
    return best_x, best_f


def _nested(f: Callable[[int, int], float], *, outer0: int, outer_lo: int, outer_hi: int,
            outer_step: int, inner_range: Callable[[int], tuple[int, int]], inner_step: int,
            inner0: int, patience: tuple[int, int]) -> tuple[tuple[int, int], float]:
    """Minimise ``f(outer, inner)``: walk the outer parameter, minimising the inner one
    for each outer value with a walk warm-started at the nearest outer value's
    optimum; then move to any better of the 8 neighbours and repeat."""
    inner_best: dict[int, tuple[int, float]] = {}

    def g(o: int) -> float:
        if o in inner_best:
            return inner_best[o][1]
        lo, hi = inner_range(o)
        if hi < lo:
            inner_best[o] = (inner0, math.inf)
            return math.inf
        if inner_best:
            near = min(inner_best, key=lambda k: abs(k - o))
            start = inner_best[near][0]
        else:
            start = inner0
        i, c = _walk(lambda i: f(o, i), start, lo, hi, inner_step, patience[1])
        inner_best[o] = (i, c)
        return c

    o, c = _walk(g, outer0, outer_lo, outer_hi, outer_step, patience[0])
    best = ((o, inner_best[o][0]), c)
    for _ in range(20):
        (o, i), c = best
        moved = False
        for do in (-outer_step, 0, outer_step):
            for di in (-inner_step, 0, inner_step):
                oo, ii = o + do, i + di
                if (do == 0 and di == 0) or not outer_lo <= oo <= outer_hi:
                    continue
                lo, hi = inner_range(oo)
                if not lo <= ii <= hi:
                    continue
                v = f(oo, ii)
                if _better(v, best[1]):
                    best, moved = ((oo, ii), v), True
        if not moved:
            break
        # re-run the nested walk from the better point
        (o, i), _c = best
        inner_best[o] = (i, best[1])
        o2, c2 = _walk(g, o, outer_lo, outer_hi, outer_step, patience[0])
        if _better(c2, best[1]):
            best = ((o2, inner_best[o2][0]), c2)
    return best


def _coordinate_descent(f: Callable[[tuple[int, ...]], float], x0: Sequence[int], lo: int, hi: int,
                        step: int, patience: int, max_sweeps: int = 20) -> tuple[tuple[int, ...], float]:
    x = list(x0)
    best = f(tuple(x))
    for _ in range(max_sweeps):
        changed = False
        for k in range(len(x)):
            def fk(v: int, k: int = k) -> float:
                y = list(x)
                y[k] = v
                return f(tuple(y))
            v, c = _walk(fk, x[k], lo, hi, step, patience)
            if _better(c, best):
                x[k], best, changed = v, c, True
        if not changed:
            break
    return tuple(x), best


# =============================================================================
# Objectives (exact chain, or simulation on a fixed demand matrix)
# =============================================================================
def _make_policy(problem: Problem, family: str, params: dict[str, Any]) -> Policy:
    cls, _names = FAMILIES[family]
    if family == "sQ":
        params = {"multiples": True, **params}
    return cls(problem=problem, **params)  # type: ignore[call-arg]


class _Objective:
    """Memoised cost of a parameter set of one family (exact or simulated)."""

    def __init__(self, problem: Problem, family: str, *, demand: np.ndarray | None = None,
                 warmup: int = 0, start: np.ndarray | None = None,
                 max_states: int = SEARCH_STATE_LIMIT, max_evaluations: int | None = None) -> None:
        self.problem, self.family = problem, family
        self.demand, self.warmup, self.start = demand, warmup, start
        self.max_states = max_states
        self.max_evaluations = max_evaluations
        self.memo: dict[tuple, float] = {}
        self.history: list[tuple[dict[str, Any], float]] = []
        self.best: tuple[float, Policy | None, Any] = (math.inf, None, None)
        self.budget_exhausted = False

    @property
    def evaluations(self) -> int:
        return len(self.memo)

    def __call__(self, params: dict[str, Any]) -> float:
        key = tuple((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in params.items())
        if key in self.memo:
            return self.memo[key]
        if self.max_evaluations is not None and len(self.memo) >= self.max_evaluations:
            self.budget_exhausted = True
            return math.inf
        policy = _make_policy(self.problem, self.family, params)
        if self.demand is None:
            e = evaluate_exact(self.problem, policy, max_states=self.max_states)
            cost = e.average_cost if e.truncation_mass <= UNSTABLE_MASS else math.inf
            detail: Any = e
        else:
            r = simulate(self.problem, policy, demand=self.demand, warmup=self.warmup,
                         start=self.start)
            cost, detail = r.average_cost, r
        self.memo[key] = cost
        self.history.append((policy.params(), cost))
        if cost < self.best[0] or self.best[1] is None:
            self.best = (cost, policy, detail)
        return cost


@dataclass(frozen=True)
class _Context:
    """What the searches need to know: bounds and per-phase demand pmfs."""

    pmfs: tuple[np.ndarray, ...]
    L: int
    h: float
    p: float  # effective shortage cost
    K: float
    m: int
    B: int
    s_low: int  # lowest useful reorder point
    lost: bool

    @property
    def ratio(self) -> float:
        return self.p / (self.p + self.h) if self.p + self.h > 0 else 0.5

    @property
    def mixture(self) -> np.ndarray:
        return _mixture(self.pmfs)

    def lead(self, phase: int | None = None) -> np.ndarray:
        """pmf of demand over ``L + 1`` days (from ``phase``, or mixed over phases)."""
        if phase is not None:
            return _lead_pmf(self.pmfs, self.L + 1, phase)
        return _mixture([_lead_pmf(self.pmfs, self.L + 1, w) for w in range(len(self.pmfs))])

    def clamp_level(self, T: int) -> int:
        return int(min(max(T, 0), self.B))


def _context(problem: Problem, pmfs: Sequence[np.ndarray]) -> _Context:
    s_low = -1 if problem.lost_sales else problem.min_net_inventory
    return _Context(pmfs=tuple(np.asarray(p, dtype=np.float64) for p in pmfs), L=problem.lead_time,
                    h=float(problem.holding_cost), p=effective_shortage_cost(problem),
                    K=float(problem.fixed_order_cost), m=problem.order_multiple, B=problem.bound,
                    s_low=s_low, lost=problem.lost_sales)


def _model_pmfs(problem: Problem) -> list[np.ndarray]:
    return [np.asarray(problem.demand.pmf(w, tail=TAIL)) for w in range(problem.period)]


def _empirical_pmfs(problem: Problem, demand: np.ndarray, start_phase: int) -> list[np.ndarray]:
    P = problem.period
    phases = (start_phase + np.arange(demand.shape[1])) % P
    out = []
    for w in range(P):
        vals = demand[:, phases == w].ravel()
        out.append(np.bincount(vals) / vals.size if vals.size else np.ones(1))
    return out


def _analytic_ss(ctx: _Context) -> tuple[int, int] | None:
    """(s, S) of the backorder analogue (Zheng–Federgruen on the mixed pmf), or None."""
    if ctx.h <= 0 or ctx.p <= 0 or ctx.mixture[0] >= 1.0:
        return None
    r = _SSRenewal(ctx.mixture, ctx.lead(), ctx.h, ctx.p, ctx.K)
    s, S, _ = r.solve()
    return s, S


# ---------------------------------------------------------------- searches
def _search(family: str, obj: _Objective, ctx: _Context, initial: dict[str, Any] | None,
            patience: tuple[int, int]) -> dict[str, Any]:
    """Run the family's search on ``obj``; the best parameters found."""
    m, B = ctx.m, ctx.B
    T0 = ctx.clamp_level(_quantile(ctx.lead(), ctx.ratio))
    if family == "order-up-to":
        x0 = int(initial["level"]) if initial else T0
        T, _ = _walk(lambda T: obj({"level": T}), x0, 0, B, 1, patience[0])
        return {"level": T}
    if family == "sS":
        if initial:
            s0, S0 = int(initial["s"]), int(initial["S"])
        else:
            ss = _analytic_ss(ctx)
            s0, S0 = ss if ss is not None else (T0 - 1, T0)
        S0 = min(max(S0, 0), B)
        s0 = min(max(s0, ctx.s_low), S0 - 1)
        (S, s), _ = _nested(lambda S, s: obj({"s": s, "S": S}), outer0=S0, outer_lo=0, outer_hi=B,
                            outer_step=1, inner_range=lambda S: (ctx.s_low, S - 1), inner_step=1,
                            inner0=s0, patience=patience)
        return {"s": s, "S": S}
    if family == "sQ":
        if initial:
            s0, Q0 = int(initial["s"]), int(initial["Q"])
        else:
            s0, Q0, _, _ = _rnq_search(ctx.mixture, ctx.lead(), ctx.h, max(ctx.p, 1e-9), ctx.K,
                                       q_step=m, s_low=ctx.s_low, top=B)
        Q0 = max(m, min((Q0 // m) * m, (B // m) * m))
        s0 = min(max(s0, ctx.s_low), B - Q0)
        (Q, s), _ = _nested(lambda Q, s: obj({"s": s, "Q": Q}), outer0=Q0, outer_lo=m,
                            outer_hi=max(m, (B // m) * m), outer_step=m,
                            inner_range=lambda Q: (ctx.s_low, B - 1), inner_step=1, inner0=s0,
                            patience=patience)
        return {"s": s, "Q": Q}
    mu = float(np.dot(np.arange(len(ctx.mixture)), ctx.mixture))
    # under backorders a cap (or constant order) at or below the mean demand cannot
    # keep up: the backlog drifts away (null-recurrent or transient), so such
    # candidates are infeasible without evaluating their (truncated) chains
    def unstable(r: int) -> bool:
        return not ctx.lost and r <= mu

    if family == "capped-base-stock":
        # in steady state no order exceeds the largest one-period demand M, so
        # caps from M up are all the plain base-stock policy
        top = max(m, min(math.ceil((len(ctx.mixture) - 1) / m) * m, (B // m) * m))
        if initial:
            T0, r0 = int(initial["level"]), int(initial["cap"])
        else:  # lost sales: caps near the mean; backorders: from the uncapped policy down
            r0 = max(m, math.ceil(mu / m) * m) if ctx.lost else top
        (r, T), _ = _nested(lambda r, T: math.inf if unstable(r) else obj({"level": T, "cap": r}),
                            outer0=min(r0, top), outer_lo=m, outer_hi=top, outer_step=m,
                            inner_range=lambda r: (0, B), inner_step=1, inner0=T0, patience=patience)
        return {"level": T, "cap": r}
    if family == "constant-order":
        if initial:
            r0 = int(initial["quantity"])
        else:
            r0 = math.floor(mu / m) * m if ctx.lost else (math.floor(mu / m) + 1) * m
        top = (min(B, 10 * math.ceil(mu) + m) // m) * m
        r, _ = _walk(lambda r: math.inf if unstable(r) else obj({"quantity": r}), r0, 0, max(top, m),
                     m, patience[0])
        return {"quantity": r}
    if family == "weekday-base-stock":
        P = len(ctx.pmfs)
        if initial:
            x0 = tuple(int(v) for v in initial["levels"])
        else:
            x0 = tuple(ctx.clamp_level(_quantile(ctx.lead(w), ctx.ratio)) for w in range(P))
        f = lambda lv: obj({"levels": lv})  # noqa: E731
        if ctx.m > 1:  # coarse to fine: whole packs first, then single units
            x0, _ = _coordinate_descent(f, x0, 0, B, ctx.m, patience[0])
        x, _ = _coordinate_descent(f, x0, 0, B, 1, patience[0])
        return {"levels": list(x)}
    raise SpecError("family", family, f"unknown policy family; expected one of {', '.join(FAMILIES)}")


def _check_family(problem: Problem, family: str) -> None:
    require(family in FAMILIES, "family", family,
            f"unknown policy family; expected one of {', '.join(FAMILIES)}")
    if family == "weekday-base-stock":
        require(problem.seasonal, "method", family,
                "needs seasonal (weekday) demand; use order-up-to for stationary demand")


# =============================================================================
# Exact optimisers
# =============================================================================
def _finish(problem: Problem, policy: Policy, t0: float, evaluations: int, search: str, *,
            formula_cost: float | None = None, evaluation: ExactEvaluation | None = None,
            max_states: int = SEARCH_STATE_LIMIT) -> ClassicResult:
    if evaluation is None:
        try:
            evaluation = evaluate_exact(problem, policy, max_states=max_states)
        except SpecError:
            if formula_cost is None:
                raise
    cost = evaluation.average_cost if evaluation is not None else float(formula_cost)  # type: ignore[arg-type]
    return ClassicResult(policy=policy, average_cost=cost, evaluation=evaluation,
                         evaluations=evaluations, seconds=time.perf_counter() - t0, search=search,
                         formula_cost=formula_cost)


def _unit_offset(problem: Problem, pmf: np.ndarray) -> float:
    """Policy-independent ``(c − r)·E D`` per period under backorders."""
    mu = float(np.dot(np.arange(len(pmf)), pmf))
    return (problem.unit_cost - problem.price) * mu


def _backorder_formula_ok(problem: Problem) -> bool:
    return (not problem.lost_sales and not problem.seasonal and problem.holding_cost > 0
            and problem.stockout_cost > 0)


def _tail(pmf: np.ndarray, k: int) -> float:
    """``P(D > k)``."""
    if k < 0:
        return 1.0
    if k >= len(pmf) - 1:
        return 0.0
    return max(0.0, 1.0 - float(np.sum(pmf[: k + 1])))


#: largest probability that an order the renewal formulas assume exceeds ``max_order``.
_BINDING_TAIL = 1e-6
#: relative agreement required between a renewal formula and the Markov chain.
FORMULA_TOL = 1e-6


def _formula_result(problem: Problem, policy: Policy, t0: float, evaluations: int, search: str,
                    formula: float, max_states: int) -> ClassicResult | None:
    """Final chain evaluation of a formula-optimal policy; ``None`` if the two disagree
    (a model detail the formula ignores matters: then search exactly instead)."""
    res = _finish(problem, policy, t0, evaluations, search, formula_cost=formula,
                  max_states=max_states)
    if res.evaluation is not None and \
            abs(res.evaluation.average_cost - formula) > FORMULA_TOL * max(1.0, abs(formula)):
        return None
    return res


def _exact_search(problem: Problem, family: str, *, max_states: int, patience: tuple[int, int],
                  t0: float | None = None) -> ClassicResult:
    t0 = time.perf_counter() if t0 is None else t0
    _check_family(problem, family)
    obj = _Objective(problem, family, max_states=max_states)
    ctx = _context(problem, _model_pmfs(problem))
    params = _search(family, obj, ctx, None, patience)
    pol = _make_policy(problem, family, params)
    _cost, best_pol, best_eval = obj.best
    ev = best_eval if (best_pol is not None and best_pol.params() == pol.params()) else None
    return _finish(problem, pol, t0, obj.evaluations, "exact-local-search", evaluation=ev,
                   max_states=max_states)


def optimize_order_up_to(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                         patience: int | None = None) -> ClassicResult:
    """Best order-up-to level ``T`` (exact long-run average cost).

    Backorders with stationary demand, ``m = 1`` and no binding ``max_order``:
    the cost is ``G(T) + K·P(D > 0)`` (+ ``(c − r)·E D``), minimised by the
    newsvendor level ``T* = argmin G`` (``P(D^{L+1} <= T) >= p/(p + h)``),
    clipped to ``[0, B]``.  Otherwise: a walk from that level evaluating each
    candidate exactly, stopping after ``patience`` non-improving levels on each
    side (the cost is convex in ``T`` for backorders and for lost sales,
    Janakiraman & Roundy 2004, so ``patience = 1``, the default when ``m = 1``,
    is exact; order multiples ``m > 1`` round orders and the default is 2).
    """
    if patience is None:
        patience = 1 if problem.order_multiple == 1 else 2
    t0 = time.perf_counter()
    q = np.asarray(problem.demand.pmf(0, tail=TAIL))
    if _backorder_formula_ok(problem) and problem.order_multiple == 1 and \
            _tail(q, problem.max_order_units) <= _BINDING_TAIL:
        lead = multi_period_pmf(problem.demand, problem.lead_time + 1)
        y = np.arange(0, problem.bound + 1)
        G = newsvendor_cost(lead, y, problem.holding_cost, problem.stockout_cost)
        T = int(y[np.argmin(G)])
        formula = float(G[T]) + problem.fixed_order_cost * (1.0 - float(q[0])) + _unit_offset(problem, q)
        res = _formula_result(problem, OrderUpTo(problem=problem, level=T), t0, len(y), "newsvendor",
                              formula, max_states)
        if res is not None:
            return res
    return _exact_search(problem, "order-up-to", max_states=max_states, patience=(patience, patience),
                         t0=t0)


def optimize_ss(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                patience: tuple[int, int] = (2, 1)) -> ClassicResult:
    """Best (s, S) policy (exact long-run average cost).

    Backorders, stationary demand, ``m = 1``: Zheng & Federgruen (1991) on the
    renewal-reward cost (global optimum; see the module docstring), as long as
    the optimum respects the position bound and ``max_order`` (orders above it
    with probability at most 1e-6); the final policy is evaluated on its Markov
    chain, which must agree with the formula to ``FORMULA_TOL``.  Otherwise a
    bounded exact local search: outer walk over ``S`` from the backorder
    analogue's ``S``, inner walk over ``s`` (``patience = (outer, inner)``),
    then a neighbourhood check.
    """
    t0 = time.perf_counter()
    q = np.asarray(problem.demand.pmf(0, tail=TAIL))
    if _backorder_formula_ok(problem) and problem.order_multiple == 1 and q[0] < 1.0:
        lead = multi_period_pmf(problem.demand, problem.lead_time + 1)
        r = _SSRenewal(q, lead, problem.holding_cost, problem.stockout_cost,
                       problem.fixed_order_cost)
        s, S, c = r.solve()
        if S <= problem.bound and _tail(q, problem.max_order_units - (S - s - 1)) <= _BINDING_TAIL:
            res = _formula_result(problem, SS(problem=problem, s=s, S=S), t0, r.count,
                                  "zheng-federgruen", c + _unit_offset(problem, q), max_states)
            if res is not None:
                return res
    return _exact_search(problem, "sS", max_states=max_states, patience=patience, t0=t0)


def optimize_sq(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                patience: tuple[int, int] = (2, 1)) -> ClassicResult:
    """Best (s, Q) = (r, nQ) policy, ``Q`` a multiple of ``m`` (exact long-run average cost).

    Backorders with stationary demand whose support has no common divisor
    above 1: the uniform-position renewal formula with the window search of
    the module docstring (global optimum within the position bound), checked
    against the Markov chain as for (s, S).  Otherwise: exact local search,
    outer walk over ``Q``, inner over ``s``.
    """
    t0 = time.perf_counter()
    q = np.asarray(problem.demand.pmf(0, tail=TAIL))
    support = np.flatnonzero(q[1:] > 0) + 1
    if _backorder_formula_ok(problem) and support.size and math.gcd(*support.tolist()) == 1:
        lead = multi_period_pmf(problem.demand, problem.lead_time + 1)
        s, Q, c, n = _rnq_search(q, lead, problem.holding_cost, problem.stockout_cost,
                                 problem.fixed_order_cost, q_step=problem.order_multiple,
                                 s_low=problem.min_net_inventory, top=problem.bound)
        if Q > 0 and _tail(q, problem.max_order_units - Q) <= _BINDING_TAIL:
            res = _formula_result(problem, SQ(problem=problem, s=s, Q=Q), t0, n, "renewal-rnq",
                                  c + _unit_offset(problem, q), max_states)
            if res is not None:
                return res
    return _exact_search(problem, "sQ", max_states=max_states, patience=patience, t0=t0)


def optimize_capped_base_stock(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                               patience: tuple[int, int] = (2, 1)) -> ClassicResult:
    """Best capped base-stock ``(level T, cap r)`` (Xin 2021), exact local search.

    Outer walk over the cap ``r`` (multiples of ``m``, up to the largest
    one-period demand ``M``: in steady state larger caps never bind) from
    ``⌈E D⌉`` under lost sales, or from ``M`` (the uncapped base-stock policy)
    under backorders, where caps ``r <= E D`` are unstable and skipped; inner
    walk over ``T`` warm-started at the previous cap's best level; then a
    neighbourhood check.
    """
    return _exact_search(problem, "capped-base-stock", max_states=max_states, patience=patience)


def optimize_constant_order(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                            patience: int = 2) -> ClassicResult:
    """Best constant order ``r`` (multiple of ``m``), exact walk from ``⌊E D⌋``.

    Under backorders only ``r`` above the mean demand is stable (the position
    bound then clips the orders); unstable candidates count as infinitely
    costly.
    """
    return _exact_search(problem, "constant-order", max_states=max_states,
                         patience=(patience, patience))


def optimize_weekday_base_stock(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                                patience: int | None = None) -> ClassicResult:
    """Best weekday base-stock levels: coordinate descent with exact evaluation.

    Starts at the per-weekday newsvendor levels (quantile ``p'/(p' + h)`` of the
    demand over the ``L + 1`` days starting on that weekday) and walks each
    level in turn until a full sweep changes nothing (a coordinate-wise local
    optimum).  Needs seasonal demand.  ``patience`` defaults to 1 when ``m = 1``
    (each level's cost is then unimodal in practice) and 2 otherwise.
    """
    if patience is None:
        patience = 1 if problem.order_multiple == 1 else 2
    return _exact_search(problem, "weekday-base-stock", max_states=max_states,
                         patience=(patience, patience))


def optimize_myopic(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT) -> ClassicResult:
    """The parameter-free :class:`~replenish.policies.classic.Myopic` policy, evaluated exactly."""
    t0 = time.perf_counter()
    return _finish(problem, Myopic(problem=problem), t0, 1, "none", max_states=max_states)


#: family → exact optimiser.
EXACT_OPTIMIZERS: dict[str, Callable[..., ClassicResult]] = {
    "order-up-to": optimize_order_up_to,
    "sS": optimize_ss,
    "sQ": optimize_sq,
    "capped-base-stock": optimize_capped_base_stock,
    "constant-order": optimize_constant_order,
    "weekday-base-stock": optimize_weekday_base_stock,
}


# =============================================================================
# Optimisation by simulation (common random numbers)
# =============================================================================
def optimize_by_simulation(problem: Problem, family: str, *, demand: np.ndarray, warmup: int = 0,
                           start: np.ndarray | None = None, initial: dict[str, Any] | None = None,
                           patience: tuple[int, int] = (3, 2),
                           max_evaluations: int = 1000) -> SimulationSearchResult:
    """Tune a classic policy on a fixed demand matrix (common random numbers).

    Every candidate policy is simulated (:func:`replenish.simulate.simulate`)
    on exactly the same demand, so cost differences between candidates carry
    no sampling noise from different draws, and the objective — the average
    cost per period over all paths and the periods after ``warmup`` — is a
    deterministic function of the parameters.  The search is the same as in
    the exact optimisers (walks with patience; outer/inner walks for
    two-parameter families; coordinate descent for weekday levels), started at
    the newsvendor / Zheng–Federgruen solution of the *empirical* demand
    distribution of the matrix (per phase for seasonal problems).

    Args:
        problem: the problem (costs, lead time, capacity, bounds, excess demand;
            its demand model is *not* used: the matrix is the demand).
        family: ``"order-up-to"``, ``"sS"``, ``"sQ"``, ``"capped-base-stock"``,
            ``"constant-order"`` or ``"weekday-base-stock"`` (the latter needs
            a seasonal problem).
        demand: int array ``(n_paths, horizon)`` (or ``(horizon,)`` for one
            path), units per period; column ``t`` is the demand of period ``t``
            and, for seasonal problems, has phase ``(w_0 + t) mod P`` where
            ``w_0`` is the phase of ``start`` (default 0 = Monday).  Historical
            sales: one row per history window (e.g. a year of days), aligned so
            that column 0 is the weekday of ``start``.  The caller owns any
            randomness used to produce it.
        warmup: periods excluded from the average at the start of each path.
        start: full start state ``(d,)`` or ``(n_paths, d)``; default empty stock,
            phase 0.
        initial: starting parameters (e.g. ``{"s": 4, "S": 10}``) instead of the
            analytic guess.
        patience: ``(outer, inner)`` non-improving steps tolerated by the walks
            (the sample-average cost is piecewise and slightly rugged).
        max_evaluations: budget on candidates simulated.

    Returns:
        :class:`SimulationSearchResult`; its ``average_cost`` is in-sample
        (optimistic): evaluate the policy on held-out demand with
        ``simulate(problem, result.policy, demand=test_matrix)``.
    """
    t0 = time.perf_counter()
    _check_family(problem, family)
    d = np.asarray(demand)
    if d.ndim == 1:
        d = d[None, :]
    require(d.ndim == 2 and d.size > 0, "demand", np.shape(demand),
            "must be a non-empty (n_paths, horizon) array")
    require(np.issubdtype(d.dtype, np.integer) or bool(np.all(d == np.round(d))), "demand",
            "non-integer values", "demand must be whole units")
    d = np.ascontiguousarray(d, dtype=np.int64)
    require(bool(np.all(d >= 0)), "demand", int(d.min()), "demand must be >= 0")
    require(isinstance(warmup, int) and 0 <= warmup < d.shape[1], "warmup", warmup,
            f"must be in [0, horizon = {d.shape[1]})")
    start_phase = 0
    if start is not None and problem.seasonal:
        start_phase = int(np.atleast_2d(np.asarray(start))[0, -1]) % problem.period
    obj = _Objective(problem, family, demand=d, warmup=warmup, start=start,
                     max_evaluations=max_evaluations)
    ctx = _context(problem, _empirical_pmfs(problem, d, start_phase))
    params = _search(family, obj, ctx, initial, patience)
    pol = _make_policy(problem, family, params)
    _cost, best_pol, sim = obj.best
    if best_pol is None or best_pol.params() != pol.params():
        sim = simulate(problem, pol, demand=d, warmup=warmup, start=start)
    return SimulationSearchResult(family=family, policy=pol, params=pol.params(),
                                  average_cost=sim.average_cost, ci95=sim.ci95, simulation=sim,
                                  evaluations=obj.evaluations, seconds=time.perf_counter() - t0,
                                  history=tuple(obj.history), budget_exhausted=obj.budget_exhausted)


# =============================================================================
# Methods (CLI / solve())
# =============================================================================
_SEARCH_OPTIONS: dict[str, Any] = {"search": str, "n_paths": int, "horizon": int, "warmup": int,
                                   "max_states": int}
_FIXED: dict[str, dict[str, Any]] = {
    "order-up-to": {"level": int},
    "sS": {"s": int, "S": int},
    "sQ": {"s": int, "Q": int, "multiples": bool},
    "capped-base-stock": {"level": int, "cap": int},
    "constant-order": {"quantity": int},
    "weekday-base-stock": {"levels": list},
}


def _run_family(family: str, problem: Problem, options: dict[str, Any], seed: int) -> MethodOutput:
    """Shared body of the classic methods (``options``: the ``[family]`` TOML table).

    Options: the family's parameters (all of them, to evaluate a fixed policy
    instead of optimising), ``search`` = ``"auto"`` (exact, or simulation when
    the chains are too large) | ``"exact"`` | ``"simulation"``, and for
    simulation searches ``n_paths`` (50), ``horizon`` (1000), ``warmup`` (100);
    ``max_states`` caps the chain size per exact candidate.  A simulation
    search draws its demand matrix from ``numpy.random.default_rng([seed,
    0x5C1A551C])``, a stream independent of the one :func:`~replenish.methods.solve`
    uses to evaluate the result, so the reported cost is out of sample.
    """
    check_keys(options, {**_FIXED[family], **_SEARCH_OPTIONS}, family)
    _check_family(problem, family)
    fixed = {k: options[k] for k in _FIXED[family] if k in options}
    required = FAMILIES[family][1]
    search = options.get("search", "auto")
    require(search in ("auto", "exact", "simulation"), f"{family}.search", search,
            "must be 'auto', 'exact' or 'simulation'")
    max_states = options.get("max_states", SEARCH_STATE_LIMIT)
    require(max_states >= 1, f"{family}.max_states", max_states, "must be >= 1")
    if fixed:
        missing = [k for k in required if k not in fixed]
        require(not missing, f"{family}.{missing[0] if missing else ''}", None,
                f"give all of {', '.join(required)} to evaluate a fixed policy, or none to optimise")
        pol = _make_policy(problem, family, fixed)
        try:
            e = evaluate_exact(problem, pol, max_states=max_states)
        except SpecError as exc:
            if exc.field != "problem.bound":
                raise
            return MethodOutput(policy=pol, params=pol.params(), extras={"search": "fixed"})
        return MethodOutput(policy=pol, params=pol.params(), extras={"search": "fixed"},
                            evaluation=Evaluation.from_exact(e))
    if search != "simulation":
        try:
            res = EXACT_OPTIMIZERS[family](problem, max_states=max_states)
        except SpecError as exc:
            if search == "exact" or exc.field != "problem.bound":
                raise
        else:
            extras = {"search": res.search, "evaluations": res.evaluations,
                      "optimiser_seconds": res.seconds}
            if res.formula_cost is not None:
                extras["formula_cost"] = res.formula_cost
            ev = Evaluation.from_exact(res.evaluation) if res.evaluation is not None else None
            return MethodOutput(policy=res.policy, params=res.params, extras=extras, evaluation=ev)
    n_paths = options.get("n_paths", 50)
    horizon = options.get("horizon", 1000)
    warmup = options.get("warmup", 100)
    require(n_paths >= 1, f"{family}.n_paths", n_paths, "must be >= 1")
    require(horizon >= 2, f"{family}.horizon", horizon, "must be >= 2")
    require(0 <= warmup < horizon, f"{family}.warmup", warmup, f"must be in [0, horizon = {horizon})")
    # a stream independent of the one solve() uses to evaluate the result
    rng = np.random.default_rng([seed, 0x5C1A551C])
    demand = draw_demand(problem, rng, n_paths=n_paths, horizon=horizon)
    sr = optimize_by_simulation(problem, family, demand=demand, warmup=warmup)
    extras = {"search": "simulation", "evaluations": sr.evaluations, "optimiser_seconds": sr.seconds,
              "in_sample_cost": sr.average_cost, "n_paths": n_paths, "horizon": horizon}
    return MethodOutput(policy=sr.policy, params=sr.params, extras=extras)


def order_up_to_method(problem: Problem, *, options: dict[str, Any], seed: int,
                       progress: bool) -> MethodOutput:
    """Best order-up-to policy (see :func:`_run_family` for the options)."""
    return _run_family("order-up-to", problem, options, seed)


def ss_method(problem: Problem, *, options: dict[str, Any], seed: int, progress: bool) -> MethodOutput:
    """Best (s, S) policy (see :func:`_run_family` for the options)."""
    return _run_family("sS", problem, options, seed)


def sq_method(problem: Problem, *, options: dict[str, Any], seed: int, progress: bool) -> MethodOutput:
    """Best (s, Q) policy (see :func:`_run_family` for the options)."""
    return _run_family("sQ", problem, options, seed)


def capped_base_stock_method(problem: Problem, *, options: dict[str, Any], seed: int,
                             progress: bool) -> MethodOutput:
    """Best capped base-stock policy (see :func:`_run_family` for the options)."""
    return _run_family("capped-base-stock", problem, options, seed)


def constant_order_method(problem: Problem, *, options: dict[str, Any], seed: int,
                          progress: bool) -> MethodOutput:
    """Best constant order (see :func:`_run_family` for the options)."""
    return _run_family("constant-order", problem, options, seed)


def weekday_base_stock_method(problem: Problem, *, options: dict[str, Any], seed: int,
                              progress: bool) -> MethodOutput:
    """Best weekday base-stock levels (see :func:`_run_family` for the options)."""
    return _run_family("weekday-base-stock", problem, options, seed)


#: Options of each family's table: its parameters (to evaluate a fixed policy) and the search's.
ORDER_UP_TO_OPTIONS = _FIXED["order-up-to"] | _SEARCH_OPTIONS
SS_OPTIONS = _FIXED["sS"] | _SEARCH_OPTIONS
SQ_OPTIONS = _FIXED["sQ"] | _SEARCH_OPTIONS
CAPPED_BASE_STOCK_OPTIONS = _FIXED["capped-base-stock"] | _SEARCH_OPTIONS
CONSTANT_ORDER_OPTIONS = _FIXED["constant-order"] | _SEARCH_OPTIONS
WEEKDAY_BASE_STOCK_OPTIONS = _FIXED["weekday-base-stock"] | _SEARCH_OPTIONS
MYOPIC_OPTIONS: dict[str, Any] = {"max_states": int}


def myopic_method(problem: Problem, *, options: dict[str, Any], seed: int,
                  progress: bool) -> MethodOutput:
    """The myopic policy (no parameters; ``options``: ``max_states``)."""
    check_keys(options, MYOPIC_OPTIONS, "myopic")
    pol = Myopic(problem=problem)
    try:
        e = evaluate_exact(problem, pol, max_states=options.get("max_states", SEARCH_STATE_LIMIT))
    except SpecError as exc:
        if exc.field != "problem.bound":
            raise
        return MethodOutput(policy=pol, params={}, extras={"search": "none"})
    return MethodOutput(policy=pol, params={}, extras={"search": "none"}, evaluation=Evaluation.from_exact(e))
