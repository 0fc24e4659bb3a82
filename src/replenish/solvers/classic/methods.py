"""The classic methods of the catalogue (``replenish solve --method order-up-to|sS|sQ|...``): options,
fixed policies, exact or simulated search.

See :mod:`replenish.solvers.classic` for the methods and references.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from replenish.core.validate import SpecError, check_keys, require
from replenish.evaluation.evaluate import Evaluation
from replenish.evaluation.markov import evaluate_exact
from replenish.evaluation.simulate import draw_demand
from replenish.model.spec import Problem
from replenish.policies.classic import Myopic
from replenish.solvers.base import MethodOutput
from replenish.solvers.classic.common import FAMILIES, SEARCH_STATE_LIMIT
from replenish.solvers.classic.exact import EXACT_OPTIMIZERS
from replenish.solvers.classic.search import _check_family, _make_policy
from replenish.solvers.classic.simulation import optimize_by_simulation

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
    "base-stock-ew": {"level": int},
    "bsp-low-ew": {"s1": int, "s2": int, "b": int},
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
    exact_refused = None
    if search != "simulation":
        try:
            res = EXACT_OPTIMIZERS[family](problem, max_states=max_states)
        except SpecError as exc:
            if search == "exact" or exc.field != "problem.bound":
                raise
            exact_refused = exc.reason  # too large or too long for an exact search: simulation
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
    if exact_refused is not None:
        extras["exact_search"] = exact_refused
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


def base_stock_ew_method(problem: Problem, *, options: dict[str, Any], seed: int,
                        progress: bool) -> MethodOutput:
    """Best BSP-EW level, perishable products (see :func:`_run_family` for the options)."""
    return _run_family("base-stock-ew", problem, options, seed)


def bsp_low_ew_method(problem: Problem, *, options: dict[str, Any], seed: int,
                      progress: bool) -> MethodOutput:
    """Best BSP-low-EW levels, perishable products (see :func:`_run_family` for the options)."""
    return _run_family("bsp-low-ew", problem, options, seed)


#: Options of each family's table: its parameters (to evaluate a fixed policy) and the search's.
ORDER_UP_TO_OPTIONS = _FIXED["order-up-to"] | _SEARCH_OPTIONS
SS_OPTIONS = _FIXED["sS"] | _SEARCH_OPTIONS
SQ_OPTIONS = _FIXED["sQ"] | _SEARCH_OPTIONS
CAPPED_BASE_STOCK_OPTIONS = _FIXED["capped-base-stock"] | _SEARCH_OPTIONS
CONSTANT_ORDER_OPTIONS = _FIXED["constant-order"] | _SEARCH_OPTIONS
WEEKDAY_BASE_STOCK_OPTIONS = _FIXED["weekday-base-stock"] | _SEARCH_OPTIONS
BASE_STOCK_EW_OPTIONS = _FIXED["base-stock-ew"] | _SEARCH_OPTIONS
BSP_LOW_EW_OPTIONS = _FIXED["bsp-low-ew"] | _SEARCH_OPTIONS
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
