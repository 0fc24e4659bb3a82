"""The Gymnasium environment."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import replenish
from replenish import InventoryEnv, Poisson, Problem, WeekdayPoisson


@pytest.mark.parametrize("problem", [
    Problem(demand=Poisson(4), lead_time=1, capacity=10, holding_cost=8, stockout_cost=10),
    Problem(demand=WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=2, holding_cost=1,
            stockout_cost=9, excess_demand="backorder", order_multiple=2),
])
def test_check_env(problem):
    env = gym.make("replenish/Inventory-v0", problem=problem, horizon=50)
    check_env(env.unwrapped, skip_render_check=True)


def test_same_seed_same_trajectory(bike):
    e1 = InventoryEnv(bike, horizon=200, random_start=True)
    e2 = InventoryEnv(bike, horizon=200, random_start=True)
    o1, _ = e1.reset(seed=11)
    o2, _ = e2.reset(seed=11)
    assert np.array_equal(o1, o2)
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = int(rng.integers(bike.n_actions))
        r1 = e1.step(a)
        r2 = e2.step(a)
        assert np.array_equal(r1[0], r2[0]) and r1[1] == r2[1] and r1[3] == r2[3]
    assert r1[3]  # truncated at the horizon


def test_mask_and_clipping(bike):
    env = InventoryEnv(bike)
    obs, info = env.reset(seed=0, options={"state": [6, 3]})
    assert info["action_mask"].tolist() == [True, True] + [False] * 9
    obs, reward, _term, _trunc, info = env.step(8)  # infeasible: clipped to 1
    assert info["order"] == 1 and obs[1] == 1
    assert reward == -info["cost"]
    assert sum(info["costs"][k] for k in ("holding", "stockout", "ordering")) == info["cost"]


@pytest.mark.slow
def test_env_average_matches_exact(bike):
    """A long run of the env under the optimal policy averages the DP optimum."""
    from replenish import solve_dp

    pol = solve_dp(bike).policy
    env = InventoryEnv(bike, horizon=40_000)
    obs, _ = env.reset(seed=5)
    total = 0.0
    for _ in range(40_000):
        obs, r, _, _trunc, _ = env.step(pol.order(obs))
        total -= r
    assert total / 40_000 == pytest.approx(16.1830, abs=0.25)


def test_make_with_defaults_is_the_bike_shop():
    """``gymnasium.make(id)`` alone builds the bike shop and passes Gymnasium's checker."""
    env = gym.make("replenish/Inventory-v0")
    check_env(env.unwrapped)
    p = env.unwrapped.problem
    assert (p.name, p.lead_time, p.capacity, p.holding_cost, p.stockout_cost) == ("bike-shop", 1, 10, 8, 10)
    assert env.spec.max_episode_steps == 1000
    obs, info = env.reset(seed=1)
    assert obs.tolist() == [0, 0] and info["action_mask"].sum() == 11


def test_time_limit_and_render_mode():
    env = gym.make("replenish/Inventory-v0", max_episode_steps=5, render_mode="ansi")
    env.reset(seed=0)
    truncs = [env.step(0)[3] for _ in range(5)]
    assert truncs == [False] * 4 + [True]
    assert env.render().startswith("t=5 state=")
    with pytest.raises(replenish.SpecError, match="render_mode"):
        InventoryEnv(render_mode="human")


def test_registration_in_either_import_order():
    """``import replenish`` registers the id whether Gymnasium is imported before or after it."""
    import subprocess
    import sys

    for code in ("import replenish, gymnasium as g; g.make('replenish/Inventory-v0')",
                 "import gymnasium as g, replenish; g.make('replenish/Inventory-v0')"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-500:]
