"""Gymnasium environment ``replenish/Inventory-v0``.

The environment is a thin shell around :func:`replenish.dynamics.step`: the same
compiled transition the simulator and the DP use.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from replenish.core.validate import require
from replenish.model.dynamics import COST_COLUMNS, action_mask, clip_orders, step
from replenish.model.spec import Problem


class InventoryEnv(gym.Env[np.ndarray, np.int64]):
    """Daily ordering for one product in one store.

    ## Description
    Every evening the manager sees the stock on hand and the orders in transit
    and orders ``a`` units; tomorrow the oldest order arrives, demand is served
    from stock, and unmet demand is lost or backordered (see
    :mod:`replenish.dynamics` for the exact timeline).

    ## Action Space
    ``Discrete(n_actions)``: action ``k`` orders ``k·m`` units (``m`` the order
    multiple).  Orders beyond the capacity, ``max_order`` or position bound are
    infeasible: ``info["action_mask"]`` marks the feasible actions of the
    current state, and an infeasible action is clipped to the largest feasible
    order (``info["order"]`` is the order actually placed).

    ## Observation Space
    ``Box(int64)`` vector ``[α, β_1, .., β_L, (w)]``: on-hand stock ``α``
    (negative = backlog), the pipeline (``β_1`` arrives next) and, for seasonal
    demand, the weekday ``w`` of the next demand day (0 = Monday).  A
    perishable product (``shelf_life = M``) shows its on-hand stock by remaining
    life, oldest first: ``[α_1, .., α_n, β_1, .., β_L, (w)]``, ``n = max(M − 1, 1)``.

    ## Rewards
    Minus the period's cost: ``h·on-hand + p·(lost or backordered units) +
    K·1[a>0] + c·a − r·sold + w·expired``.  ``info["costs"]`` has the breakdown
    and ``info["expired"]`` the units that expired.

    ## Starting State
    Empty (nothing on hand or in transit, phase 0) unless ``random_start`` (a
    uniformly random feasible state) or ``options={"state": [...]}`` in
    :meth:`reset`.

    ## Episode End
    No terminal state; truncated after ``horizon`` periods.

    ## Arguments
    * ``problem``: a :class:`~replenish.model.spec.Problem` (or ``config``: a TOML
      path); neither: the bike shop (``replenish/data/bike_shop.toml``), so
      ``gymnasium.make("replenish/Inventory-v0")`` works as it is.
    * ``horizon``: periods per episode (default 1000; ``gymnasium.make`` also
      wraps the env in ``TimeLimit(max_episode_steps=1000)``, the same length).
    * ``render_mode``: ``None`` or ``"ansi"`` (:meth:`render` returns a line of text).
    * ``random_start``: start episodes in a uniformly random feasible state.

    The exact model is available beside the sampler: :meth:`exact_model`
    returns the MDP (transition probabilities and expected costs) that the DP
    solves.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, problem: Problem | None = None, *, config: str | None = None,
                 horizon: int = 1000, random_start: bool = False,
                 render_mode: str | None = None) -> None:
        if problem is None:
            from replenish.workflows.config import bundled_config, load_config

            problem = load_config(config if config is not None else bundled_config("bike_shop.toml")).problem
        require(isinstance(horizon, int) and horizon >= 1, "horizon", horizon, "must be >= 1")
        require(render_mode is None or render_mode in self.metadata["render_modes"], "render_mode",
                render_mode, f"must be None or one of {self.metadata['render_modes']}")
        self.problem = problem
        self.horizon = horizon
        self.random_start = random_start
        self.render_mode = render_mode
        p = problem
        lo = p.min_net_inventory if not p.lost_sales else 0
        low = [lo - 10**9 if not p.lost_sales else 0] + [0] * (p.position_slots - 1)
        if p.perishable:  # age classes: what is left of one order each
            high = [min(p.bound, p.max_order_units)] * p.stock_slots + [p.max_order_units] * p.lead_time
        else:
            high = [p.bound] + [p.max_order_units] * p.lead_time
        if p.seasonal:
            low.append(0)
            high.append(p.period - 1)
        self.observation_space = spaces.Box(np.array(low, dtype=np.int64),
                                            np.array(high, dtype=np.int64), dtype=np.int64)
        self.action_space = spaces.Discrete(p.n_actions)
        self._state = p.start_state()
        self._t = 0
        self._random_states: np.ndarray | None = None

    # ------------------------------------------------------------------ api
    def _info(self) -> dict[str, Any]:
        return {"action_mask": action_mask(self.problem, self._state[None, :])[0]}

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "state" in options:
            s = np.asarray(options["state"], dtype=np.int64)
            require(s.shape == (self.problem.state_dim,), "options.state", options["state"],
                    f"must have {self.problem.state_dim} entries")
            self._state = s.copy()
        elif self.random_start:
            if self._random_states is None:
                from replenish.model.statespace import StateSpace

                self._random_states = StateSpace(self.problem, reduced=False).enumerate()
            k = int(self.np_random.integers(len(self._random_states)))
            self._state = self._random_states[k].copy()
        else:
            self._state = self.problem.start_state()
        self._t = 0
        return self._state.copy(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        p = self.problem
        s = self._state[None, :]
        want = int(action) * p.order_multiple
        order = clip_orders(p, s, np.array([want]))
        phase = int(self._state[-1]) if p.seasonal else 0
        demand = p.demand.sample(self.np_random, np.array([phase]))
        r = step(p, s, order, demand)
        self._state = r.states[0]
        self._t += 1
        cost = float(r.total_cost[0])
        info = self._info()
        info.update(order=int(order[0]), demand=int(demand[0]), served=int(r.served[0]),
                    short=int(r.short[0]), expired=int(r.expired[0]), cost=cost,
                    costs=dict(zip(COST_COLUMNS, (float(x) for x in r.costs[0]), strict=True)))
        return self._state.copy(), -cost, False, self._t >= self.horizon, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return f"t={self._t} state={self._state.tolist()}"
        return None

    def action_masks(self) -> np.ndarray:
        """Feasible-action mask of the current state (for maskable RL libraries)."""
        return self._info()["action_mask"]

    def exact_model(self):  # type: ignore[no-untyped-def]
        """The finite MDP on reduced states (:class:`replenish.solvers.dp.MDP`)."""
        from replenish.solvers.dp import build_mdp

        return build_mdp(self.problem)


def register() -> None:
    """Register ``replenish/Inventory-v0`` with Gymnasium (idempotent; ``import replenish`` does it)."""
    from replenish import _register_env

    _register_env()
