"""Exact optimisers of the classic policies (known demand distribution; long-run average cost): one
``optimize_<family>`` per family.

See :mod:`replenish.solvers.classic` for the methods and references.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from replenish.core.validate import SpecError
from replenish.evaluation.markov import ExactEvaluation, evaluate_exact
from replenish.model.demand import TAIL, multi_period_pmf
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.policies.classic import SQ, SS, Myopic, OrderUpTo, newsvendor_cost
from replenish.solvers.classic.common import SEARCH_STATE_LIMIT, ClassicResult, _rnq_search, _SSRenewal
from replenish.solvers.classic.search import (
    _check_family,
    _check_search_time,
    _context,
    _make_policy,
    _model_pmfs,
    _Objective,
    _search,
)


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
    _check_search_time(problem, family, max_states)
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
    if patience is None:  # expiry: no convexity known
        patience = 1 if problem.order_multiple == 1 and not problem.perishable else 2
        patience = 3 if problem.perishable else patience
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


def optimize_base_stock_ew(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                           patience: int = 3) -> ClassicResult:
    """Best BSP-EW level (perishable products; :mod:`replenish.policies.perishable`): a walk
    from the newsvendor level evaluating each candidate exactly (``patience`` non-improving
    levels on each side: no convexity is known with expiry)."""
    return _exact_search(problem, "base-stock-ew", max_states=max_states,
                         patience=(patience, patience))


def optimize_bsp_low_ew(problem: Problem, *, max_states: int = SEARCH_STATE_LIMIT,
                        patience: int = 3) -> ClassicResult:
    """Best BSP-low-EW ``(S_1, S_2, b)`` (Haijema & Minner 2019): the best single level
    ``S_1 = S_2 = b`` first (BSP-EW), then coordinate descent over the three parameters, every
    candidate evaluated exactly (a local search)."""
    return _exact_search(problem, "bsp-low-ew", max_states=max_states, patience=(patience, patience))


#: family → exact optimiser.
EXACT_OPTIMIZERS: dict[str, Callable[..., ClassicResult]] = {
    "order-up-to": optimize_order_up_to,
    "sS": optimize_ss,
    "sQ": optimize_sq,
    "capped-base-stock": optimize_capped_base_stock,
    "constant-order": optimize_constant_order,
    "weekday-base-stock": optimize_weekday_base_stock,
    "base-stock-ew": optimize_base_stock_ew,
    "bsp-low-ew": optimize_bsp_low_ew,
}
