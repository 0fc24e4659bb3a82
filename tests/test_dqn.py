"""DQN: masking, save/load, resume, determinism, a learning smoke test, CLI.

Tiny instances and a few thousand steps only; the accuracy targets against the
DP optimum live in ``benchmarks/dqn.py``.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import replenish as rp  # noqa: E402
from replenish.cli import main  # noqa: E402
from replenish.core.validate import SpecError  # noqa: E402
from replenish.evaluation.markov import evaluate_exact  # noqa: E402
from replenish.model.dynamics import feasible_max, step  # noqa: E402
from replenish.model.statespace import StateSpace  # noqa: E402
from replenish.policies.dqn import (  # noqa: E402
    DQNPolicy,
    Observation,
    build_q_network,
    load_dqn_policy,
    masked_argmax,
    safe_torch_load,
)
from replenish.solvers.dqn import DQNConfig, train_dqn  # noqa: E402

BIKE = Path(__file__).resolve().parents[1] / "configs" / "bike_shop.toml"
BIKE_OPT = 16.1830  # DP optimum of the bike shop ($/day)
BIKE_FILL_TO_10 = 23.6072  # order-up-to 10 (always fill the capacity)


def bike() -> rp.Problem:
    return rp.load_config(BIKE).problem


def tiny_config(**kw) -> DQNConfig:
    base = dict(steps=3000, num_envs=8, learning_starts=500, batch_size=64, eval_every=1000,
                eval_paths=8, eval_horizon=60, eval_warmup=10, checkpoint_every=1000,
                eps_decay_steps=2000, target_update=50)
    base.update(kw)
    return DQNConfig(**base)


def random_policy(problem: rp.Problem, seed: int, **obs_kw) -> DQNPolicy:
    obs = Observation.from_problem(problem, **obs_kw)
    net = build_q_network(obs.n_features, obs.n_actions, (16,), post_decision=obs.post_decision,
                          generator=torch.Generator().manual_seed(seed))
    return DQNPolicy(problem=problem, network=net, observation=obs, hidden=(16,))


# ------------------------------------------------------------------ masking
def test_masked_argmax_ignores_larger_masked_values():
    q = torch.tensor([[1.0, 5.0, 9.0], [3.0, 2.0, 1.0], [-7.0, -8.0, 100.0]])
    mask = torch.tensor([[True, True, False], [False, True, True], [True, True, False]])
    assert masked_argmax(q, mask).tolist() == [1, 1, 0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cap=st.integers(4, 30), m=st.integers(1, 3),
       amax=st.none() | st.integers(3, 12), L=st.integers(0, 2), reduced=st.booleans(),
       mode=st.sampled_from(["order", "level"]), lost=st.booleans())
def test_greedy_policy_never_orders_infeasible(seed, cap, m, amax, L, reduced, mode, lost):
    if amax is not None and amax < m:
        amax = m
    if cap < m:
        cap = m
    pr = rp.Problem(demand=rp.Poisson(3.0), lead_time=L, capacity=cap, max_order=amax,
                    order_multiple=m, excess_demand="lost" if lost else "backorder")
    pol = random_policy(pr, seed, reduced=reduced, action_mode=mode)
    # bias the network towards large orders so the mask is what stops them
    with torch.no_grad():
        pol.network.head.bias.copy_(torch.arange(pol.observation.n_actions, dtype=torch.float32) * 10)
    states = StateSpace(pr, reduced=False).enumerate()
    orders = pol.act(states)
    assert np.all(orders >= 0)
    assert np.all(orders % m == 0)
    assert np.all(orders <= feasible_max(pr, states))
    # with the bias the greedy choice is the largest feasible order (the mask is tight)
    assert np.array_equal(orders, feasible_max(pr, states))
    # and with the opposite bias the smallest: order 0, or in level mode "up to level 0"
    # (which orders under a backlog)
    with torch.no_grad():
        pol.network.head.bias.mul_(-1)
    low = np.zeros(len(states), dtype=np.int64)
    if mode == "level":
        x = states[:, : L + 1].sum(axis=1)
        low = np.clip((-x // m) * m, 0, feasible_max(pr, states))
    assert np.array_equal(pol.act(states), low)


def test_large_order_range_uses_coarse_grid():
    pr = rp.Problem(demand=rp.Poisson(300.0), lead_time=1, order_multiple=6)
    obs = Observation.from_problem(pr, max_actions=64)
    assert pr.n_actions > 64
    assert obs.n_actions <= 64 and obs.stride > 1
    pol = random_policy(pr, 3, max_actions=64)
    rng = np.random.default_rng(0)
    states = np.stack([rng.integers(0, pr.bound // 2, 200), rng.integers(0, pr.bound // 2, 200)], 1)
    orders = pol.act(states)
    assert np.all(orders % (obs.stride * 6) == 0)
    assert np.all(orders <= feasible_max(pr, states))


def test_level_actions_order_up_to_the_level():
    pr = rp.Problem(demand=rp.Poisson(4.0), lead_time=1, capacity=20, order_multiple=2)
    obs = Observation.from_problem(pr, action_mode="level")
    states = np.array([[3, 4], [0, 0], [20, 0], [7, 6]])
    fmax = feasible_max(pr, states)
    # level 12 (action 6): positions 7, 0, 20, 13 -> orders 4 (rounded down to m), 12, 0, 0
    assert obs.orders(states, np.full(4, 6), fmax).tolist() == [4, 12, 0, 0]
    mask = obs.mask(states, fmax).numpy()
    assert mask[2].sum() == 1 and mask[2, 10]  # at capacity only "stay at 20" is feasible
    assert mask[1].all()


def test_weekday_features_are_one_hot():
    pr = rp.Problem(demand=rp.WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=2)
    obs = Observation.from_problem(pr)
    s = np.array([[4, 2, 3, 5], [0, 0, 0, 6]])
    x = obs.features(s).numpy()
    assert x.shape == (2, obs.n_features) == (2, 2 + 1 + 7)
    np.testing.assert_allclose(x[0, :3], np.array([6, 3, 9]) / pr.bound, rtol=1e-6)  # y, β2, position
    assert x[0, 3:].tolist() == [0, 0, 0, 0, 0, 1, 0] and x[1, 3:].tolist() == [0] * 6 + [1]


def test_actions_collected_in_training_are_feasible(tmp_path):
    pr = rp.Problem(demand=rp.Poisson(4.0), lead_time=1, capacity=12, max_order=5, order_multiple=2)
    train_dqn(pr, config=tiny_config(steps=1500, checkpoint_every=10**6), seed=1,
              checkpoint_dir=tmp_path)
    ck = safe_torch_load(tmp_path / "last.pt")
    buf = ck["buffer"]
    states, actions = buf["states"].numpy(), buf["actions"].numpy()
    assert len(actions) > 1000
    obs = Observation.from_problem(pr)
    assert np.all(actions * obs.order_step <= feasible_max(pr, states))
    assert np.all(buf["next_amax"].numpy() == feasible_max(pr, buf["next_states"].numpy()))
    assert actions.max() > 0  # exploration did order something


# ---------------------------------------------------------------- save/load
def test_demand_feature_is_the_position_in_demand_standard_deviations():
    lam = (3, 3, 3, 4, 6, 9, 5)
    pr = rp.Problem(demand=rp.WeekdayPoisson(lam), lead_time=2)
    obs = Observation.from_problem(pr, demand_features=True)
    assert obs.n_features == Observation.from_problem(pr).n_features + 1
    s = np.array([[4, 2, 3, 5], [0, 0, 0, 6]])
    x = obs.features(s).numpy()
    for row, (pos, w) in enumerate([(9, 5), (0, 6)]):
        # Poisson: mean = variance = λ_w + λ_{w+1} + λ_{w+2} over the L + 1 = 3 days
        m = sum(lam[(w + j) % 7] for j in range(3))
        assert x[row, -1] == pytest.approx((pos - m) / np.sqrt(m), rel=1e-5)


def test_post_decision_head_interpolates_knot_values_at_the_position_after_ordering():
    """Action values of the post-decision head, recomputed by hand: knot values from the
    network's layers, interpolated (numpy) at u_j = (position + j·step − μ_w)/σ_w, minus the
    ordering cost o_j of each action, plus the dueling value, advantages centred."""
    lam = (3, 3, 3, 4, 6, 9, 5)
    pr = rp.Problem(demand=rp.WeekdayPoisson(lam), lead_time=1, order_multiple=2)
    obs = Observation.from_problem(pr, post_decision=True)
    assert obs.n_features == Observation.from_problem(pr, demand_features=True).n_features + 1
    net = build_q_network(obs.n_features, obs.n_actions, (16, 16), dueling=True, post_decision=True,
                          generator=torch.Generator().manual_seed(5))
    o = np.where(np.arange(obs.n_actions) > 0, 0.7, 0.0) + 0.01 * np.arange(obs.n_actions)
    net.order_cost.copy_(torch.from_numpy(o))
    states = np.array([[4, 2, 5], [0, 0, 6], [30, 10, 0]])
    with torch.no_grad():
        x = obs.features(states)
        q = net(x).numpy()
        z = net.body(x)
        c, v = net.knots(z).numpy(), net.value(z).numpy()[:, 0]
    lo, hi, dk = net.KNOTS
    grid = np.arange(lo, hi + dk / 2, dk)
    for row, (pos, w) in enumerate([(6, 5), (0, 6), (40, 0)]):
        m = sum(lam[(w + k) % 7] for k in range(2))  # Poisson: mean = variance over L + 1 = 2 days
        u = (pos + np.arange(obs.n_actions) * obs.order_step - m) / np.sqrt(m)
        adv = np.interp(u, grid, c[row]) - o  # np.interp holds the end values beyond the grid
        np.testing.assert_allclose(q[row], v[row] + adv - adv.mean(), rtol=1e-5, atol=1e-5)


def test_post_decision_ordering_costs_come_from_the_rules_in_reward_units():
    """The trainer sets o_j = (K·[a_j > 0] + c·a_j) / cost scale, a_j = j·step (hand
    computation), in the online network and in the returned policy's."""
    pr = rp.Problem(demand=rp.WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=1, order_multiple=2,
                    fixed_order_cost=20.0, unit_cost=0.5)
    r = train_dqn(pr, config=tiny_config(steps=800, post_decision=True, cost_scale=8.0), seed=0)
    obs = r.policy.observation
    a = np.arange(obs.n_actions) * obs.order_step
    np.testing.assert_allclose(r.policy.network.order_cost.numpy(),
                               (20.0 * (a > 0) + 0.5 * a) / 8.0, rtol=1e-6)
    r2 = train_dqn(pr, config=tiny_config(steps=800, post_decision=True), seed=0)  # scale from warm-up
    assert r2.cost_scale != 8.0
    np.testing.assert_allclose(r2.policy.network.order_cost.numpy() * r2.cost_scale,
                               20.0 * (a > 0) + 0.5 * a, rtol=1e-5)


def test_demand_cost_scale_is_the_holding_cost_of_the_mean_warm_up_demand():
    """``cost_scale = "demand"``: h·mean(D) from the warm-up draws; weekday Poisson mean
    33/7 per day, h = 2; 4000 draws give a standard error of 0.07 $ on the scale."""
    pr = rp.Problem(demand=rp.WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=1, holding_cost=2.0,
                    fixed_order_cost=20.0)
    r = train_dqn(pr, config=tiny_config(steps=4200, learning_starts=4000, cost_scale="demand",
                                          post_decision=True), seed=0)
    assert r.cost_scale == pytest.approx(2 * 33 / 7, abs=0.3)
    assert r.policy.network.order_cost[1].item() == pytest.approx(20.0 / r.cost_scale)


def test_post_decision_needs_order_actions():
    pr = rp.Problem(demand=rp.Poisson(4.0), lead_time=1)
    with pytest.raises(SpecError, match=r"dqn\.post_decision"):
        Observation.from_problem(pr, post_decision=True, action_mode="level")


@pytest.mark.parametrize("obs_kw", [{}, {"demand_features": True}, {"post_decision": True}])
def test_save_load_round_trip_gives_identical_actions(tmp_path, obs_kw):
    pr = rp.Problem(demand=rp.WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=1, capacity=15)
    pol = random_policy(pr, 11, **obs_kw)
    if pol.network.order_cost is not None:  # the post-decision head's ordering costs are saved too
        pol.network.order_cost.copy_(torch.linspace(0.0, 3.0, pol.observation.n_actions))
    path = pol.save(tmp_path / "p.pt")
    back = rp.load_policy(path)
    assert isinstance(back, DQNPolicy)
    assert back.problem == pr
    states = StateSpace(pr, reduced=False).enumerate()
    assert np.array_equal(back.act(states), pol.act(states))
    np.testing.assert_array_equal(back.q_values(states[:50]), pol.q_values(states[:50]))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary file


def test_order_bound_masks_orders_above_mortons_level_and_round_trips(tmp_path):
    """Zipkin's L = 2, p = 9 instance: Morton's bound is the 3-period newsvendor level,
    the smallest S with P(Poisson(15) <= S) > 0.9, i.e. 20 (P(<= 19) = 0.875, P(<= 20) =
    0.917); the trainer puts it in the mask, which keeps order 0 and cuts every order
    raising the position above it; files keep it."""
    from scipy.stats import poisson

    from replenish.solvers.dqn.trainer import proven_order_bound

    assert poisson.cdf(19, 15) < 0.9 < poisson.cdf(20, 15)
    pr = rp.Problem(demand=rp.Poisson(5), lead_time=2, holding_cost=1, stockout_cost=9)
    assert proven_order_bound(pr, DQNConfig()) == 20
    assert proven_order_bound(pr, DQNConfig(order_bound=False)) == 0
    assert proven_order_bound(replace(pr, fixed_order_cost=5.0), DQNConfig()) == 0
    assert proven_order_bound(pr, DQNConfig(objective="discounted")) == 0
    pol = random_policy(pr, 3, order_bound=20)
    states = StateSpace(pr, reduced=False).enumerate()
    position = states[:, :3].sum(axis=1)
    mask = pol.observation.mask(states, feasible_max(pr, states)).numpy()
    orders = np.arange(mask.shape[1])[None, :]
    assert mask[:, 0].all()
    assert not (mask & (position[:, None] + orders > 20))[:, 1:].any()
    assert mask[position <= 20].sum(axis=1).min() >= 1
    np.testing.assert_array_equal(mask[position < 20, 1], True)
    assert (pol.act(states) + position <= np.maximum(position, 20)).all()
    back = rp.load_policy(pol.save(tmp_path / "b.pt"))
    assert back.observation.order_bound == 20
    assert np.array_equal(back.act(states), pol.act(states))


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled arbitrary code",))


def test_loading_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "replenish.dqn/1", "payload": _Evil()}, path)
    with pytest.raises(SpecError, match="not a safe replenish torch file"):
        load_dqn_policy(path)
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2]) + b"garbage")
    with pytest.raises(SpecError):
        rp.load_policy(tmp_path / "junk.pt")
    with pytest.raises(SpecError, match="no such file"):
        rp.load_policy(tmp_path / "missing.pt")


# ---------------------------------------------------- determinism and resume
def _weights(pol: DQNPolicy) -> list[np.ndarray]:
    return [v.numpy().copy() for v in pol.network.state_dict().values()]


def test_same_seed_same_policy_and_different_seed_differs():
    pr = bike()
    a = train_dqn(pr, config=tiny_config(steps=1500), seed=5)
    b = train_dqn(pr, config=tiny_config(steps=1500), seed=5)
    c = train_dqn(pr, config=tiny_config(steps=1500), seed=6)
    for x, y in zip(_weights(a.policy), _weights(b.policy), strict=True):
        np.testing.assert_array_equal(x, y)
    assert [h["average_cost"] for h in a.history] == [h["average_cost"] for h in b.history]
    assert any(not np.array_equal(x, y) for x, y in zip(_weights(a.policy), _weights(c.policy),
                                                        strict=True))


def test_interrupt_then_resume_equals_uninterrupted_run(tmp_path):
    """Ctrl-C saves a checkpoint; resuming continues the step count, replay buffer,
    RNG streams, optimizer and n-step windows exactly (identical final weights)."""
    pr = bike()
    cfg = tiny_config(steps=3000, keep_best=False)
    full = train_dqn(pr, config=cfg, seed=2)

    def stop(status):
        if status["step"] >= 1600:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_dqn(pr, config=cfg, seed=2, checkpoint_dir=tmp_path, callback=stop)
    ck = safe_torch_load(tmp_path / "last.pt")
    meta = json.loads(ck["meta"])
    assert meta["step"] == 1600 and ck["buffer"]["size"] > 0
    resumed = train_dqn(pr, config=cfg, seed=2, checkpoint_dir=tmp_path, resume=True)
    assert resumed.resumed_from == 1600
    assert resumed.steps == full.steps == 3000
    assert resumed.updates == full.updates
    for x, y in zip(_weights(full.policy), _weights(resumed.policy), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("where, nth", [("_gradient_step", 150), ("evaluate", 2), ("collect", 222)])
def test_sigint_mid_step_then_resume_is_bit_identical(tmp_path, monkeypatch, where, nth):
    """A real SIGINT delivered in the middle of a gradient step, an evaluation or a
    collect: the checkpoint is written at the end of that vector step, so the resumed
    run makes the same number of updates, the same evaluations and identical weights
    (before, the interrupt cut the step short: one update fewer, a missing evaluation)."""
    import os
    import signal

    from replenish.solvers.dqn.trainer import DQNTrainer

    pr = bike()
    cfg = tiny_config(steps=3000, checkpoint_every=10**6)  # no periodic checkpoint: the signal's only
    full = train_dqn(pr, config=cfg, seed=3)
    original = getattr(DQNTrainer, where)
    calls = [0]

    def with_signal(self, *a, **kw):
        calls[0] += 1
        if calls[0] == nth and where == "evaluate":  # the signal arrives before the history row
            os.kill(os.getpid(), signal.SIGINT)
        out = original(self, *a, **kw)
        if calls[0] == nth and where != "evaluate":  # after the optimizer step / the paths moved
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(DQNTrainer, where, with_signal)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (not nohup)
    try:
        with pytest.raises(KeyboardInterrupt):
            train_dqn(pr, config=cfg, seed=3, checkpoint_dir=tmp_path)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored
    finally:
        signal.signal(signal.SIGINT, before)
    monkeypatch.setattr(DQNTrainer, where, original)
    meta = json.loads(safe_torch_load(tmp_path / "last.pt")["meta"])
    assert 500 < meta["step"] < 3000
    resumed = train_dqn(pr, config=cfg, seed=3, checkpoint_dir=tmp_path, resume=True)
    assert resumed.resumed_from == meta["step"]
    assert resumed.updates == full.updates
    assert [h["average_cost"] for h in resumed.history] == [h["average_cost"] for h in full.history]
    for x, y in zip(_weights(full.policy), _weights(resumed.policy), strict=True):
        np.testing.assert_array_equal(x, y)


def test_checkpoints_are_also_written_on_a_timer(tmp_path, monkeypatch):
    import replenish.solvers.dqn.trainer as trainer

    seen = []

    def look(status):
        seen.append((tmp_path / "last.pt").exists())
        return status["step"] < 16

    cfg = tiny_config(steps=800, checkpoint_every=10**6)
    train_dqn(bike(), config=cfg, seed=0, checkpoint_dir=tmp_path, callback=look)
    assert seen == [False, False]  # default: every 120 s, and the run is shorter
    (tmp_path / "last.pt").unlink()
    seen.clear()
    monkeypatch.setattr(trainer, "CHECKPOINT_SECONDS", 0.0)
    train_dqn(bike(), config=cfg, seed=0, checkpoint_dir=tmp_path, callback=look)
    assert seen == [True, True]


def test_resume_refuses_changed_hyperparameters_and_missing_checkpoint(tmp_path):
    pr = bike()
    train_dqn(pr, config=tiny_config(steps=800), seed=0, checkpoint_dir=tmp_path)
    with pytest.raises(SpecError, match="lr"):
        train_dqn(pr, config=tiny_config(steps=1600, lr=0.01), seed=0, checkpoint_dir=tmp_path,
                  resume=True)
    with pytest.raises(SpecError, match="different problem"):
        train_dqn(pr.replace(stockout_cost=11.0), config=tiny_config(steps=1600), seed=0,
                  checkpoint_dir=tmp_path, resume=True)
    more = train_dqn(pr, config=tiny_config(steps=1600), seed=0, checkpoint_dir=tmp_path, resume=True)
    assert more.resumed_from == 800 and more.steps == 1600
    with pytest.raises(SpecError, match="no checkpoint"):
        train_dqn(pr, config=tiny_config(), seed=0, checkpoint_dir=tmp_path / "none", resume=True)


def test_discounted_objective_and_level_actions_train_and_stay_feasible():
    pr = rp.Problem(demand=rp.Poisson(4.0), lead_time=2, capacity=14, max_order=6)
    r = train_dqn(pr, config=tiny_config(objective="discounted", gamma=0.95, action_mode="level",
                                          steps=1500), seed=3)
    states = StateSpace(pr, reduced=False).enumerate()
    orders = r.policy.act(states)
    assert np.all((orders >= 0) & (orders <= feasible_max(pr, states)))
    assert r.updates > 0 and r.best_eval_cost is not None


# -------------------------------------------------------------- validation
@pytest.mark.parametrize("kw", [{"lr": -1.0}, {"n_step": 0}, {"objective": "median"},
                                {"hidden": ()}, {"gamma": 1.0}, {"eps_end": 1.5},
                                {"eval_warmup": 600, "eval_horizon": 500}, {"cost_scale": "median"},
                                {"cost_scale": 0.0}])
def test_bad_hyperparameters_raise_spec_error(kw):
    with pytest.raises(SpecError):
        DQNConfig(**kw)


def test_method_rejects_unknown_option():
    with pytest.raises(SpecError, match=r"dqn\.learning_rate"):
        rp.solve(bike(), "dqn", options={"learning_rate": 0.1})


# -------------------------------------------------------- learning smoke test
@pytest.mark.slow
def test_short_run_learns_a_good_bike_shop_policy():
    """20k transitions (about 5 s): the greedy policy, evaluated exactly, must be
    far better than its untrained start and than always filling the capacity, and
    close to the DP optimum."""
    pr = bike()
    cfg = DQNConfig(steps=20_000, learning_starts=2000, eval_every=2000, eval_paths=50,
                    eval_horizon=300, eps_decay_steps=12_000)
    untrained = evaluate_exact(pr, random_policy(pr, 0)).average_cost
    from replenish.solvers.dqn import DQNTrainer

    tr = DQNTrainer(pr, config=cfg, seed=0)
    r = tr.train()
    cost = evaluate_exact(pr, r.policy).average_cost
    assert cost < BIKE_FILL_TO_10 - 5
    assert cost < untrained - 2
    assert cost < BIKE_OPT * 1.05
    # the average reward ρ tracks the cost of the policy being learned (16.43 against
    # 16.26 measured); when its TD error was taken against the online network's values it
    # fed on their growth and ended at −49 $/period
    assert tr.gain is not None and -tr.gain == pytest.approx(cost, rel=0.03)


@pytest.mark.slow
def test_short_run_with_the_post_decision_head_learns_a_weekday_policy():
    """Weekday Poisson demand, lost sales, L = 1: with the post-decision head the
    greedy policy (exact evaluation) comes close to the DP optimum (measured +3.1%;
    +25% with the default head, +31% with dueling only, same budget) and far below
    the best static order-up-to level (+126%), which ignores the weekday."""
    pr = rp.Problem(demand=rp.WeekdayPoisson((4, 4, 4, 5, 8, 14, 2)), lead_time=1, stockout_cost=9)
    opt = rp.solve(pr, "dp").average_cost
    static = rp.solve(pr, "order-up-to").average_cost
    cfg = DQNConfig(steps=20_000, learning_starts=2000, eval_every=2000, eps_decay_steps=12_000,
                    dueling=True, post_decision=True)
    cost = evaluate_exact(pr, train_dqn(pr, config=cfg, seed=0).policy).average_cost
    assert cost < opt + 0.25 * (static - opt)
    assert cost < opt * 1.08


# --------------------------------------------------------------------- CLI
def test_cli_solve_json_save_evaluate_resume(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["solve", str(BIKE), "--method", "dqn", "--steps", "2000", "--json", "--out", str(out),
            "--logdir", str(tmp_path / "tb")]
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["exact"] is True and res["ci95"] is None
    assert res["optimal_average_cost"] == pytest.approx(BIKE_OPT, abs=1e-4)
    assert res["policy_file"].endswith("policy-dqn.pt")
    assert (out / "checkpoints" / "last.pt").is_file()
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert main(["evaluate", str(BIKE), "--policy", res["policy_file"], "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["average_cost"] == pytest.approx(res["average_cost"], rel=1e-12)
    assert main([*args[:5], "4000", "--json", "--out", str(out), "--resume"]) == 0
    res2 = json.loads(capsys.readouterr().out)
    assert res2["extras"]["resumed_from"] == 2000 and res2["extras"]["steps"] == 4000


def test_cli_bad_dqn_option_exits_2(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(BIKE.read_text() + "\n[dqn]\nn_step = 0\n")
    assert main(["solve", str(cfg), "--method", "dqn", "--json"]) == 2
    assert "dqn.n_step" in capsys.readouterr().err


def test_import_replenish_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, replenish, replenish.policies; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------ all-action targets, exact selection
def test_stored_demand_reproduces_the_stored_transition(tmp_path):
    """The all-action targets re-step a stored state under its stored demand: with
    n_step = 1 that must give back exactly the stored reward and next state."""
    pr = rp.Problem(demand=rp.Poisson(4.0), lead_time=2, capacity=14, max_order=6)
    train_dqn(pr, config=tiny_config(steps=1200, n_step=1, checkpoint_every=10**6), seed=4,
              checkpoint_dir=tmp_path)
    buf = safe_torch_load(tmp_path / "last.pt")["buffer"]
    s, a, d = buf["states"].numpy(), buf["actions"].numpy(), buf["demands"].numpy()
    obs = Observation.from_problem(pr)
    res = step(pr, s, obs.orders(s, a, feasible_max(pr, s)), d)
    np.testing.assert_allclose(-res.total_cost, buf["returns"].numpy(), rtol=1e-6)
    np.testing.assert_array_equal(res.states, buf["next_states"].numpy())
    assert d.min() >= 0 and d.mean() == pytest.approx(4.0, rel=0.15)


def _zero_network_trainer(pr: rp.Problem, **kw):
    """A trainer whose online and target networks output 0 everywhere: its greedy policy
    orders nothing (ties go to the first action, order 0) and it bootstraps with 0."""
    from replenish.solvers.dqn import DQNTrainer

    tr = DQNTrainer(pr, config=tiny_config(**kw), seed=0)
    with torch.no_grad():
        for net in (tr.online, tr.target):
            for prm in net.parameters():
                prm.zero_()
    return tr


@pytest.mark.parametrize("objective,gain,expected", [
    # costs of periods 0, 1, 2 by order a = 0..4 (hand calculation in the docstring)
    ("average", 0.0, [9 + 18 + 18, 9 + 9 + 18, 9 + 0 + 18, 9 + 1 + 9, 9 + 2 + 0]),
    ("average", -3.0, [45 - 9, 36 - 9, 27 - 9, 19 - 9, 11 - 9]),
    ("discounted", 0.0, [9 + 9 + 4.5, 9 + 4.5 + 4.5, 9 + 0 + 4.5, 9 + 0.5 + 2.25, 9 + 1 + 0]),
])
def test_multi_period_all_action_targets_equal_a_hand_calculation(objective, gain, expected):
    """``target_periods = 3``, demand always 2, L = 1, lost sales, h = 1, p = 9, state
    [α = 0, β₁ = 1], scale 1, a network that orders nothing and values everything at 0.
    Period 0: 1 on the shelf, 1 short (cost 9), order a goes out; period 1: a on the
    shelf, cost (a − 2)⁺ + 9·(2 − a)⁺; period 2 (order 0): (a − 2)⁺ on the shelf, cost
    ((a − 2)⁺ − 2)⁺ + 9·(2 − (a − 2)⁺)⁺.  Targets: minus the sum (γ = 0.5: weights 1, ½, ¼);
    with ``ρ = −3`` $/period each period's reward gains 3."""
    pr = rp.Problem(demand=rp.Empirical((0, 0, 1)), lead_time=1, holding_cost=1, stockout_cost=9,
                    discount=0.5)
    tr = _zero_network_trainer(pr, objective=objective, target_periods=3)
    s = np.array([[0, 1]], dtype=np.int64)
    y = tr.all_action_targets(s, np.array([2]), scale=1.0, gain=gain)
    assert tr.obs.order_step == 1 and feasible_max(pr, s)[0] == 4
    np.testing.assert_allclose(y[0, :5].numpy(), -np.array(expected, dtype=np.float64), rtol=1e-6)


def test_expected_targets_average_over_the_demand_pmf_by_hand():
    """Demand 0 or 2 with probability ½ each, L = 0, h = 1, p = 9, empty shelf, a network
    that values everything at 0: order a leaves (a − d)⁺ on the shelf and (d − a)⁺ short,
    so E[cost] = ½·a + ½·((a − 2)⁺ + 9·(2 − a)⁺) = 9, 5, 1, 2 for a = 0..3; the observed
    demand (here 0) plays no part."""
    pr = rp.Problem(demand=rp.Empirical((0.5, 0, 0.5)), lead_time=0, holding_cost=1, stockout_cost=9,
                    position_bound=6)
    tr = _zero_network_trainer(pr, expected_targets=True, order_bound=False)  # S̄ = 2 masks a = 3
    s = np.array([[0]], dtype=np.int64)
    y = tr.all_action_targets(s, np.array([0]), scale=1.0, gain=0.0)
    np.testing.assert_allclose(y[0, :4].numpy(), [-9.0, -5.0, -1.0, -2.0], rtol=1e-6)
    with pytest.raises(SpecError, match=r"dqn\.expected_targets"):
        DQNConfig(expected_targets=True, target_periods=2)


def test_multi_period_targets_use_common_demand_draws_for_all_actions():
    """L = 2 and H = 2: an order arrives after both target periods, so with a network that
    orders nothing and values 0, every action of a state has the same target (and no
    ordering cost): the continuation demand is one draw per state, shared by its actions,
    and the draws differ between states."""
    pr = rp.Problem(demand=rp.Poisson(4.0), lead_time=2, capacity=14, max_order=6)
    tr = _zero_network_trainer(pr, target_periods=2)
    s = np.tile(np.array([[3, 1, 2]], dtype=np.int64), (200, 1))
    y = tr.all_action_targets(s, np.full(200, 4), scale=1.0, gain=0.0).numpy()
    mask = tr.obs.mask(s, feasible_max(pr, s)).numpy()
    assert mask.sum(axis=1).min() >= 2
    for row, ok in zip(y, mask, strict=True):
        assert np.ptp(row[ok]) == 0.0
    assert len(np.unique(y[:, 0])) > 3


def test_exact_model_selection_keeps_the_best_exactly_evaluated_snapshot():
    pr = bike()
    r = train_dqn(pr, config=tiny_config(steps=3000, eval_mode="exact"), seed=1)
    costs = [h["average_cost"] for h in r.history]
    assert len(costs) >= 3
    assert r.best_eval_cost == min(costs)
    assert evaluate_exact(pr, r.policy).average_cost == pytest.approx(r.best_eval_cost, rel=1e-12)
    assert min(costs) >= BIKE_OPT - 1e-9  # no policy beats the DP optimum


def test_sampled_action_targets_still_train():
    pr = bike()
    r = train_dqn(pr, config=tiny_config(steps=1500, all_actions=False, batch_size=128), seed=0)
    assert r.updates > 0 and r.best_eval_cost is not None


DELETE_META = object()


def _blob(tmp_path, pol, **changes):
    path = pol.save(tmp_path / "p.pt")
    blob = torch.load(path, weights_only=True)
    meta = json.loads(blob["meta"])
    for key, value in changes.items():
        if key == "meta" and value is DELETE_META:
            del blob["meta"]
        elif key == "meta":
            blob["meta"] = value
        elif key == "hidden":
            meta["params"]["hidden"] = value
            blob["meta"] = json.dumps(meta)
        elif key == "nan":
            next(iter(blob["state_dict"].values())).fill_(float("nan"))
    torch.save(blob, path)
    return path


@pytest.mark.parametrize("changes, expected", [
    ({"meta": DELETE_META}, "policy.meta = None: missing in "),
    ({"meta": "{not json"}, "policy.meta = '{not json': not JSON metadata in "),
    ({"meta": "[1]"}, "policy.meta = '[1]': must hold 'problem' and 'params' tables in "),
    ({"hidden": [100000, 100000]}, "policy.params.hidden = [100000, 100000]: must list 1 to 8 "
                                   "layer widths in [1, 4096] (checked before allocating"),
    ({"nan": True}, "policy.state_dict = "),
])
def test_malformed_pt_files_give_one_line(tmp_path, changes, expected):
    pr = rp.Problem(demand=rp.Poisson(4), lead_time=1, capacity=10)
    pol = random_policy(pr, 3)
    path = _blob(tmp_path, pol, **changes)
    with pytest.raises(SpecError) as exc:
        rp.load_policy(path)
    assert str(exc.value).startswith(expected) and "\n" not in str(exc.value), str(exc.value)
    if "nan" in changes:
        assert str(exc.value).endswith("weights hold NaN or infinite values")


def test_tensorboard_scalars_documented_units(tmp_path):
    """The scalars the monitor documents are written; ``train/cost`` ($/period, the collected
    transitions) is a bike-shop cost: above the optimum on average, as they explore."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    prob = rp.load_config(BIKE).problem
    rp.solve(prob, "dqn", options={"steps": 3000, "learning_starts": 500, "eval_every": 1000,
                                   "logdir": str(tmp_path / "tb")})
    tags: set[str] = set()
    costs: list[float] = []
    for ev in (tmp_path / "tb").rglob("events.out.tfevents.*"):
        ea = EventAccumulator(str(ev.parent))
        ea.Reload()
        tags |= set(ea.Tags()["scalars"])
        if "train/cost" in ea.Tags()["scalars"]:
            costs += [e.value for e in ea.Scalars("train/cost")]
    assert {"train/gain", "train/cost", "train/loss", "train/mean_q", "eval/average_cost"} <= tags
    assert costs and float(np.mean(costs)) > BIKE_OPT


def test_bootstrap_values_equal_the_network_on_every_row_without_deduplication():
    """The expected targets value each distinct successor once (unique rows); the values
    must be what the target network gives every row, at the double-DQN action."""
    from replenish.solvers.dqn import DQNTrainer

    pr = rp.Problem(demand=rp.Poisson(4.0), lead_time=2, capacity=14, max_order=6)
    tr = DQNTrainer(pr, config=tiny_config(expected_targets=True), seed=3)
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, size=(300, 3))
    s = np.concatenate([s, s[:100]])  # duplicates
    v = tr._bootstrap_values(s).numpy()
    with torch.no_grad():
        x = tr.obs.features(s)
        a = masked_argmax(tr.online(x), tr.obs.mask(s, feasible_max(pr, s)))
        ref = tr.target(x).gather(1, a[:, None])[:, 0].numpy()
    np.testing.assert_allclose(v, ref, rtol=1e-6, atol=1e-6)
    assert len(np.unique(v)) > 20
