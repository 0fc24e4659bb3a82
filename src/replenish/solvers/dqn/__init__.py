"""Deep Q-Network (DQN) in PyTorch, with batched experience collection.

The algorithm is DQN (Mnih et al. 2015, *Human-level control through deep
reinforcement learning*, Nature 518) with the stabilisers and improvements that
pay off on inventory problems:

* target network (hard copy every ``target_update`` gradient steps) and an
  experience replay buffer (Mnih et al. 2015; Lin 1992);
* double DQN targets (van Hasselt, Guez & Silver 2016): the online network
  picks the next action, the target network values it;
* ``n``-step returns (Sutton 1988; Hessel et al. 2018, *Rainbow*);
* Huber loss and gradient-norm clipping;
* a linear ``ε``-greedy schedule; random actions are uniform over *feasible*
  orders;
* invalid orders (beyond capacity, ``max_order`` or the position bound) are
  masked both when acting and in the ``max`` of the targets;
* all-action targets (``all_actions``, default): demand is exogenous and
  observed, so a stored period ``(s, d)`` tells the cost and next state of
  *every* order under that same demand (computed with
  :func:`replenish.model.dynamics.step`, the one statement of the rules).  Each
  sampled state then gets a one-period target for every feasible action,
  ``y(a) = −c(s, a, d)/scale − ρ + Q̄(s'(s, a, d), a*)``, so the actions are
  compared on common random numbers (the idea of hindsight learning for MDPs
  with exogenous inputs, Sinclair et al. 2023, and of Madeka et al. 2022,
  *Deep inventory management*).  The next states of the ``batch × actions``
  pairs repeat a lot (different orders and demands reach the same stock), so
  each distinct one is valued once.  The usual sampled ``n``-step target of the
  taken action remains available (``all_actions = false``).  Two variants:
  ``expected_targets`` averages the one-period target over the demand model's pmf
  (no demand noise in the targets: on Zipkin's L = 4, p = 39 instance the gap fell
  from 5.8% to 0.54%, seed 0, and to 0.17–0.44% over seeds 0–2 with two gradient steps
  and ``lr_final = 1e-5`` as well, ``configs/lost_sales_L4.toml``; see
  ``benchmarks/RESULTS.md``; off by default: its cost grows
  with the demand's support, hundreds of values on the bakery series, and the
  other benchmarks were not re-measured with it), and ``target_periods = H``
  follows each action with ``H − 1`` greedy periods on common demand draws before
  bootstrapping (measured and not better there: 3.4–3.7% with ``H = 5``);
* a mask of the orders above Morton's bound ``S̄`` (``order_bound``, default on
  where the bound is proven: lost sales or backorders of a product that keeps, no
  ordering costs, stationary demand), the cut the DP uses;
* an optional post-decision head (``post_decision``,
  :class:`replenish.policies.dqn.QNetwork`): ``Q(s, a) = −o(a) + V(s, u_a)``,
  the ordering cost ``o(a) = K·[a > 0] + c·a``, known from the rules, plus the
  value of the position after ordering ``u_a``, interpolated between knots in
  units of the weekday's demand, so neighbouring orders share parameters and
  the fixed cost separates ordering from not ordering exactly (the
  post-decision state of approximate DP, Van Roy et al. 1997; Powell 2011);
* an optional dueling head (``dueling``; value and advantage streams, Wang et
  al. 2016);
* model selection (``keep_best``) by the *exact* long-run average cost of the
  greedy policy (:func:`replenish.evaluation.markov.evaluate_exact`) when the state
  space is small enough (``eval_mode``), else by simulation;
* scaled observations and rewards (:class:`replenish.policies.dqn.Observation`;
  reward = −cost / cost scale, the scale from the warm-up transitions: their
  mean cost, or with ``cost_scale = "demand"`` the holding cost of their mean
  demand), and a coarse action grid when the order range has more than
  ``max_actions`` pack multiples.

Objectives (``objective``):

* ``"average"`` (default): differential Q-learning (Wan, Naik & Sutton 2021,
  *Learning and planning in average-reward Markov decision processes*; in the
  line of R-learning, Schwartz 1993): the target of an ``n``-step transition is
  ``R_n − n·ρ + Q̄(s_n, a*)`` where ``R_n`` is the sum of the ``n`` rewards and
  ``ρ`` the average reward per period.  ``ρ`` starts as the mean reward of the
  random warm-up transitions and then moves with the mean TD error of each
  batch, ``ρ ← ρ + η·mean(δ)/n`` (``η = gain_rate``), which keeps the relative
  values from drifting.  ``δ`` is taken against the *target* network, ``δ = y(a) −
  Q̄(s, a)`` (over the feasible actions with all-action targets): against the
  online network, which lags the targets' growth by a copy, ``δ`` stayed negative
  while the values rose, and ``ρ`` fed on it (−168 $/period on Zipkin's L = 4,
  p = 39 instance, optimum 10.79; −49 on the bike shop, 16.18).  ``−ρ`` is logged
  as ``train/gain`` in $/period: it follows the cost of the policy being learned
  (:mod:`replenish.solvers.dqn.monitor`); the policy's cost is ``eval/average_cost``
  (greedy policy) and ``train/cost`` (the collected transitions, exploration included).
  The alternatives that were measured and dropped (among them ``ρ`` from the
  network at reference states, RVI Q-learning, Abounadi, Bertsekas & Borkar
  2001) are in ``benchmarks/RESULTS.md``.
* ``"discounted"``: the usual ``R_n + γⁿ Q̄(s_n, a*)`` with ``γ = gamma`` (default
  ``problem.discount``).

Whatever the objective, the figure reported for the policy is its long-run
average cost (:func:`replenish.solvers.catalogue.solve` evaluates it exactly when the
chain is tabulable, else by simulation with a CI).

Experience collection steps ``num_envs`` sample paths at once with
:func:`replenish.model.dynamics.step` (the one compiled statement of the rules) — not
a loop over Gymnasium environments.  Demand is drawn from the problem's demand
model with an explicit :class:`numpy.random.Generator`.

The package, in reading order:

* :mod:`~replenish.solvers.dqn.config`: :class:`DQNConfig`, the options
  (imports no torch, so the method catalogue reads the ``[dqn]`` keys cheaply);
* :mod:`~replenish.solvers.dqn.buffer`: :class:`ReplayBuffer`;
* :mod:`~replenish.solvers.dqn.trainer`: :class:`DQNTrainer`, whose methods
  follow the algorithm (setup → collect → learn → evaluate → checkpoint /
  restore → train), :func:`train_dqn` and :class:`DQNResult`; randomness and
  checkpoints are described there;
* :mod:`~replenish.solvers.dqn.monitor`: TensorBoard scalars and the progress bar;
* :mod:`~replenish.solvers.dqn.method`: :func:`dqn_method`, the ``dqn`` entry
  of the method catalogue (CLI / TOML).

The measurements behind the defaults and the bakery settings (gaps to the DP
optimum of each choice, including the ones dropped) are in
``benchmarks/RESULTS.md``, section "DQN: measured choices".

The names below other than :class:`DQNConfig` are imported on first use
(PEP 562), so ``import replenish.solvers.dqn`` does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replenish.core.lazy import lazy_exports
from replenish.solvers.dqn.config import DQNConfig

#: public name → submodule that defines it (imported on first access; all need torch)
_EXPORTS: dict[str, str] = {
    "ReplayBuffer": "replenish.solvers.dqn.buffer",
    **{name: "replenish.solvers.dqn.trainer" for name in (
        "CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "DQNResult", "DQNTrainer", "train_dqn")},
    "dqn_method": "replenish.solvers.dqn.method",
}

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "DQNConfig", "DQNResult", "DQNTrainer", "ReplayBuffer",
           "dqn_method", "train_dqn"]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from replenish.solvers.dqn.buffer import ReplayBuffer
    from replenish.solvers.dqn.method import dqn_method
    from replenish.solvers.dqn.trainer import (
        CHECKPOINT_FORMAT,
        CHECKPOINT_NAME,
        DQNResult,
        DQNTrainer,
        train_dqn,
    )
