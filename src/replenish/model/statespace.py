"""Enumeration and indexing of the (bounded) state space for tabular methods.

Two coordinate systems are used:

* the **full** state ``[α, β_1, .., β_L, (w)]`` that the environment, the
  simulator and every policy see;
* the **reduced** state ``[y, β_2, .., β_L, (w)]`` with ``y = α + β_1`` (the stock
  on the shelf tomorrow morning before demand).  For ``L = 0`` it equals the
  full state.  ``α`` and ``β_1`` enter the future only through their sum (the
  arrival precedes tomorrow's demand, and holding, stockout and capacity depend
  on sums), so the reduced state is a sufficient statistic: optimal policies,
  and every policy whose action depends on ``α + β_1`` only, are exactly
  evaluated on it with a state space ``L + 1`` times smaller in each pipeline
  dimension.  Any reduced state is represented by the full state
  ``[y, 0, β_2, .., β_L, (w)]``.  Both maps are defined in
  :mod:`replenish.model.dynamics` (``reduce_state`` / ``expand_state``, and
  their vectorised forms used here).

States are bounded by the problem: net inventory ``>= min_net_inventory``,
inventory position ``<= B`` and pipeline entries (single orders) multiples of
``m`` of at most ``max_order_units``.

A perishable product's on-hand entries ``α_1 .. α_n`` (by remaining life) do
not fold (``Problem.fold = 0``): its reduced coordinates are the full ones.
Each age class is what is left of one order, ``0 .. max_order_units`` units
(any integer: part of it was sold), and nothing is carried overnight with a
shelf life of one day.
"""

from __future__ import annotations

import numpy as np

from replenish.core.validate import SpecError
from replenish.model.dynamics import expand_rows, reduce_rows
from replenish.model.spec import Problem


class StateSpace:
    """Indexes the full or reduced states of ``problem``.

    Args:
        problem: the problem.
        reduced: use the reduced coordinates (see module docstring).

    Attributes:
        dim: length of a state vector in these coordinates.
        offsets, strides: int64 (dim,), ``key = Σ (x − offset)·stride``.
    """

    def __init__(self, problem: Problem, *, reduced: bool) -> None:
        self.problem = problem
        self.reduced = reduced
        L, B = problem.lead_time, problem.bound
        lo = problem.min_net_inventory
        n_pipe = L - 1 if (reduced and problem.fold) else L
        self.n_pipeline = n_pipe
        #: on-hand entries: 1 (α, or y when reduced), or a perishable product's age classes
        self.n_stock = problem.stock_slots
        self.stock_cap = self._stock_cap(problem)
        if problem.perishable:
            lows = [0] * self.n_stock + [0] * n_pipe
            sizes = [self.stock_cap + 1] * self.n_stock + [problem.max_order_units + 1] * n_pipe
        else:
            lows = [lo] + [0] * n_pipe
            sizes = [B - lo + 1] + [problem.max_order_units + 1] * n_pipe
        if problem.seasonal:
            lows.append(0)
            sizes.append(problem.period)
        self.dim = len(lows)
        self.offsets = np.array(lows, dtype=np.int64)
        self.sizes = np.array(sizes, dtype=np.int64)
        total = 1.0
        for s in sizes:
            total *= float(s)
        if total >= 2.0**62:
            raise SpecError("problem.bound", B, "state space too large to index; use DQN")
        # the net-inventory coordinate varies fastest: successors of one state
        # under different demands then sit next to each other in memory
        strides = np.ones(self.dim, dtype=np.int64)
        for i in range(1, self.dim):
            strides[i] = strides[i - 1] * sizes[i - 1]
        self.strides = strides

    @staticmethod
    def _stock_cap(problem: Problem) -> int:
        """Largest entry of one on-hand age class of a perishable product (0 when
        nothing is carried overnight); ``B`` for a product that keeps."""
        if not problem.perishable:
            return problem.bound
        if problem.shelf_life == 1:
            return 0
        return min(problem.max_order_units, problem.bound)

    # ----------------------------------------------------------- coordinates
    def reduce(self, full: np.ndarray) -> np.ndarray:
        """Full states (n, L+1[+1]) → these coordinates (identity if not reduced)."""
        full = np.asarray(full, dtype=np.int64)
        return reduce_rows(full, self.problem.fold) if self.reduced else full

    def expand(self, states: np.ndarray) -> np.ndarray:
        """These coordinates → representative full states (``β_1 = 0`` if reduced)."""
        states = np.asarray(states, dtype=np.int64)
        return expand_rows(states, self.problem.fold) if self.reduced else states

    def encode(self, states: np.ndarray) -> np.ndarray:
        """Integer keys (int64) of states in these coordinates."""
        return (np.asarray(states, dtype=np.int64) - self.offsets) @ self.strides

    def decode(self, keys: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode`."""
        keys = np.asarray(keys, dtype=np.int64)
        out = np.empty((keys.size, self.dim), dtype=np.int64)
        rem = keys.copy()
        for i in range(self.dim - 1, -1, -1):
            out[:, i] = rem // self.strides[i]
            rem = rem - out[:, i] * self.strides[i]
        return out + self.offsets

    def clip_low(self, states: np.ndarray) -> np.ndarray:
        """Mask of rows whose net inventory is below the representable minimum."""
        return np.asarray(states)[:, 0] < self.offsets[0]

    # ---------------------------------------------------------- enumeration
    def count(self) -> int:
        """Number of states (without enumerating them)."""
        p = self.problem
        B, m, lo = p.bound, p.order_multiple, p.min_net_inventory
        # ways[r] = number of pipeline vectors (multiples of m) with sum exactly r
        ways = np.zeros(B - min(lo, 0) + 1, dtype=np.float64)
        ways[0] = 1.0
        vmax = min(p.max_order_units, len(ways) - 1)
        slots = [(m, vmax)] * self.n_pipeline
        if p.perishable:  # the age classes are summed in like pipeline slots of step 1
            slots += [(1, min(self.stock_cap, len(ways) - 1))] * self.n_stock
        for step, vcap in slots:
            new = np.zeros_like(ways)
            for v in range(0, vcap + 1, step):
                new[v:] += ways[: len(ways) - v]
            ways = new
        if p.perishable:
            return int(ways[: B + 1].sum()) * (p.period if p.seasonal else 1)
        total = 0.0
        for first in range(lo, B + 1):
            budget = B - first  # pipeline sum allowed
            total += ways[: budget + 1].sum() if budget >= 0 else 0.0
        return int(total) * (p.period if p.seasonal else 1)

    def enumerate(self, *, max_states: int = 20_000_000) -> np.ndarray:
        """All states in these coordinates, sorted by key (int64 (n, dim))."""
        n = self.count()
        if n > max_states:
            raise SpecError("problem.bound", self.problem.bound,
                            f"{n:,} states exceed the tabular limit of {max_states:,}; "
                            "lower the bound or capacity, or use DQN")
        p = self.problem
        B, m = p.bound, p.order_multiple
        if p.perishable:  # first age class: 0 .. cap; the others like pipeline slots of step 1
            first = np.arange(0, self.stock_cap + 1, dtype=np.int64)
            steps = [1] * (self.n_stock - 1) + [m] * self.n_pipeline
            caps = [self.stock_cap] * (self.n_stock - 1) + [p.max_order_units] * self.n_pipeline
        else:
            first = np.arange(p.min_net_inventory, B + 1, dtype=np.int64)
            steps = [m] * self.n_pipeline
            caps = [p.max_order_units] * self.n_pipeline
        cols = [first]
        pos = first.copy()
        for step, cap in zip(steps, caps, strict=True):
            # a pipeline slot is one order: a multiple of m, at most max_order_units;
            # an age class is what is left of one
            room = np.minimum(np.maximum(B - pos, -1), cap)
            counts = np.where(room >= 0, room // step + 1, 0)
            rep = np.repeat(np.arange(pos.size), counts)
            starts = np.cumsum(counts) - counts
            vals = (np.arange(rep.size) - np.repeat(starts, counts)) * step
            cols = [c[rep] for c in cols] + [vals]
            pos = pos[rep] + vals
        states = np.stack(cols, axis=1)
        if p.seasonal:
            P = p.period
            states = np.concatenate(
                [np.repeat(states, P, axis=0), np.tile(np.arange(P), states.shape[0])[:, None]],
                axis=1)
        keys = self.encode(states)
        order = np.argsort(keys, kind="stable")
        return states[order]
