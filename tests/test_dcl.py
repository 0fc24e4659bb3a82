"""Deep controlled learning (``dcl``): rollout labels against brute force, determinism, resume,
validation, the CLI round trip, and (slow) learnability on a Zipkin instance.

The fast tests use tiny configurations; the accuracy on the Zipkin instances is measured by the
command in the CHANGELOG / README, not here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import replenish as rp  # noqa: E402
from replenish.cli import main  # noqa: E402
from replenish.core.validate import SpecError  # noqa: E402
from replenish.evaluation.markov import evaluate_exact  # noqa: E402
from replenish.model.demand import Poisson  # noqa: E402
from replenish.model.spec import Problem  # noqa: E402
from replenish.policies.classic import CappedBaseStock  # noqa: E402
from replenish.solvers.dcl import DCLConfig, train_dcl  # noqa: E402
from replenish.solvers.dcl.rollouts import (  # noqa: E402
    PolicyTable,
    RolloutStats,
    candidate_window,
    draw_rollout_demand,
    grid_top,
    label_states,
    rollout_costs,
    sample_states,
    table_rollout_costs,
)
from replenish.solvers.dcl.trainer import DCLTrainer, GenerationData  # noqa: E402


def tiny_problem() -> Problem:
    return Problem(demand=Poisson(2), lead_time=1, holding_cost=1, stockout_cost=4, position_bound=8,
                   name="tiny")


def tiny_config(**kw) -> DCLConfig:
    base = dict(generations=1, states=150, warmup=20, rollouts=6, horizon=6, window=2, epochs=3,
                batch_size=64, hidden=(16,))
    return DCLConfig(**(base | kw))


def _weights(policy) -> list[np.ndarray]:
    return [v.detach().numpy().copy() for v in policy.network.state_dict().values()]


# ------------------------------------------------------------ labels vs brute force
def _brute_cost(state, first, dem, level, cap, bound, h, p) -> float:
    """Plain-Python lost sales, L = 1 (written here, not taken from replenish.model.dynamics):
    period 0 orders ``first``, later periods the capped base-stock rule."""
    alpha, beta = int(state[0]), int(state[1])
    total = 0.0
    for t, d in enumerate(dem):
        room = max(bound - alpha - beta, 0)
        a = first if t == 0 else min(cap, max(level - alpha - beta, 0), room)
        stock = alpha + beta
        sold = min(int(d), stock)
        alpha, beta = stock - sold, a
        total += h * alpha + p * (int(d) - sold)
    return total


@pytest.mark.parametrize("significance", [0.0, 1.0, 1e9])
def test_labels_equal_brute_force_rollout_argmins(significance):
    pr = tiny_problem()
    level, cap, window, R, T = 5, 3, 2, 7, 5
    pol = CappedBaseStock(problem=pr, level=level, cap=cap)
    # a few states, some repeated (their rollouts are pooled)
    states = np.array([[0, 0], [2, 1], [0, 0], [4, 3], [2, 1], [1, 0], [0, 0], [6, 2]], dtype=np.int64)
    demand = draw_rollout_demand(pr, states, np.random.default_rng(5), rollouts=R, periods=T)
    current = pol.act(states)
    top = np.maximum(pr.bound - states.sum(axis=1), 0)
    cands, valid = candidate_window(current, top, window)
    first = np.where(valid, cands, current[:, None])
    costs = rollout_costs(pr, pol, states, first, demand)
    np.testing.assert_allclose(  # the compiled loop over a table of the policy: the same costs
        table_rollout_costs(pr, PolicyTable.build(pr, pol, max_states=10_000), states, first, demand),
        costs, rtol=1e-12, atol=1e-12)
    _, first_of, group = np.unique(states, axis=0, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    stats = RolloutStats.empty(len(first_of), cands.shape[1])
    for lo in (0, 3):  # in two batches, as the trainer does
        sl = slice(lo, 3 if lo == 0 else None)
        stats.add(group[sl], costs[sl], window)
    lab = label_states(stats, valid[first_of], window, significance)

    # brute force: every (state, candidate, rollout) by the plain loop, pooled over equal states
    for g, i0 in enumerate(first_of):
        members = np.flatnonzero((states == states[i0]).all(axis=1))
        c = {k: np.array([_brute_cost(states[i0], cands[i0, k], demand[i, r], level, cap, pr.bound, 1, 4)
                          for i in members for r in range(R)])
             for k in range(cands.shape[1]) if valid[i0, k]}
        for k, v in c.items():
            np.testing.assert_allclose(costs[members, k].ravel(), v, rtol=0, atol=1e-9)
        best = min(c, key=lambda k: (c[k].mean(), k))
        d = c[best] - c[window]
        se = d.std(ddof=1) / np.sqrt(d.size)
        expected = best if d.mean() < -significance * se else window
        assert lab.best[g] == best
        assert lab.label[g] == expected
        if significance > 1e6:
            assert lab.label[g] == window  # nothing is significant: the current action everywhere


def test_label_ties_keep_the_current_action():
    stats = RolloutStats.empty(1, 3)
    stats.add(np.array([0]), np.full((1, 3, 4), 7.0), 1)  # all candidates cost the same
    lab = label_states(stats, np.ones((1, 3), dtype=bool), 1, 0.0)
    assert lab.label[0] == 1 and not lab.switched[0]


@pytest.mark.parametrize("chunk_rows", [None, 5])
def test_rollouts_follow_the_policy_like_simulate(chunk_rows, monkeypatch):
    """The rollout of the current action equals a simulation of the policy on the same demand
    (also when the rows are advanced a few states at a time)."""
    if chunk_rows is not None:
        monkeypatch.setattr("replenish.solvers.dcl.rollouts.ROLLOUT_ROWS", chunk_rows)
    pr = tiny_problem()
    pol = CappedBaseStock(problem=pr, level=6, cap=3)
    states = np.array([[1, 2], [0, 0], [5, 0]], dtype=np.int64)
    demand = draw_rollout_demand(pr, states, np.random.default_rng(0), rollouts=4, periods=9)
    first = pol.act(states)[:, None]
    costs = rollout_costs(pr, pol, states, first, demand)
    for i in range(3):
        sim = rp.simulate(pr, pol, demand=demand[i], start=states[i], warmup=0)
        np.testing.assert_allclose(costs[i, 0], sim.path_costs * 9, rtol=1e-12)


def test_labels_do_not_depend_on_the_rollout_path():
    """A network policy rolled out as a compiled table (tabulable chains) or period by period with
    one forward pass each (``eval_mode = "simulate"``, the path of large problems): same labels
    (at the same label threshold: the two budgets' defaults differ)."""
    pr = tiny_problem()
    pol = train_dcl(pr, config=tiny_config(), seed=0).policy
    states = sample_states(pr, pol, np.random.default_rng(1), n=120, warmup=10)
    out = [DCLTrainer(pr, config=tiny_config(eval_mode=mode, significance=1.0), seed=0).label(pol, states,
                                                                           np.random.default_rng(2))
           for mode in ("exact", "simulate")]
    np.testing.assert_array_equal(out[0].actions, out[1].actions)
    assert out[0].switched == out[1].switched
    sim = train_dcl(pr, config=tiny_config(eval_mode="simulate", eval_paths=20, eval_horizon=200), seed=0)
    assert [h["exact"] for h in sim.history] == [False, False]


# ------------------------------------------------------------- determinism and resume
def test_same_seed_same_policy_and_different_seed_differs():
    pr = tiny_problem()
    a = train_dcl(pr, config=tiny_config(), seed=3)
    b = train_dcl(pr, config=tiny_config(), seed=3)
    c = train_dcl(pr, config=tiny_config(), seed=4)
    for x, y in zip(_weights(a.policy), _weights(b.policy), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(_weights(a.policy), _weights(c.policy), strict=True))
    assert [h["average_cost"] for h in a.history] == [h["average_cost"] for h in b.history]
    assert a.start_params == {"level": a.start_params["level"], "cap": a.start_params["cap"]}


@pytest.mark.parametrize("extra", [{"keep_best": False},
                                   {"keep_best": True, "trim_outputs": True, "eval_mode": "simulate",
                                    "eval_paths": 10, "eval_horizon": 200}])
def test_resume_gives_bit_identical_weights(tmp_path, extra):
    pr = tiny_problem()
    full = train_dcl(pr, config=tiny_config(generations=3, **extra), seed=1, checkpoint_dir=tmp_path / "a")
    train_dcl(pr, config=tiny_config(generations=1, **extra), seed=1, checkpoint_dir=tmp_path / "b")
    resumed = train_dcl(pr, config=tiny_config(generations=3, **extra), seed=1,
                        checkpoint_dir=tmp_path / "b", resume=True)
    assert resumed.resumed_from == 1 and len(resumed.history) == len(full.history) == 4
    assert resumed.best_generation == full.best_generation
    assert resumed.policy.observation.n_actions == full.policy.observation.n_actions
    for x, y in zip(_weights(full.policy), _weights(resumed.policy), strict=True):
        np.testing.assert_array_equal(x, y)
    assert [h["average_cost"] for h in full.history] == [h["average_cost"] for h in resumed.history]


def test_trimmed_classifier_has_outputs_up_to_its_largest_label(tmp_path):
    """``trim_outputs``: the classifier's outputs are the grid actions up to the largest label, and
    the trimmed policy orders exactly what the labels ask on the states it was fitted on as often
    as the whole-grid one does (both fit the same labels); its ``.pt`` file reloads it."""
    from replenish.policies.dqn import load_dqn_policy

    pr = tiny_problem()
    trainer = DCLTrainer(pr, config=tiny_config(trim_outputs=True, epochs=40), seed=0)
    start = trainer.start_policy()
    states = trainer.sample(start, np.random.default_rng(0))
    data = trainer.label(start, states, np.random.default_rng(1))
    net, outputs, _, acc = trainer.fit(data, torch.Generator().manual_seed(0))
    assert outputs == int(data.actions.max()) + 1 < trainer.obs.n_actions
    policy = trainer._policy_of(net, outputs)
    assert policy.q_values(states).shape == (len(states), outputs)
    orders = policy.act(states)
    assert orders.max() <= data.actions.max() * trainer.obs.order_step
    loaded = load_dqn_policy(policy.save(tmp_path / "trimmed.pt"))
    assert loaded.observation.n_actions == outputs
    np.testing.assert_array_equal(loaded.act(states), orders)
    full = DCLTrainer(pr, config=tiny_config(trim_outputs=False, epochs=40), seed=0)
    _, full_outputs, _, full_acc = full.fit(data, torch.Generator().manual_seed(0))
    assert full_outputs == full.obs.n_actions
    assert acc >= full_acc - 0.02


def test_resume_refuses_other_hyperparameters_seed_and_missing_checkpoint(tmp_path):
    pr = tiny_problem()
    train_dcl(pr, config=tiny_config(), seed=0, checkpoint_dir=tmp_path)
    with pytest.raises(SpecError, match="rollouts"):
        train_dcl(pr, config=tiny_config(rollouts=9), seed=0, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(SpecError, match="seed"):
        train_dcl(pr, config=tiny_config(), seed=5, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(SpecError, match="no checkpoint"):
        train_dcl(pr, config=tiny_config(), seed=0, checkpoint_dir=tmp_path / "none", resume=True)


# ------------------------------------------------------------------- validation
@pytest.mark.parametrize("kw, field", [
    ({"rollouts": 1}, "dcl.rollouts"), ({"significance": -1.0}, "dcl.significance"),
    ({"hidden": ()}, "dcl.hidden"), ({"lr": 0.0}, "dcl.lr"), ({"window": 0}, "dcl.window"),
    ({"eval_warmup": 50, "eval_horizon": 50}, "dcl.eval_warmup"), ({"eval_mode": "x"}, "dcl.eval_mode"),
    ({"generations": True}, "dcl.generations"), ({"states": 0}, "dcl.states")])
def test_bad_options_give_one_line_errors(kw, field):
    with pytest.raises(SpecError) as exc:
        DCLConfig(**kw)
    assert str(exc.value).startswith(field) and "\n" not in str(exc.value)


def test_method_rejects_unknown_and_mistyped_options():
    with pytest.raises(SpecError, match=r"dcl\.bogus"):
        rp.solve(tiny_problem(), "dcl", options={"bogus": 1})
    with pytest.raises(SpecError, match=r"dcl\.rollouts"):
        rp.solve(tiny_problem(), "dcl", options={"rollouts": "many"})


# --------------------------------------------------------------------------- CLI
def test_cli_solve_saves_a_pt_policy_that_evaluate_reloads(tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('name = "tiny"\n[problem]\nlead_time = 1\nholding_cost = 1\nstockout_cost = 4\n'
                   'position_bound = 8\n[demand]\nkind = "poisson"\nmean = 2\n'
                   '[dcl]\ngenerations = 1\nstates = 150\nwarmup = 20\nrollouts = 6\nhorizon = 6\n'
                   'window = 2\nepochs = 3\nhidden = [16]\n')
    out = tmp_path / "out"
    assert main(["solve", str(cfg), "--method", "dcl", "--json", "--out", str(out),
                 "--logdir", str(tmp_path / "tb")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["exact"] is True and res["policy_file"].endswith("policy-dcl.pt")
    assert res["extras"]["history"][0]["generation"] == 0
    assert (out / "checkpoints" / "last.pt").is_file()
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert main(["evaluate", str(cfg), "--policy", res["policy_file"], "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["average_cost"] == pytest.approx(res["average_cost"], rel=1e-12)
    policy = rp.load_policy(res["policy_file"])  # torch.load(weights_only=True)
    assert policy.describe().startswith("dcl(")
    assert main(["solve", str(cfg), "--method", "dcl", "--json", "--out", str(out), "--resume"]) == 0
    assert json.loads(capsys.readouterr().out)["extras"]["resumed_from"] == 1


# ----------------------------------------------------------------- learnability
ZIPKIN_L2 = dict(generations=2, states=6000, rollouts=64, horizon=15, significance=2.0)


def _zipkin_l2() -> Problem:
    return Problem(demand=Poisson(5), lead_time=2, holding_cost=1, stockout_cost=9, name="zipkin-L2-p9")


@pytest.mark.slow
def test_dcl_learns_near_optimal_policy_where_random_labels_do_not():
    """Zipkin's L = 2, p = 9 instance: DCL improves on the best capped base-stock policy (gap
    0.42%) towards the DP optimum; the same classifier trained on random labels from the same
    candidate windows misses the bound by far."""
    from replenish.solvers.dp import solve_dp

    pr = _zipkin_l2()
    opt = solve_dp(pr).average_cost
    cfg = DCLConfig(**ZIPKIN_L2)
    r = train_dcl(pr, config=cfg, seed=0)
    gap = (evaluate_exact(pr, r.policy).average_cost - opt) / opt
    start_gap = (r.start_cost - opt) / opt
    assert gap < 0.0025 < start_gap

    class RandomLabels(DCLTrainer):
        def label(self, policy, states, rng, bar=None):
            d = super().label(policy, states, rng, bar)
            top = np.minimum(d.current + self.cfg.window, grid_top(self.problem, d.states, 1))
            low = np.maximum(d.current - self.cfg.window, 0)
            return GenerationData(states=d.states, actions=rng.integers(low, top + 1), current=d.current,
                                  switched=1.0, best_differs=1.0)

    rnd = RandomLabels(pr, config=DCLConfig(**(ZIPKIN_L2 | {"generations": 1})), seed=0).train()
    rnd_gap = (evaluate_exact(pr, rnd.policy).average_cost - opt) / opt
    assert rnd_gap > 0.0025


# ------------------------------------------------------------------ budget left open
def test_open_budget_follows_the_rollouts_cost() -> None:
    """Budget fields left ``None`` resolve to the compiled budget where the policy is tabulated
    (exact evaluation), else to the network budget; fields given stay as given."""
    from replenish.solvers.dcl.config import COMPILED_BUDGET, NETWORK_BUDGET

    open_cfg = DCLConfig()
    assert (open_cfg.generations, open_cfg.states, open_cfg.rollouts, open_cfg.hidden) == (None,) * 4
    with pytest.raises(SpecError, match="budget not resolved"):
        open_cfg.budget()
    assert DCLConfig.from_dict(open_cfg.to_dict()) == open_cfg
    pr = tiny_problem()
    compiled = DCLTrainer(pr, config=DCLConfig(), seed=0)
    assert compiled.exact_eval
    assert vars(compiled.budget) == COMPILED_BUDGET
    network = DCLTrainer(pr, config=DCLConfig(eval_mode="simulate", eval_horizon=200, eval_paths=4), seed=0)
    assert not network.exact_eval
    assert vars(network.budget) == NETWORK_BUDGET
    mixed = DCLTrainer(pr, config=DCLConfig(rollouts=7, hidden=(8,)), seed=0).budget
    assert (mixed.rollouts, mixed.hidden) == (7, (8,))
    assert (mixed.generations, mixed.states) == (COMPILED_BUDGET["generations"], COMPILED_BUDGET["states"])
    # the resolved budget is what a run reports and checkpoints
    r = train_dcl(pr, config=DCLConfig(generations=1, states=100, rollouts=4, epochs=1), seed=0)
    assert r.config.hidden == COMPILED_BUDGET["hidden"] and r.config.generations == 1
