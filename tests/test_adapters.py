"""Public adapters: a Python function or a Stable-Baselines3 model as a replenish policy."""

from __future__ import annotations

import numpy as np
import pytest

import replenish as rp
from replenish import OrderUpTo
from replenish.core.validate import SpecError
from replenish.model.statespace import StateSpace
from replenish.policies import CallablePolicy, from_callable, from_sb3
from replenish.workflows.explain import explain, recommend


def test_from_callable_equals_order_up_to_exactly(bike):
    # order-up-to 7 written by hand (L = 1: position = α + β_1); README: 16.8230 $/day
    pol = from_callable(lambda s: max(7 - int(s[0]) - int(s[1]), 0), bike, label="up-to-7")
    ref = OrderUpTo(problem=bike, level=7)
    states = StateSpace(bike, reduced=False).enumerate()
    assert np.array_equal(pol.act(states), ref.act(states))
    e = rp.evaluate(bike, pol)
    assert e.exact
    assert e.average_cost == pytest.approx(rp.evaluate(bike, ref).average_cost, abs=1e-12)
    assert round(e.average_cost, 4) == 16.8230
    # batched form: the same policy
    fast = rp.from_callable(lambda s: np.maximum(7 - s[:, 0] - s[:, 1], 0), bike, batched=True)
    assert np.array_equal(fast.act(states), ref.act(states))


def test_from_callable_orders_are_clipped_and_explain_recommend_work(bike):
    pol = from_callable(lambda s: 1000, bike)  # infeasible: clipped to capacity
    assert isinstance(pol, CallablePolicy)
    assert pol.order([3, 2]) == 10 - 3 - 2
    assert pol.order([0, 0]) == 10
    assert recommend(pol, 3, [2]).order == 5
    e = explain(bike, {"mine": pol}, [3, 2], days=2)
    got = {x.label: x for x in e.policies}
    assert got["mine"].order == 5 and got["DP optimum"].order == e.optimal_order
    with pytest.raises(SpecError, match="Python only"):
        pol.save("/tmp/never-written.json")
    bad = from_callable(lambda s: np.zeros(3), bike, batched=True)
    with pytest.raises(SpecError, match="one order per state"):
        bad.act(np.zeros((2, 2), dtype=np.int64))


class _FakeModel:
    """Just enough of an SB3 model: predict(obs) → action k (orders k·m)."""

    def __init__(self, problem, level):
        import gymnasium as gym

        self.observation_space = gym.spaces.Box(-1e9, 1e9, shape=(problem.state_dim,), dtype=np.int64)
        self.action_space = gym.spaces.Discrete(problem.n_actions)
        self.level = level

    def predict(self, obs, deterministic=False):
        assert deterministic
        return np.maximum(self.level - obs[:, 0] - obs[:, 1], 0), None


def test_from_sb3_maps_actions_to_orders_and_checks_spaces(bike):
    pol = from_sb3(_FakeModel(bike, 7), bike)
    assert rp.evaluate(bike, pol).average_cost == pytest.approx(
        rp.evaluate(bike, OrderUpTo(problem=bike, level=7)).average_cost, abs=1e-12)
    other = rp.Problem(demand=rp.Poisson(4), lead_time=2, capacity=10, holding_cost=8, stockout_cost=10)
    with pytest.raises(SpecError, match="observation_space"):
        from_sb3(_FakeModel(bike, 7), other)
    with pytest.raises(SpecError, match="predict"):
        from_sb3(object(), bike)


@pytest.mark.slow
def test_sb3_dqn_on_the_registered_env_is_evaluated_exactly():
    gym = pytest.importorskip("gymnasium")
    sb3 = pytest.importorskip("stable_baselines3")
    import torch

    torch.set_num_threads(1)
    env = gym.make("replenish/Inventory-v0")
    problem = env.unwrapped.problem
    model = sb3.DQN("MlpPolicy", env, learning_starts=1000, seed=0, device="cpu")
    model.learn(total_timesteps=15_000)
    pol = rp.from_sb3(model, problem)
    e = rp.evaluate(problem, pol)
    assert e.exact and e.ci95 is None
    # exact = the stationary cost of the chain the model's own decisions make: a long simulation agrees
    sim = rp.simulate(problem, pol, rng=np.random.default_rng(1), n_paths=50, horizon=2000)
    assert abs(sim.average_cost - e.average_cost) <= 4 * sim.half_width + 1e-9
    assert e.average_cost >= rp.optimal_average_cost(problem) - 1e-9
    assert recommend(pol, 3, [2]).order == pol.order([3, 2])


@pytest.mark.slow
def test_readme_sb3_ppo_snippet_runs(capsys):
    """README's Stable-Baselines3 PPO example runs as written (with 2,048 steps instead of 50,000)
    and prints an exact evaluation no better than the optimum."""
    import re
    from pathlib import Path

    pytest.importorskip("stable_baselines3")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "PPO(" in b)
    assert "from_sb3(model, problem)" in code and "total_timesteps=50_000" in code
    exec(compile(code.replace("total_timesteps=50_000", "total_timesteps=2_048"), "README", "exec"), {})
    out = capsys.readouterr().out
    m = re.search(r"PPO (\d+\.\d+) \$/day \(exact: True\), optimum (\d+\.\d+)", out)
    assert m is not None, out
    assert float(m.group(1)) >= float(m.group(2)) - 1e-9
