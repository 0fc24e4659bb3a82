"""The problem specification: one product, one store, periodic review.

Notation (Zipkin 2000, *Foundations of Inventory Management*; the bike-shop
design uses ``α`` and ``β``):

* state at the evening review: on-hand stock ``α`` (units left after today's
  demand; negative = backlog under backorders), the pipeline of orders in
  transit ``β_1 .. β_L`` (``β_1`` arrives tomorrow morning) and, when demand is
  seasonal, the phase ``w`` of tomorrow (weekday, Monday = 0);
* decision: order ``a`` units (a multiple of ``m``), which arrives ``L``
  mornings from now, i.e. it can serve demand ``L + 1`` days later when
  ``L >= 1``, and tomorrow when ``L = 0``;
* one period: order ``a`` placed; ``β_1`` arrives (``L = 0``: ``a`` arrives);
  demand ``D`` is served from stock; unmet demand is lost or backordered;
* cost of a period: ``h`` per unit on hand at the end of the day, ``p`` per
  unit of lost demand (or per unit backordered at the end of the day), ``K``
  per order placed, ``c`` per unit ordered, minus ``r`` (``price``) per unit
  sold.  Reward is minus cost.
* constraints: inventory position after ordering ``α + Σβ + a <= C``
  (``capacity``) and ``a <= a_max`` (``max_order``).
* perishable products (``shelf_life = M``, lost sales only): a unit can be
  sold on the ``M`` days starting with the morning it arrives; the on-hand
  stock is split by remaining life, ``α_1 .. α_n`` with ``n = max(M − 1, 1)``
  (``α_1`` the oldest: sold tomorrow or wasted tomorrow night), demand is
  served oldest first (``issuing = "fifo"``) or freshest first (``"lifo"``),
  and ``w`` (``waste_cost``) is paid per unit that expires, on top of the unit
  cost ``c`` paid when it was ordered (Nahmias 1982; the cost convention of de
  Moor, Gijsbrechts & Boute 2022: ``h`` on the units carried overnight after
  tonight's expiry, ``w`` on the units that expire tonight, ``p`` per lost
  sale).  ``M = 1`` is the newsvendor: nothing is carried overnight.

The inventory position ``α + Σβ + a`` is also bounded by ``B``
(:attr:`Problem.bound`): the smaller of the capacity (or ``position_bound``)
and a bound derived from the demand (a ``1 − 10⁻⁶`` quantile of demand over
``L + 1`` periods plus an economic-order-quantity allowance for ``K``), so a
capacity far above anything the demand can use costs nothing; bounds past
``BOUND_LIMIT`` units are refused.  Every component (environment, simulator, DP) uses the
same feasible set; exact solvers report how often the bound binds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np

from replenish.core.validate import SpecError, is_number, require, require_int
from replenish.model.demand import DemandModel, demand_from_dict, multi_period_pmf

ExcessDemand = Literal["lost", "backorder"]
Issuing = Literal["fifo", "lifo"]

#: Largest inventory position bound ``B`` (units) any method works with.
BOUND_LIMIT = 10_000_000
#: Quantile used for automatic state bounds.
_BOUND_QUANTILE_TAIL = 1e-6


def layout(lead_time: int, rules: int) -> tuple[int, int]:  # pragma: no cover
    """``(n, fold)`` of a state: ``n`` on-hand entries (``max(M − 1, 1)`` for a perishable
    product, else 1; the position is the sum of the first ``n + L`` entries) and whether
    ``α`` and ``β_1`` fold into one reduced entry (1 when ``L >= 1`` and the product keeps;
    what :func:`reduce_state` and :func:`expand_state` take).  ``Problem.stock_slots`` and
    ``Problem.fold`` are this function."""
    life = rules >> 2
    if life > 0:
        return (life - 1 if life > 1 else 1), 0
    return 1, min(lead_time, 1)


def _int_or_none(name: str, value: Any, low: int = 0) -> None:
    if value is None:
        return
    require_int(value, name, low=low)


def _nonneg(name: str, value: Any) -> None:
    require(is_number(value), name, value, "must be a finite number")
    require(value >= 0, name, value, "must be >= 0")


@dataclass(frozen=True, kw_only=True)
class Problem:
    """A single-item, periodic-review inventory problem (frozen and validated).

    Attributes (symbol, unit):
        demand: demand model ``D`` (units/period), see :mod:`replenish.demand`.
        lead_time: ``L`` (periods), number of pipeline slots; ``0`` means
            tonight's order is on the shelf tomorrow morning.
        capacity: ``C`` (units) on the inventory position after ordering,
            ``α + Σβ + a <= C``; ``None`` for no capacity.
        max_order: ``a_max`` (units) per order; ``None`` for no limit.
        order_multiple: ``m`` (units); orders are ``0, m, 2m, ...`` (pack size).
        excess_demand: ``"lost"`` (lost sales) or ``"backorder"``.
        holding_cost: ``h`` ($/unit/period) on stock on hand at the end of a day.
        stockout_cost: ``p`` ($/unit) per unit of lost demand, or per unit
            backordered at the end of a day.
        fixed_order_cost: ``K`` ($/order) for each period with ``a > 0``.
        unit_cost: ``c`` ($/unit) per unit ordered.
        price: ``r`` ($/unit) revenue per unit sold.
        discount: ``γ`` in (0, 1), for discounted objectives.
        position_bound: (units) bound on the inventory position used when
            there is no capacity, capped like the capacity by the demand-derived
            bound (:attr:`bound`); ``None`` uses the demand-derived bound.
        backlog_bound: (units) under backorders, exact solvers truncate the net
            inventory at ``−backlog_bound``; ``None`` derives one.
        shelf_life: ``M`` (periods) a unit can be sold, counting the day it
            arrives; ``None`` (the default) for a product that keeps.  Needs
            lost sales.
        issuing: ``"fifo"`` (oldest units sold first, the default) or
            ``"lifo"`` (customers pick the freshest); only with ``shelf_life``.
        waste_cost: ``w`` ($/unit) per unit that expires; only with ``shelf_life``.
        name: a label for reports.
    """

    demand: DemandModel
    lead_time: int = field(default=0, metadata={"symbol": "L", "unit": "periods"})
    capacity: int | None = field(default=None, metadata={"symbol": "C", "unit": "units"})
    max_order: int | None = field(default=None, metadata={"symbol": "a_max", "unit": "units"})
    order_multiple: int = field(default=1, metadata={"symbol": "m", "unit": "units"})
    excess_demand: ExcessDemand = "lost"
    holding_cost: float = field(default=1.0, metadata={"symbol": "h", "unit": "$/unit/period"})
    stockout_cost: float = field(default=9.0, metadata={"symbol": "p", "unit": "$/unit"})
    fixed_order_cost: float = field(default=0.0, metadata={"symbol": "K", "unit": "$/order"})
    unit_cost: float = field(default=0.0, metadata={"symbol": "c", "unit": "$/unit"})
    price: float = field(default=0.0, metadata={"symbol": "r", "unit": "$/unit"})
    discount: float = field(default=0.99, metadata={"symbol": "γ"})
    position_bound: int | None = field(default=None, metadata={"symbol": "B", "unit": "units"})
    backlog_bound: int | None = field(default=None, metadata={"unit": "units"})
    shelf_life: int | None = field(default=None, metadata={"symbol": "M", "unit": "periods"})
    issuing: Issuing = "fifo"
    waste_cost: float = field(default=0.0, metadata={"symbol": "w", "unit": "$/unit"})
    name: str = "problem"

    def __post_init__(self) -> None:
        require(isinstance(self.demand, DemandModel), "demand", self.demand,
                "must be a demand model")
        _int_or_none("problem.lead_time", self.lead_time)
        require(self.lead_time is not None and self.lead_time <= 52, "problem.lead_time",
                self.lead_time, "must be an integer in [0, 52]")
        _int_or_none("problem.capacity", self.capacity, low=1)
        _int_or_none("problem.max_order", self.max_order, low=1)
        _int_or_none("problem.order_multiple", self.order_multiple, low=1)
        _int_or_none("problem.position_bound", self.position_bound, low=1)
        _int_or_none("problem.backlog_bound", self.backlog_bound, low=0)
        require(self.excess_demand in ("lost", "backorder"), "problem.excess_demand",
                self.excess_demand, "must be 'lost' or 'backorder'")
        for f in ("holding_cost", "stockout_cost", "fixed_order_cost", "unit_cost", "price",
                  "waste_cost"):
            _nonneg(f"problem.{f}", getattr(self, f))
        _int_or_none("problem.shelf_life", self.shelf_life, low=1)
        require(self.shelf_life is None or self.shelf_life <= 30, "problem.shelf_life",
                self.shelf_life, "must be an integer in [1, 30] (leave it out for a product that keeps)")
        require(self.issuing in ("fifo", "lifo"), "problem.issuing", self.issuing,
                "must be 'fifo' or 'lifo'")
        if self.shelf_life is None:
            require(self.issuing == "fifo", "problem.issuing", self.issuing,
                    "needs problem.shelf_life (only perishable stock has an issuing order)")
            require(self.waste_cost == 0, "problem.waste_cost", self.waste_cost,
                    "needs problem.shelf_life (only perishable stock is wasted)")
        else:
            require(self.excess_demand == "lost", "problem.shelf_life", self.shelf_life,
                    "needs excess_demand = 'lost' (perishables are modelled with lost sales)")
        require(isinstance(self.discount, (int, float)) and not isinstance(self.discount, bool)
                and 0 < self.discount < 1, "problem.discount", self.discount,
                "must be a number in (0, 1)")
        if self.capacity is not None and self.position_bound is not None:
            require(self.position_bound == self.capacity, "problem.position_bound",
                    self.position_bound, "conflicts with capacity; give only one of them")
        if self.max_order is not None:
            require(self.max_order >= self.order_multiple, "problem.max_order", self.max_order,
                    f"is smaller than order_multiple = {self.order_multiple}: nothing can be ordered")
        if self.capacity is not None:
            require(self.capacity >= self.order_multiple, "problem.capacity", self.capacity,
                    f"is smaller than order_multiple = {self.order_multiple}: nothing can be ordered")
        require(isinstance(self.name, str), "name", self.name, "must be a string")

    # ------------------------------------------------------------------ derived
    @property
    def lost_sales(self) -> bool:
        """True when unmet demand is lost, False when it is backordered."""
        return self.excess_demand == "lost"

    @property
    def period(self) -> int:
        """Number of demand phases ``P`` (1 stationary, 7 weekday-seasonal)."""
        return int(self.demand.period)

    @property
    def seasonal(self) -> bool:
        """True when the phase (weekday) is part of the state."""
        return self.period > 1

    @property
    def perishable(self) -> bool:
        """True when stock expires (:attr:`shelf_life` given)."""
        return self.shelf_life is not None

    @property
    def stock_slots(self) -> int:
        """``n``: entries of the on-hand stock in a state, ``max(M − 1, 1)`` for a
        perishable product (by remaining life, oldest first), 1 otherwise."""
        return int(layout(self.lead_time, self.rules)[0])

    @property
    def position_slots(self) -> int:
        """``n + L``: the leading state entries whose sum is the inventory position."""
        return self.stock_slots + self.lead_time

    @property
    def fold(self) -> int:
        """1 when ``α`` and ``β_1`` enter the future only through their sum (``L >= 1``, a
        product that keeps), so that tabular methods work on reduced states; else 0.

        What :func:`~replenish.model.dynamics.reduce_state` and
        :func:`~replenish.model.dynamics.expand_state` take: with 0 they leave a state as it is.
        """
        return int(layout(self.lead_time, self.rules)[1])

    @property
    def rules(self) -> int:
        """The rule code the dynamics kernels take (one int, so that compiled loops pass
        it on unchanged): bit 0 lost sales, bit 1 LIFO issuing, bits 2.. the shelf life
        ``M`` (0 = the product keeps).  Decoded by :func:`~replenish.model.dynamics.transition`.
        """
        life = 0 if self.shelf_life is None else int(self.shelf_life)
        return int(self.lost_sales) | (2 if self.issuing == "lifo" else 0) | (life << 2)

    @property
    def state_dim(self) -> int:
        """Length of a state vector ``[α_1 .. α_n, β_1 .. β_L, (w)]`` (``n = 1`` for a
        product that keeps: ``[α, β_1 .. β_L, (w)]``)."""
        return self.position_slots + (1 if self.seasonal else 0)

    @cached_property
    def bound(self) -> int:
        """``B`` (units): the bound on the inventory position after ordering.

        The smaller of the capacity (or ``position_bound``) and the demand-derived
        bound (:attr:`demand_bound`, rounded up to ``m``), so a capacity far above
        any stock the demand can use does not blow up state spaces and searches.
        """
        # the demand-derived bound, rounded up to the pack size m
        m = self.order_multiple
        d = self.demand_bound
        b, what = -(-d // m) * m, "problem.fixed_order_cost" if self.fixed_order_cost > 0 else "demand"
        for key in ("position_bound", "capacity"):
            given = getattr(self, key)
            if given is not None and given <= b:
                b, what = int(given), f"problem.{key}"
        if b > BOUND_LIMIT:
            value = (self.demand.to_dict() if what == "demand" else
                     getattr(self, what.split(".")[1]))
            raise SpecError(what, value,
                            f"the inventory position bound exceeds the limit of {BOUND_LIMIT} units: "
                            "give a smaller capacity or position_bound")
        return b

    @property
    def capacity_binds(self) -> bool:
        """True when the capacity (not the demand-derived bound) is the position bound."""
        return self.capacity is not None and self.bound == self.capacity

    @cached_property
    def demand_bound(self) -> int:
        """The demand-derived position bound (units): the ``1 − 10⁻⁶`` quantile of demand
        over ``L + 1`` periods plus twice the economic order quantity, plus ``m``,
        rounded up to a multiple of ``m``."""
        q = self._lead_time_demand_quantile()
        eoq = 0.0
        if self.fixed_order_cost > 0:
            mu = max(self.demand.mean_at(w) for w in range(self.period))
            eoq = math.sqrt(2 * self.fixed_order_cost * mu / max(self.holding_cost, 1e-9))
        x = q + 2 * eoq
        if not x < BOUND_LIMIT:  # also NaN/inf from an extreme K/h
            return BOUND_LIMIT + 1
        b = math.ceil(x) + self.order_multiple
        return max(b, self.order_multiple)

    @cached_property
    def min_net_inventory(self) -> int:
        """Lowest net inventory exact solvers represent (0 under lost sales)."""
        if self.lost_sales:
            return 0
        if self.backlog_bound is not None:
            return -int(self.backlog_bound)
        return -math.ceil(self._lead_time_demand_quantile())

    def _lead_time_demand_quantile(self) -> float:
        best = 0
        for w in range(self.period):
            pmf = multi_period_pmf(self.demand, self.lead_time + 1, start_phase=w)
            cdf = np.cumsum(pmf)
            best = max(best, int(np.searchsorted(cdf, 1 - _BOUND_QUANTILE_TAIL)))
        return float(best)

    @property
    def max_order_units(self) -> int:
        """Largest order ever feasible (units), rounded down to ``m``.

        ``a_max`` when given; otherwise the widest range the position bound
        allows, ``B − min_net_inventory`` (``B`` under lost sales), so a backlog
        never stops an order back up to the bound.
        """
        span = self.bound - min(self.min_net_inventory, 0)
        hi = span if self.max_order is None else min(self.max_order, span)
        return (hi // self.order_multiple) * self.order_multiple

    @property
    def n_actions(self) -> int:
        """Number of order quantities ``0, m, .., max_order_units``."""
        return self.max_order_units // self.order_multiple + 1

    def cost_params(self) -> np.ndarray:
        """``[h, p, K, c, r, w]`` as float64, the cost vector the dynamics use."""
        return np.array([self.holding_cost, self.stockout_cost, self.fixed_order_cost,
                         self.unit_cost, self.price, self.waste_cost], dtype=np.float64)

    def start_state(self, phase: int = 0) -> np.ndarray:
        """The empty state: nothing on hand or in transit; phase ``phase``."""
        s = np.zeros(self.state_dim, dtype=np.int64)
        if self.seasonal:
            s[-1] = phase % self.period
        return s

    def stocked_state(self, phase: int = 0) -> np.ndarray:
        """The state a replay starts from: nothing in transit, and on hand enough for the
        expected demand of the ``L`` days before tonight's order can arrive,
        ``⌈Σ_{j<L} E[D_{w+j}]⌉`` capped at ``B`` (0 when ``L = 0``); phase ``phase``.

        A perishable product holds it fresh, in its youngest age class; with a shelf life of
        one day (nothing is carried overnight) it arrives tomorrow morning as ``β_1``, rounded
        up to the pack.  Every replay of every method starts here, so that differences in
        replayed cost come from the policies alone.
        """
        state = self.start_state(phase)
        exp = sum(self.demand.mean_at((phase + j) % self.period) for j in range(self.lead_time))
        alpha = min(math.ceil(exp - 1e-9), self.bound)
        if not self.perishable:
            state[0] = alpha
        elif (self.shelf_life or 0) > 1:
            state[self.stock_slots - 1] = alpha
        elif self.lead_time >= 1:
            m = self.order_multiple
            state[self.stock_slots] = min(-(-alpha // m) * m, self.max_order_units)
        return state

    def replace(self, **changes: Any) -> Problem:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The ``{"name", "problem", "demand"}`` tables of a TOML config."""
        prob = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("demand", "name") and getattr(self, f.name) is not None}
        if not self.perishable:  # a product that keeps: its tables stay as they were
            prob.pop("issuing", None)
            prob.pop("waste_cost", None)
        return {"name": self.name, "problem": prob, "demand": self.demand.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        """Inverse of :meth:`to_dict` (also the core of TOML loading)."""
        require(isinstance(data, dict), "config", data, "must be a table")
        prob = data.get("problem", {})
        require(isinstance(prob, dict), "problem", prob, "must be a table")
        allowed = {f.name for f in fields(cls)} - {"demand", "name"}
        for key in prob:
            if key not in allowed:
                raise SpecError(f"problem.{key}", prob[key],
                                f"unknown key (expected one of {', '.join(sorted(allowed))})")
        require("demand" in data, "demand", None, "a [demand] table is required")
        demand = demand_from_dict(data["demand"])
        name = data.get("name", "problem")
        return cls(demand=demand, name=name, **prob)
