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
``capped-base-stock``, ``constant-order``, ``myopic``, ``weekday-base-stock``, and for perishable
products ``base-stock-ew`` and ``bsp-low-ew`` (:mod:`replenish.policies.perishable`).
"""

from __future__ import annotations

from replenish.solvers.classic.common import (
    FAMILIES,
    SEARCH_STATE_LIMIT,
    UNSTABLE_MASS,
    ClassicResult,
    SimulationSearchResult,
)
from replenish.solvers.classic.exact import (
    EXACT_OPTIMIZERS,
    FORMULA_TOL,
    optimize_base_stock_ew,
    optimize_bsp_low_ew,
    optimize_capped_base_stock,
    optimize_constant_order,
    optimize_myopic,
    optimize_order_up_to,
    optimize_sq,
    optimize_ss,
    optimize_weekday_base_stock,
)
from replenish.solvers.classic.methods import (
    BASE_STOCK_EW_OPTIONS,
    BSP_LOW_EW_OPTIONS,
    CAPPED_BASE_STOCK_OPTIONS,
    CONSTANT_ORDER_OPTIONS,
    MYOPIC_OPTIONS,
    ORDER_UP_TO_OPTIONS,
    SQ_OPTIONS,
    SS_OPTIONS,
    WEEKDAY_BASE_STOCK_OPTIONS,
    base_stock_ew_method,
    bsp_low_ew_method,
    capped_base_stock_method,
    constant_order_method,
    myopic_method,
    order_up_to_method,
    sq_method,
    ss_method,
    weekday_base_stock_method,
)
from replenish.solvers.classic.simulation import optimize_by_simulation

__all__ = [
    "BASE_STOCK_EW_OPTIONS",
    "BSP_LOW_EW_OPTIONS",
    "CAPPED_BASE_STOCK_OPTIONS",
    "CONSTANT_ORDER_OPTIONS",
    "EXACT_OPTIMIZERS",
    "FAMILIES",
    "FORMULA_TOL",
    "MYOPIC_OPTIONS",
    "ORDER_UP_TO_OPTIONS",
    "SEARCH_STATE_LIMIT",
    "SQ_OPTIONS",
    "SS_OPTIONS",
    "UNSTABLE_MASS",
    "WEEKDAY_BASE_STOCK_OPTIONS",
    "ClassicResult",
    "SimulationSearchResult",
    "base_stock_ew_method",
    "bsp_low_ew_method",
    "capped_base_stock_method",
    "constant_order_method",
    "myopic_method",
    "optimize_base_stock_ew",
    "optimize_bsp_low_ew",
    "optimize_by_simulation",
    "optimize_capped_base_stock",
    "optimize_constant_order",
    "optimize_myopic",
    "optimize_order_up_to",
    "optimize_sq",
    "optimize_ss",
    "optimize_weekday_base_stock",
    "order_up_to_method",
    "sq_method",
    "ss_method",
    "weekday_base_stock_method",
]
