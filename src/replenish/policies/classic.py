"""Classic replenishment policies (order-up-to / base-stock, ...).

Each policy is a frozen dataclass validated at construction; all act on the
inventory position ``x = α + Σβ`` (so they use the reduced state) and return
feasible orders (clipped to capacity, ``max_order`` and the position bound,
rounded down to the order multiple ``m``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dynamics import clip_orders
from ..errors import require
from ..spec import Problem
from .base import Policy, register_policy


def inventory_position(problem: Problem, states: np.ndarray) -> np.ndarray:
    """``x = α + β_1 + .. + β_L`` (units) for each row of ``states`` (n, d)."""
    states = np.atleast_2d(np.asarray(states, dtype=np.int64))
    return states[:, : problem.lead_time + 1].sum(axis=1)


def _int_param(name: str, value: Any, low: int = 0) -> int:
    require(isinstance(value, (int, np.integer)) and not isinstance(value, bool), name, value,
            "must be an integer")
    require(value >= low, name, value, f"must be >= {low}")
    return int(value)


@register_policy
@dataclass(frozen=True, kw_only=True)
class OrderUpTo(Policy):
    """Order-up-to (base-stock) policy with level ``T`` (units).

    Orders ``a = (T − x)^+`` where ``x`` is the inventory position, clipped to the
    feasible range; the classic optimal policy for backorders without fixed
    cost (Arrow, Harris & Marschak 1951; Zipkin 2000, ch. 6).
    """

    problem: Problem
    level: int

    kind = "order-up-to"
    uses_reduced_state = True

    def __post_init__(self) -> None:
        _int_param("params.level", self.level)

    def act(self, states: np.ndarray) -> np.ndarray:
        x = inventory_position(self.problem, states)
        return clip_orders(self.problem, states, np.maximum(self.level - x, 0))

    def params(self) -> dict[str, Any]:
        return {"level": self.level}
