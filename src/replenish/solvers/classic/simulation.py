"""Optimisation of any classic family by simulation on a fixed demand matrix (common random numbers).

See :mod:`replenish.solvers.classic` for the methods and references.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from replenish.core.validate import require
from replenish.evaluation.simulate import simulate
from replenish.model.spec import Problem
from replenish.solvers.classic.common import SimulationSearchResult
from replenish.solvers.classic.search import (
    _check_family,
    _context,
    _empirical_pmfs,
    _make_policy,
    _Objective,
    _search,
)


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
