"""Tabular policies: an explicit order for every state of a bounded state space.

Used for DP solutions (on reduced states), Q-learning greedy policies (on full
states) and DQN policies converted to tables for exact evaluation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from replenish.core.validate import SpecError
from replenish.model.dynamics import clip_backlog_rows, clip_orders
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.policies.base import Policy, register_policy


def _int_array(values: Any, field: str) -> np.ndarray:
    """``values`` as int64, refusing NaN, infinities, fractions and integers past 2^53."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype(np.int64)
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise SpecError(field, "[...]", "must be an array of integers (not ragged)") from None
    bad = ~np.isfinite(x) | (np.abs(x) > 2.0**53)
    bad[~bad] = x[~bad] != np.floor(x[~bad])
    if bad.any():
        raise SpecError(field, float(x[bad][0]), "must hold integers (finite, below 2^53)")
    return x.astype(np.int64)


@register_policy
class TablePolicy(Policy):
    """Order ``orders[i]`` in state ``states[i]``.

    Args:
        problem: the problem.
        states: int64 (n, d) states, in reduced coordinates if ``reduced``
            (see :mod:`replenish.statespace`) else full ones.
        orders: int64 (n,) orders (units).
        reduced: whether ``states`` are reduced states ``[α + β_1, β_2.., (w)]``.
        label: the method that produced the table (``"dp"``, ``"qlearning"``...).

    States below the lowest represented net inventory (backorders) are looked up
    at that bound.  A state outside the table raises :class:`SpecError`.
    """

    kind = "table"

    def __init__(self, *, problem: Problem, states: Any, orders: Any, reduced: bool,
                 label: str = "table") -> None:
        self.problem = problem
        self.label = label
        self.space = StateSpace(problem, reduced=reduced)
        self.uses_reduced_state = bool(reduced) or problem.lead_time == 0  # type: ignore[misc]
        states = _int_array(states, "policy.states").reshape(-1, self.space.dim)
        orders = _int_array(orders, "policy.orders").reshape(-1)
        if (orders < 0).any():
            raise SpecError("policy.orders", int(orders[orders < 0][0]), "orders must be >= 0")
        if states.shape[0] != orders.shape[0]:
            raise SpecError("policy.orders", orders.shape[0],
                            f"expected one order per state ({states.shape[0]})")
        keys = self.space.encode(states)
        order = np.argsort(keys, kind="stable")
        self.states = states[order]
        self.keys = keys[order]
        self.orders = orders[order]
        if np.any(np.diff(self.keys) == 0):
            raise SpecError("policy.states", "duplicates", "each state may appear once")

    def lookup(self, coords: np.ndarray) -> np.ndarray:
        """Indices into the table of states given in the table's coordinates."""
        coords = clip_backlog_rows(coords, int(self.space.offsets[0]))  # the table's lowest backlog
        keys = self.space.encode(coords)
        idx = np.searchsorted(self.keys, keys)
        idx = np.minimum(idx, len(self.keys) - 1)
        bad = self.keys[idx] != keys
        if np.any(bad):
            raise SpecError("state", coords[np.argmax(bad)].tolist(),
                            "outside the policy's table (beyond the bounds it was built for)")
        return idx

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        idx = self.lookup(self.space.reduce(states))
        return clip_orders(self.problem, states, self.orders[idx])

    def params(self) -> dict[str, Any]:
        return {"label": self.label, "reduced": self.space.reduced,
                "states": self.states.tolist(), "orders": self.orders.tolist()}

    def describe(self) -> str:
        """``"dp table (11 reduced states: α+β₁)"`` for reduced states (the order depends on
        on-hand plus arriving stock only), ``"qlearning table (66 states)"`` for full ones."""
        if self.space.reduced and self.problem.lead_time >= 1:
            what = "α+β₁" + ("" if self.problem.lead_time == 1 else ", β₂..") \
                + (", weekday" if self.problem.seasonal else "")
            return f"{self.label} table ({len(self.orders)} reduced states: {what})"
        return f"{self.label} table ({len(self.orders)} states)"
