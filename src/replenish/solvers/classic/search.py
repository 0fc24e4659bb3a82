"""Search strategies of the classic optimisers: bounded walks, nested two-parameter searches,
coordinate descent, and the objectives they minimise (exact chain or simulation on a fixed demand
matrix).

See :mod:`replenish.solvers.classic` for the methods and references.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.evaluation.markov import evaluate_exact
from replenish.evaluation.simulate import simulate
from replenish.model.demand import TAIL
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.policies.classic import effective_shortage_cost
from replenish.policies.perishable import WithdrawalCache
from replenish.solvers.classic.common import (
    _REL_TOL,
    EXACT_SEARCH_SECONDS,
    FAMILIES,
    PERISHABLE_FAMILIES,
    SEARCH_STATE_LIMIT,
    UNSTABLE_MASS,
    _lead_pmf,
    _mixture,
    _quantile,
    _rnq_search,
    _SSRenewal,
)


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
@functools.lru_cache(maxsize=8)
def _withdrawal_cache(problem: Problem) -> WithdrawalCache:
    """One :class:`WithdrawalCache` per problem, shared by every candidate of its searches."""
    return WithdrawalCache(problem)


#: Largest bound up to which the one-level searches of perishable products evaluate every level.
PERISHABLE_SCAN = 200


def _make_policy(problem: Problem, family: str, params: dict[str, Any]) -> Policy:
    cls, _names = FAMILIES[family]
    if family == "sQ":
        params = {"multiples": True, **params}
    if family in PERISHABLE_FAMILIES:
        params = {**params, "cache": _withdrawal_cache(problem)}
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
        if obj.problem.perishable and B <= PERISHABLE_SCAN:
            # with expiry the cost of a level on the total position has several local minima
            # (shelf life 1, L = 1: levels 3 and 13 of Poisson(4)): every level is evaluated
            T = min(range(B + 1), key=lambda T: (obj({"level": T}), T))
        else:
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
    if family in PERISHABLE_FAMILIES:  # patience 3: no convexity is known for perishables
        x0 = int(initial.get("level", initial.get("s1", T0))) if initial else T0
        single = (lambda T: obj({"level": T})) if family == "base-stock-ew" else \
            (lambda T: obj({"s1": T, "s2": T, "b": T}))
        if B <= PERISHABLE_SCAN:  # every level (see order-up-to above)
            S = min(range(B + 1), key=lambda T: (single(T), T))
        else:
            S, _ = _walk(single, x0, 0, B, 1, max(patience[0], 3))
        if family == "base-stock-ew":
            return {"level": S}
        # the cost is flat in b while s1 = s2: start the descent from several splits too
        starts = ([(int(initial["s1"]), int(initial["s2"]), int(initial["b"]))] if initial else
                  [(S, S, S)] + [(min(S + d1, B), S, max(S - d2, 0)) for d1 in (1, 2) for d2 in (1, 3)]
                  + [(S, min(S + 1, B), max(S - 2, 0))])
        found = []
        for start in starts:
            x, c = _coordinate_descent(lambda x: obj({"s1": x[0], "s2": x[1], "b": x[2]}),
                                       start, 0, B, 1, max(patience[0], 3))
            found.append((c, x))
        s1, s2, b = min(found)[1]
        return {"s1": s1, "s2": s2, "b": b}
    if family == "weekday-base-stock":
        P = len(ctx.pmfs)
        if initial:
            levels = tuple(int(v) for v in initial["levels"])
        else:
            levels = tuple(ctx.clamp_level(_quantile(ctx.lead(w), ctx.ratio)) for w in range(P))
        f = lambda lv: obj({"levels": lv})  # noqa: E731
        if ctx.m > 1:  # coarse to fine: whole packs first, then single units
            levels, _ = _coordinate_descent(f, levels, 0, B, ctx.m, patience[0])
        levels, _ = _coordinate_descent(f, levels, 0, B, 1, patience[0])
        return {"levels": list(levels)}
    raise SpecError("family", family, f"unknown policy family; expected one of {', '.join(FAMILIES)}")


#: Seconds per (chain state × demand value) of one exact evaluation, measured on the
#: compiled chain builder (1–9 ns on a loaded 2-core machine; the low end, so the
#: estimate errs towards starting a search).
SECONDS_PER_TRANSITION = 1e-9


def estimate_exact_search(problem: Problem, family: str, *, max_states: int = SEARCH_STATE_LIMIT
                          ) -> tuple[float, int, int, int]:
    """A quick estimate of an exact search of ``family``: ``(seconds, evaluations, chain
    states, demand values)``, without building a chain.  Chains hold at most the
    ``(L + 1)``-vectors of the bound (``C(B + L + 1, L + 1)``, times the period) and at
    most ``max_states``; each costs its states × the demand support; the walks take
    about ``2·log2(B) + 6`` evaluations per parameter, the nested searches that squared
    over two (the coordinate descent one walk per weekday and sweep)."""
    B, L = problem.bound, problem.lead_time
    states = math.comb(B + L + 1, L + 1) if L < 64 else max_states
    if problem.seasonal:
        states *= problem.period
    states = min(states, max_states)
    support = max(len(problem.demand.pmf(w, tail=TAIL)) for w in range(problem.period))
    walk = 2 * math.ceil(math.log2(B + 2)) + 6
    evaluations = {"sS": walk * walk // 2, "sQ": walk * walk // 2, "capped-base-stock": walk * walk // 2,
                   "weekday-base-stock": 3 * problem.period * walk}.get(family, walk)
    return evaluations * states * support * SECONDS_PER_TRANSITION, evaluations, states, support


def _check_search_time(problem: Problem, family: str, max_states: int) -> None:
    """Refuse (``problem.bound``, which ``search = "auto"`` answers with a simulation search)
    an exact search estimated past :data:`EXACT_SEARCH_SECONDS`."""
    seconds, evaluations, states, support = estimate_exact_search(problem, family, max_states=max_states)
    require(seconds <= EXACT_SEARCH_SECONDS, "problem.bound", problem.bound,
            f"the exact {family} search would take about {seconds:,.0f} s ({evaluations} evaluations of "
            f"chains of up to {states:,} states x {support:,} demand values; limit "
            f"{EXACT_SEARCH_SECONDS:g} s): use search = \"simulation\" or a smaller capacity or "
            "position_bound")


def _check_family(problem: Problem, family: str) -> None:
    require(family in FAMILIES, "family", family,
            f"unknown policy family; expected one of {', '.join(FAMILIES)}")
    if family in PERISHABLE_FAMILIES:
        require(problem.perishable, "method", family,
                "is a rule for perishable products: give problem.shelf_life (or use order-up-to)")
    if family == "weekday-base-stock":
        require(problem.seasonal, "method", family,
                "needs seasonal (weekday) demand; use order-up-to for stationary demand")
