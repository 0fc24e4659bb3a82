"""Classic replenishment policies.

Every policy here is a frozen dataclass validated at construction.  All of them
decide on the *inventory position* ``x = α + β_1 + .. + β_L`` (units; on hand,
negative under backlog, plus everything in transit), except :class:`Myopic`,
which looks at the pipeline, and they return feasible orders: the raw order of
the rule is rounded down to the order multiple ``m`` and clipped to capacity,
``max_order`` and the position bound ``B`` (:func:`replenish.dynamics.clip_orders`).
All of them depend on ``α`` and ``β_1`` only through ``α + β_1``, so exact
evaluation runs on the reduced state space.

==========================  =========================================  ===============================
policy (``kind``)           raw order in a state with position ``x``  parameters (units)
==========================  =========================================  ===============================
``order-up-to``             ``(T − x)^+``                              ``level`` T
``sS``                      ``S − x`` if ``x <= s`` else 0             ``s`` < ``S``
``sQ``                      ``n·Q`` if ``x <= s`` else 0, ``n`` the    ``s``, ``Q``, ``multiples``
                            fewest batches lifting ``x`` above ``s``
                            (``n = 1`` when ``multiples`` is False)
``capped-base-stock``       ``min(r, (T − x)^+)``                      ``level`` T, ``cap`` r
``constant-order``          ``r`` every period                         ``quantity`` r
``myopic``                  cheapest order for the period it arrives   none
``weekday-base-stock``      ``(T_w − x)^+``, ``w`` the phase of        ``levels`` T_0 .. T_{P−1}
                            tomorrow (state's last component)
==========================  =========================================  ===============================

Each rule is written once as a vectorised classmethod ``_raw(problem, states,
**params)`` accepting per-row parameter arrays; ``act`` calls it with the
policy's own parameters, and the simulation optimiser of
:mod:`replenish.solvers.classic` calls it with one parameter set per block of
rows to simulate many candidates at once.

References: Arrow, Harris & Marschak (1951) and Zipkin (2000), *Foundations of
Inventory Management*, ch. 6 (base-stock, (s, S), (r, nQ)); Scarf (1960) for
the optimality of (s, S) under backorders with a fixed cost; Johansen & Thorstenson
(1996) and Xin (2021), "Understanding the performance of capped base-stock
policies in lost-sales inventory models", *Operations Research* 69(1) (capped
base-stock); Reiman (2004) and Zipkin (2008), "Old and new methods for
lost-sales inventory systems", *Operations Research* 56(5) (constant order,
myopic policies); Morton (1971) (myopic bounds for lost sales).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.validate import require
from replenish.model.demand import TAIL, multi_period_pmf
from replenish.model.dynamics import clip_orders, expand_rows, feasible_max, reduce_rows
from replenish.model.spec import Problem
from replenish.policies.base import Policy, register_policy


def inventory_position(problem: Problem, states: np.ndarray) -> np.ndarray:
    """``x = α + β_1 + .. + β_L`` (units) for each row of ``states`` (n, d): all stock on hand
    (every age class of a perishable product) and in transit."""
    states = np.atleast_2d(np.asarray(states, dtype=np.int64))
    return states[:, : problem.position_slots].sum(axis=1)


def _int_param(name: str, value: Any, low: int | None = 0) -> int:
    require(isinstance(value, (int, np.integer)) and not isinstance(value, bool), name, value,
            "must be an integer")
    if low is not None:
        require(value >= low, name, value, f"must be >= {low}")
    require(abs(value) <= _PARAM_LIMIT, name, value, "must be at most 2^53 in size")
    return int(value)


#: Largest policy parameter (units) in absolute value: beyond it int64 arithmetic could overflow.
_PARAM_LIMIT = 2**53


def _multiple_param(name: str, value: Any, problem: Problem) -> int:
    m = problem.order_multiple
    v = _int_param(name, value, low=m)
    require(v % m == 0, name, value, f"must be a multiple of the order multiple m = {m}")
    return v


def _phase(problem: Problem, states: np.ndarray) -> np.ndarray:
    if problem.seasonal:
        return states[:, -1] % problem.period
    return np.zeros(states.shape[0], dtype=np.int64)


def expected_excess(pmf: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``E[(z − D)^+]`` for integers ``z`` (any sign) and ``D ~ pmf`` on ``0..M``.

    Uses ``E[(z − D)^+] = Σ_{k=0}^{z−1} P(D <= k)`` (0 for ``z <= 0``); beyond
    ``M`` it grows by one per unit.  The shortfall follows from
    ``E[(D − z)^+] = E[(z − D)^+] + E[D] − z``.
    """
    pmf = np.asarray(pmf, dtype=np.float64)
    z = np.asarray(z, dtype=np.int64)
    cdf = np.cumsum(pmf)
    cdf[-1] = 1.0
    acc = np.concatenate([[0.0], np.cumsum(cdf)])  # acc[z] = Σ_{k<z} F(k), z = 0..M+1
    top = len(pmf)  # = M + 1
    zc = np.clip(z, 0, top)
    return acc[zc] + np.maximum(z - top, 0)


def newsvendor_cost(pmf: np.ndarray, z: np.ndarray, h: float, p: float) -> np.ndarray:
    """``G(z) = h·E[(z − D)^+] + p·E[(D − z)^+]`` ($) for integers ``z``, ``D ~ pmf``."""
    mu = float(np.dot(np.arange(len(pmf)), pmf))
    ex = expected_excess(pmf, z)
    return (h + p) * ex + p * (mu - np.asarray(z, dtype=np.float64))


def effective_shortage_cost(problem: Problem) -> float:
    """``p'`` ($/unit short) used by the myopic rule and the searches' starting points.

    Under lost sales every unit sold is eventually ordered, so a lost unit also
    forgoes the margin ``r − c``: ``p' = p + r − c``.  Under backorders every
    unit of demand is eventually ordered and sold, so ``c`` and ``r`` do not
    depend on the policy: ``p' = p``.
    """
    if problem.lost_sales:
        return float(problem.stockout_cost + problem.price - problem.unit_cost)
    return float(problem.stockout_cost)


class _PositionPolicy(Policy):
    """Shared ``act``: evaluate the rule on the policy's own parameters, then clip."""

    uses_reduced_state = True

    def _arrays(self) -> dict[str, Any]:
        return self.params()

    @classmethod
    def _raw(cls, problem: Problem, states: np.ndarray, *args: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        raw = self._raw(self.problem, states, **self._arrays())
        return clip_orders(self.problem, states, raw)


@register_policy
@dataclass(frozen=True, kw_only=True)
class OrderUpTo(_PositionPolicy):
    """Order-up-to (base-stock) policy with level ``T`` (units).

    Orders ``a = (T − x)^+`` where ``x`` is the inventory position, clipped to the
    feasible range; the classic optimal policy for backorders without fixed
    cost (Arrow, Harris & Marschak 1951; Zipkin 2000, ch. 6).
    """

    problem: Problem
    level: int

    kind = "order-up-to"

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _int_param("params.level", self.level))

    @classmethod
    def _raw(cls, problem: Problem, states: np.ndarray, *, level: Any) -> np.ndarray:
        x = inventory_position(problem, states)
        return np.maximum(np.asarray(level) - x, 0)

    def params(self) -> dict[str, Any]:
        return {"level": self.level}


@register_policy
@dataclass(frozen=True, kw_only=True)
class SS(_PositionPolicy):
    """(s, S) policy: when the position ``x <= s``, order up to ``S`` (units).

    Optimal under backorders with a fixed order cost ``K`` and stationary demand
    (Scarf 1960; Iglehart 1963); ``S = s + 1`` is the order-up-to policy with
    level ``S``.  ``s`` may be negative (reorder only once a backlog exists;
    under lost sales any ``s < 0`` never orders).  ``S >= 0`` and ``s < S``.
    """

    problem: Problem
    s: int
    S: int

    kind = "sS"

    def __post_init__(self) -> None:
        s = _int_param("params.s", self.s, low=None)
        S = _int_param("params.S", self.S, low=0)
        require(s < S, "params.s", self.s, f"must be below S = {S} (order when x <= s, up to S)")
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "S", S)

    @classmethod
    def _raw(cls, problem: Problem, states: np.ndarray, *, s: Any, S: Any) -> np.ndarray:
        x = inventory_position(problem, states)
        return np.where(x <= np.asarray(s), np.asarray(S) - x, 0)

    def params(self) -> dict[str, Any]:
        return {"s": self.s, "S": self.S}


@register_policy
@dataclass(frozen=True, kw_only=True)
class SQ(_PositionPolicy):
    """(s, Q) / (R, nQ) policy: when ``x <= s``, order batches of ``Q`` units.

    With ``multiples=True`` (the periodic-review (r, nQ) policy, Zipkin 2000,
    §6.6) the order is the smallest multiple ``n·Q`` lifting the position above
    ``s``, ``n = ⌈(s + 1 − x)/Q⌉``; with ``multiples=False`` it is exactly one
    batch ``Q``.  ``Q`` must be a positive multiple of the order multiple ``m``.
    """

    problem: Problem
    s: int
    Q: int
    multiples: bool = True

    kind = "sQ"

    def __post_init__(self) -> None:
        object.__setattr__(self, "s", _int_param("params.s", self.s, low=None))
        object.__setattr__(self, "Q", _multiple_param("params.Q", self.Q, self.problem))
        require(isinstance(self.multiples, (bool, np.bool_)), "params.multiples", self.multiples,
                "must be true or false")
        object.__setattr__(self, "multiples", bool(self.multiples))

    @classmethod
    def _raw(cls, problem: Problem, states: np.ndarray, *, s: Any, Q: Any,
             multiples: Any) -> np.ndarray:
        x = inventory_position(problem, states)
        s, Q = np.asarray(s), np.asarray(Q)
        n = np.where(np.asarray(multiples), -((x - s - 1) // Q), 1)  # ceil((s + 1 − x)/Q)
        return np.where(x <= s, n * Q, 0)

    def params(self) -> dict[str, Any]:
        return {"s": self.s, "Q": self.Q, "multiples": self.multiples}


@register_policy
@dataclass(frozen=True, kw_only=True)
class CappedBaseStock(_PositionPolicy):
    """Capped base-stock: order ``min(r, (T − x)^+)`` (level ``T``, cap ``r``, units).

    Combines the base-stock rule with a constant-order cap; near-optimal for
    lost sales with lead times and asymptotically optimal as the lead time or
    the penalty grows (Johansen & Thorstenson 1996; Xin 2021).  ``cap >= m``.
    """

    problem: Problem
    level: int
    cap: int

    kind = "capped-base-stock"

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _int_param("params.level", self.level))
        object.__setattr__(self, "cap", _int_param("params.cap", self.cap,
                                                   low=self.problem.order_multiple))

    @classmethod
    def _raw(cls, problem: Problem, states: np.ndarray, *, level: Any, cap: Any) -> np.ndarray:
        x = inventory_position(problem, states)
        return np.minimum(np.asarray(cap), np.maximum(np.asarray(level) - x, 0))

    def params(self) -> dict[str, Any]:
        return {"level": self.level, "cap": self.cap}


@register_policy
@dataclass(frozen=True, kw_only=True)
class ConstantOrder(_PositionPolicy):
    """Order the same ``quantity`` ``r`` (units, a multiple of ``m``) every period.

    State-independent; for lost sales the on-hand stock then follows a Lindley
    recursion and the policy is asymptotically optimal for long lead times
    (Reiman 2004; Goldberg et al. 2016).  Under backorders it is only stable
    when ``r`` is above the mean demand, and then the position bound ``B``
    clips it (orders never lift the position above ``B``).
    """

    problem: Problem
    quantity: int

    kind = "constant-order"

    def __post_init__(self) -> None:
        q = _int_param("params.quantity", self.quantity, low=0)
        m = self.problem.order_multiple
        require(q % m == 0, "params.quantity", self.quantity,
                f"must be a multiple of the order multiple m = {m}")
        object.__setattr__(self, "quantity", q)

    @classmethod
    def _raw(cls, problem: Problem, states: np.ndarray, *, quantity: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(quantity, dtype=np.int64), (states.shape[0],)).copy()

    def params(self) -> dict[str, Any]:
        return {"quantity": self.quantity}


@register_policy
@dataclass(frozen=True, kw_only=True)
class WeekdayBaseStock(_PositionPolicy):
    """Base-stock with one level per demand phase: order ``(T_w − x)^+``.

    ``levels[w]`` (units) applies in states whose phase (the last state
    component, the weekday of tomorrow's demand, Monday = 0) is ``w``; needs a
    seasonal problem and one level per phase (7 for weekday demand).
    """

    problem: Problem
    levels: tuple[int, ...]

    kind = "weekday-base-stock"

    def __post_init__(self) -> None:
        P = self.problem.period
        require(self.problem.seasonal, "params.levels", self.levels,
                "weekday-base-stock needs seasonal (weekday) demand; use order-up-to")
        require(isinstance(self.levels, (list, tuple, np.ndarray)) and len(self.levels) == P,
                "params.levels", self.levels, f"must list {P} levels, one per phase (Monday first)")
        levels = tuple(_int_param(f"params.levels[{i}]", v) for i, v in enumerate(self.levels))
        object.__setattr__(self, "levels", levels)

    def _arrays(self) -> dict[str, Any]:
        return {"levels": np.asarray(self.levels, dtype=np.int64)}

    @classmethod
    def _raw(cls, problem: Problem, states: np.ndarray, *, levels: Any) -> np.ndarray:
        x = inventory_position(problem, states)
        w = _phase(problem, states)
        lv = np.asarray(levels, dtype=np.int64)
        level = lv[w] if lv.ndim == 1 else lv[np.arange(lv.shape[0]), w]
        return np.maximum(level - x, 0)

    def params(self) -> dict[str, Any]:
        return {"levels": list(self.levels)}

    def describe(self) -> str:
        return f"{self.kind}(levels={list(self.levels)})"


@register_policy
@dataclass(frozen=True, kw_only=True)
class Myopic(Policy):
    """Myopic policy: the order minimising the expected cost of the period it arrives in.

    Definition used (Morton 1971; Zipkin 2008, "myopic" policy): an order ``a``
    placed tonight is first on the shelf for the demand ``D_{L+1}`` of day
    ``L + 1`` (tomorrow is day 1).  Let ``I_L`` be the net stock just before it
    arrives: ``I_0 = α``; ``I_k = f(I_{k−1} + β_k − D_k)`` with ``f(z) = z^+``
    under lost sales and ``f(z) = z`` under backorders (``β_1`` arrives on
    day 1, ``D_k`` has the phase of day ``k``).  The order minimises::

        K·1[a > 0] + E[ h·(I_L + a − D_{L+1})^+ + p'·(D_{L+1} − I_L − a)^+ ]

    over the feasible orders, smallest ``a`` on ties, with ``p'``
    from :func:`effective_shortage_cost` (the unit cost ``c`` and price ``r``
    enter only through ``p'``: in the long run they depend on units sold,
    not on timing).  The distribution of ``I_L`` is computed exactly by
    convolution from the state (lost sales: the state's ``α + β_1, β_2 .. β_L``;
    backorders: only the position matters).  Under backorders with ``K = 0``
    this is the optimal base-stock policy; under lost sales it is a heuristic
    (it ignores the effect of ``a`` on later periods).  Needs the demand pmf.

    Orders are computed for each distinct reduced state the first time it is
    seen and cached (the policy object owns the cache).

    The one projection not written with :mod:`replenish.model.dynamics`.  The
    rule needs the *distribution* of ``I_L`` and an expectation over the
    arrival day, not one simulated period: it is computed in closed form, by
    convolving the demand pmfs of days ``1 .. L`` (lost sales: the map
    ``z → (z − D)^+`` of :func:`~replenish.model.dynamics.transition` as a
    matrix on stock levels; backorders: the pmf of the ``L + 1``-day demand)
    and by the newsvendor formula :func:`newsvendor_cost` for the arrival day.
    Calling ``transition`` instead would enumerate up to ``M^L`` demand paths
    per state (``M`` demand values) or rebuild the same convolution, and its
    period cost is not this objective (``p'`` replaces ``p``; ``c`` and ``r``
    are left out).  What it re-states of the rules is the arrival timing
    (``β_k`` on day ``k``, the order on day ``L + 1``) and the lost-sales /
    backorder recursion for on-hand stock; the state coordinates, feasibility
    and clipping come from :mod:`~replenish.model.dynamics`, and
    ``tests/test_dynamics.py`` checks the rule's choice against the same
    objective computed by enumerating demand paths through ``transition``.
    """

    problem: Problem
    _cache: dict[tuple[int, ...], int] = field(default_factory=dict, init=False, repr=False,
                                                compare=False)
    _pmf: list[np.ndarray] = field(init=False, repr=False, compare=False)
    _p_eff: float = field(init=False, repr=False, compare=False)

    kind = "myopic"
    uses_reduced_state = True

    def __post_init__(self) -> None:
        pr = self.problem
        require(not pr.perishable, "method", "myopic",
                "projects stock that keeps; for a perishable product (problem.shelf_life) use "
                "base-stock-ew or the DP")
        object.__setattr__(self, "_pmf",
                           [np.asarray(pr.demand.pmf(w, tail=TAIL)) for w in range(pr.period)])
        object.__setattr__(self, "_p_eff", effective_shortage_cost(pr))

    @classmethod
    def from_dict(cls, data: dict[str, Any], problem: Problem) -> Policy:
        params = data.get("params", {})
        require(not params, "params", params, "the myopic policy has no parameters")
        return cls(problem=problem)

    def params(self) -> dict[str, Any]:
        return {}

    # ---------------------------------------------------------------- rule
    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        red = reduce_rows(states, self.problem.fold)
        uniq, inv = np.unique(red, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        keys = [tuple(int(v) for v in row) for row in uniq]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            rows = uniq[missing]
            orders = self._compute(rows)
            for i, a in zip(missing, orders, strict=True):
                self._cache[keys[i]] = int(a)
        raw = np.array([self._cache[k] for k in keys], dtype=np.int64)[inv]
        return clip_orders(self.problem, states, raw)

    def _compute(self, red: np.ndarray) -> np.ndarray:
        """Myopic orders for reduced states ``red`` (k, dim)."""
        pr = self.problem
        L = pr.lead_time
        amax = feasible_max(pr, expand_rows(red, pr.fold))
        w0 = _phase(pr, red)
        out = np.zeros(red.shape[0], dtype=np.int64)
        for w in np.unique(w0):
            sel = np.flatnonzero(w0 == w)
            if pr.lost_sales:
                out[sel] = self._lost_sales(red[sel], amax[sel], int(w))
            else:  # only the position y + β_2 + .. + β_L matters
                out[sel] = self._backorder(red[sel, : max(L, 1)].sum(axis=1), amax[sel], int(w))
        return out

    def _choose(self, H: np.ndarray, amax: np.ndarray) -> np.ndarray:
        m = self.problem.order_multiple
        a_grid = np.arange(H.shape[1]) * m
        H = H + np.where(a_grid > 0, self.problem.fixed_order_cost, 0.0)[None, :]
        H = np.where(a_grid[None, :] <= amax[:, None], H, np.inf)
        best = H.min(axis=1, keepdims=True)
        tol = 1e-12 * np.maximum(1.0, np.abs(best))
        return np.argmax(H <= best + tol, axis=1).astype(np.int64) * m

    def _backorder(self, x: np.ndarray, amax: np.ndarray, w: int) -> np.ndarray:
        pr = self.problem
        # E G(y − D_1 − .. − D_L) over the demand of days 1..L+1 from phase w
        pmf = multi_period_pmf(pr.demand, pr.lead_time + 1, start_phase=w)
        n_a = int(amax.max()) // pr.order_multiple + 1
        y = x[:, None] + np.arange(n_a)[None, :] * pr.order_multiple
        H = newsvendor_cost(pmf, y, pr.holding_cost, self._p_eff)
        return self._choose(H, amax)

    def _lost_sales(self, red: np.ndarray, amax: np.ndarray, w: int) -> np.ndarray:
        pr = self.problem
        L, P, m = pr.lead_time, pr.period, pr.order_multiple
        W = max(int(red[:, : max(L, 1)].sum(axis=1).max()) + 1, 1)
        k = red.shape[0]
        dist = np.zeros((k, W))
        dist[np.arange(k), np.maximum(red[:, 0], 0)] = 1.0  # on hand before day 1's demand: α + β_1
        grid = np.arange(W)
        for day in range(1, L + 1):
            q = self._pmf[(w + day - 1) % P]
            # z → (z − D)^+ : T[z, j] = P(D = z − j) for j >= 1, T[z, 0] = P(D >= z)
            d = grid[:, None] - grid[None, :]
            T = np.where((d >= 0) & (d < len(q)), q[np.clip(d, 0, len(q) - 1)], 0.0)
            sf = np.concatenate([[1.0], 1.0 - np.cumsum(q)])  # sf[z] = P(D >= z)
            T[:, 0] = np.maximum(sf[np.minimum(grid, len(q))], 0.0)
            dist = dist @ T
            if day < L:  # β_{day+1} arrives on the morning of day + 1
                shift = red[:, day]
                idx = grid[None, :] - shift[:, None]
                dist = np.where(idx >= 0, np.take_along_axis(dist, np.clip(idx, 0, W - 1), axis=1), 0.0)
        q = self._pmf[(w + L) % P]
        n_a = int(amax.max()) // m + 1
        z = grid[:, None] + np.arange(n_a)[None, :] * m
        G = newsvendor_cost(q, z, pr.holding_cost, self._p_eff)  # (W, n_a)
        return self._choose(dist @ G, amax)
