"""Ordering rules for perishable products that account for what will expire.

Base-stock on the inventory position ``x = Σα + Σβ`` (:class:`~replenish.policies.classic.OrderUpTo`)
counts every unit in stock as if it would be sold; units that will expire before they can be are
ordered again only after they are gone.  The rules here subtract the **estimated withdrawal**
``EW(s)``, the expected number of units of the position that expire before tonight's order has
arrived and been on sale for its first day (days ``1 .. L + 1``), if nothing else is ordered:

* ``base-stock-ew`` (BSP-EW): ``a = (S − x + EW)^+``;
* ``bsp-low-ew`` (BSP-low-EW, Haijema & Minner 2019, "Improved ordering of perishables: the
  value of stock-age information", *Int. J. Production Economics* 209; the teacher policy of de
  Moor, Gijsbrechts & Boute 2022): ``a = (S_1 − x + EW)^+`` when ``x − EW < b``, else
  ``(S_2 − x + EW)^+`` — two levels, the first for a low corrected position.

Orders are rounded to the nearest unit and to the pack size ``m``, then clipped to the feasible
range.  ``EW`` is computed exactly, not with the mean demand: the state is pushed through the one
:func:`~replenish.model.dynamics.transition` (orders 0) over every demand value of the next
``L + 1`` days (pmf tail ``1e-9``), the expired units weighted by their probabilities; identical
successors are merged after each day, so the cost is a few thousand kernel calls per state at
``L <= 2``.  Each policy caches ``EW`` by state (an :class:`WithdrawalCache`, shared by all the
candidates of a search).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.validate import require
from replenish.model.dynamics import clip_orders, step
from replenish.model.spec import Problem
from replenish.policies.base import Policy, register_policy
from replenish.policies.classic import _int_param, inventory_position

#: Demand pmf tail left out when computing the estimated withdrawal.
EW_TAIL = 1e-9


def expected_withdrawal(problem: Problem, states: np.ndarray) -> np.ndarray:
    """``EW`` (units, float64 (n,)) of full states (n, d): expected units expiring on days
    ``1 .. L + 1`` when nothing more is ordered (0 for a product that keeps)."""
    states = np.atleast_2d(np.asarray(states, dtype=np.int64))
    n = states.shape[0]
    ew = np.zeros(n)
    if not problem.perishable or n == 0:
        return ew
    P = problem.period
    pmfs = [np.asarray(problem.demand.pmf(w, tail=EW_TAIL)) for w in range(P)]
    width = max(len(q) for q in pmfs)
    table = np.zeros((P, width))
    for w, q in enumerate(pmfs):
        table[w, : len(q)] = q
    owner: np.ndarray = np.arange(n)
    cur: np.ndarray = states
    prob: np.ndarray = np.ones(n)
    for _day in range(problem.lead_time + 1):
        phase = cur[:, -1] % P if problem.seasonal else np.zeros(len(cur), dtype=np.int64)
        q = table[phase]  # (k, width)
        rows, dem = np.nonzero(q > 0)
        res = step(problem, cur[rows], np.zeros(rows.size, dtype=np.int64), dem)
        p = prob[rows] * q[rows, dem]
        ew += np.bincount(owner[rows], weights=p * res.expired, minlength=n)
        # merge identical successors of the same start state
        keyed = np.column_stack([owner[rows], res.states])
        uniq, inv = np.unique(keyed, axis=0, return_inverse=True)
        prob = np.bincount(inv.reshape(-1), weights=p, minlength=uniq.shape[0])
        owner, cur = uniq[:, 0].astype(np.int64), np.ascontiguousarray(uniq[:, 1:])
    return ew


@dataclass
class WithdrawalCache:
    """``EW`` by state for one problem (shared by the policies of a search)."""

    problem: Problem
    values: dict[tuple[int, ...], float] = field(default_factory=dict)

    def __call__(self, states: np.ndarray) -> np.ndarray:
        keys = [tuple(int(v) for v in row) for row in states]
        missing = sorted({k for k in keys if k not in self.values})
        if missing:
            for k, v in zip(missing, expected_withdrawal(self.problem, np.array(missing)),
                            strict=True):
                self.values[k] = float(v)
        return np.array([self.values[k] for k in keys])


class _WithdrawalPolicy(Policy):
    """Shared ``act``: ``(target − x + EW)^+`` rounded to ``m`` and clipped."""

    uses_reduced_state = True  # a perishable product's states do not fold: the full state
    problem: Problem
    cache: WithdrawalCache | None

    def _cache(self) -> WithdrawalCache:
        if self.cache is None or self.cache.problem is not self.problem:
            object.__setattr__(self, "cache", WithdrawalCache(self.problem))
        assert self.cache is not None
        return self.cache

    def _targets(self, corrected: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        x = inventory_position(self.problem, states)
        ew = self._cache()(states)
        want = np.maximum(self._targets(x - ew) - x + ew, 0.0)
        m = self.problem.order_multiple
        raw = np.floor(want / m + 0.5).astype(np.int64) * m
        return clip_orders(self.problem, states, raw)


def _check_perishable(problem: Problem, kind: str) -> None:
    require(problem.perishable, "method", kind,
            "is a rule for perishable products: give problem.shelf_life (or use order-up-to)")


@register_policy
@dataclass(frozen=True, kw_only=True, eq=False)
class BaseStockEW(_WithdrawalPolicy):
    """BSP-EW: order up to ``S`` (units) on the position net of the estimated withdrawal.

    ``a = (S − x + EW(s))^+`` (module docstring).
    """

    problem: Problem
    level: int
    cache: WithdrawalCache | None = field(default=None, repr=False, compare=False)

    kind = "base-stock-ew"

    def __post_init__(self) -> None:
        _check_perishable(self.problem, self.kind)
        object.__setattr__(self, "level", _int_param("params.level", self.level))

    def _targets(self, corrected: np.ndarray) -> np.ndarray:
        return np.full(corrected.shape, float(self.level))

    def params(self) -> dict[str, Any]:
        return {"level": self.level}


@register_policy
@dataclass(frozen=True, kw_only=True, eq=False)
class BSPLowEW(_WithdrawalPolicy):
    """BSP-low-EW (Haijema & Minner 2019): two order-up-to levels on the corrected position.

    ``a = (S_1 − x + EW)^+`` when ``x − EW < b``, else ``(S_2 − x + EW)^+`` (units).
    """

    problem: Problem
    s1: int
    s2: int
    b: int
    cache: WithdrawalCache | None = field(default=None, repr=False, compare=False)

    kind = "bsp-low-ew"

    def __post_init__(self) -> None:
        _check_perishable(self.problem, self.kind)
        for name in ("s1", "s2", "b"):
            object.__setattr__(self, name, _int_param(f"params.{name}", getattr(self, name)))

    def _targets(self, corrected: np.ndarray) -> np.ndarray:
        return np.where(corrected < self.b, float(self.s1), float(self.s2))

    def params(self) -> dict[str, Any]:
        return {"s1": self.s1, "s2": self.s2, "b": self.b}
