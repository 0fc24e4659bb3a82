"""Tabular Q-learning on the full state ``[α, β_1 .. β_L, (w)]``, compiled with numba.

Two variants share the tables, the state indexing, the demand sampler and the
training driver; only the compiled episode loop differs.

``variant = "seed"`` — the source design, exactly (Watkins 1989; Watkins &
Dayan 1992, *Q-learning*, Machine Learning 8):

* ``Q`` initialised uniform(0, 1) (as rewards), ``ε``-greedy with ``ε = 0.1``,
  constant learning rate ``α = 0.1``, ``γ = 0.9``, 1,000 episodes × 1,000
  steps, each episode starting in a uniformly random feasible state;
* the table is updated once, at the end of each episode, by sweeping the
  episode's transitions in order, so every action of an episode is chosen from
  the table as it was when the episode started.

``variant = "default"`` — the best tabular learner we measured that still
learns only from sampled transitions along trajectories (no model, no
counterfactual actions, no resets other than the episode starts):

* **pessimistic, scale-aware initial values**: the first ``init_steps`` steps
  order uniformly at random and only measure the cost rate ``ĝ`` of random
  ordering; every cell then starts at ``ĝ/(1 − γ)``, the discounted cost of
  paying that rate forever: of the right magnitude, and above ``Q*`` in the
  states that matter (random ordering costs more than good ordering);
* **per state-action step sizes** ``α_n = 1/(1 + k·(n − 1))`` after the
  ``n``-th update of the cell, ``k = min(1, c·(1 − γ))`` with
  ``c = step_size_scale``: the rescaled-linear schedule of Wainwright (2019,
  *Stochastic approximation with cone-contractive operators: sharp ℓ∞-bounds
  for Q-learning*, arXiv:1905.06265), which for the default ``c = 10`` and
  ``γ = 0.9`` is the sample average ``1/n``.  Sample averages keep the variance
  lowest but forget their initial error only like ``n^−(1−γ)`` (Szepesvári
  1997, *The asymptotic convergence-rate of Q-learning*, NIPS 10): from
  ``Q = 0`` the bike-shop estimates were still ~77 below ``Q*`` after 8,000
  updates and, worse, biased differently in rarely and often visited states,
  which shrank the learned gaps between orders by 40–85%.  The initialisation
  above removes most of that error, so the low-variance schedule pays off;
* **confidence-bounded exploration** (in the spirit of action elimination,
  Even-Dar, Mannor & Mansour 2006, *JMLR* 7): after a uniform-random warm-up
  (``warmup_fraction`` of the steps) the behaviour picks, with probability
  ``1 − ε``, uniformly among the orders not yet statistically worse than the
  greedy one, ``Q(s, a) − Q(s, a*) <= κ·σ̂·sqrt(1/n(s, a) + 1/n(s, a*))``, with
  ``σ̂`` the running standard deviation of the observed one-period costs and
  ``κ = confidence``; with probability ``ε`` any feasible order.  Samples go
  where the decision is still open in states that good policies visit: on the
  bike shop the costly decision (order 3 or 4 with nothing on hand and 3 bikes
  arriving, a state good policies spend ~28% of days in; ``Q*`` gap 0.18
  against a per-sample standard deviation of 15) needs ~10⁵ samples per order,
  where uniform exploration gives ~8,000.

Measured on the bike shop with the seed's budget (1,000,000 steps; gap of the
greedy policy's exact average cost to the optimum 16.1830; 100 seeds
5000–5099: mean / 90th percentile / runs within 0.3%): seed variant +6.3% /
+11.8% / 0; uniform exploration with ``1/n`` steps from ``Q = 0`` +0.15% /
0.46% / 76; the default without the initialisation +0.15% / 0.31% / 88;
without the focused exploration +0.11% / 0.46% / 80; with ``c = 3`` +0.05% /
0.11% / 100; with ``ε = 0.2`` +0.03% / 0.06% / 100 (but 3 misses in 400 other
seeds); the default +0.02% / 0.05% / 100, worst +0.12% (and 600 of 600 runs
within 0.3% over seeds 0–99, 200–599 and 5000–5099).  Also tried and dropped:
polynomial steps ``n^−ω``, Polyak–Ruppert averaging of the iterates (lags
behind the drifting early values when visits are uneven), double Q-learning
(van Hasselt 2010), backward episode replay (Lin 1992), plain ``ε``-greedy with
``ε`` 0.1–0.6, reward centering (Naik et al. 2024) and differential
(average-cost) Q-learning (Wan, Naik & Sutton 2021), which learns the smaller
average-cost advantages and was noisier.  On other tabulable instances (lead
time 0 and 2, weekday demand, backorders, fixed order cost; 4 seeds of 10⁶
steps each) the default had the lower mean gap on every one (0–1.6% against
1.5–14% for the seed variant).  ``benchmarks/qlearning.py`` prints the
distributions.

What the default does *not* buy is accurate values: its ``Q`` ends ~10 below
``Q*`` on the bike shop (mean ``|Q − Q*|`` 9.6, max 14 at 10⁶ steps, against
3.9 and 17 for the seed variant), the downward bias of the ``min`` over noisy
estimates (van Hasselt 2010) compounded by ``1/(1 − γ)``; it is nearly the
same for all orders of a well-visited state, so the greedy policy is right
while the levels are off.  ``max_q_error`` and ``mean_q_error`` report it.

Conventions.  ``Q(s, a)`` is the expected *discounted cost* of ordering ``a``
in ``s`` and acting greedily afterwards (minimised); the reward of the
Gymnasium view is minus that cost, so the seed's uniform(0, 1) *reward*
initialisation is ``Q = −uniform(0, 1)`` here.  Row ``i`` of ``Q`` is the full
state ``states[i]`` (all states of :class:`~replenish.statespace.StateSpace`
with ``reduced=False``), column ``k`` orders ``k·m`` units; infeasible orders
hold ``+inf``.  Under backorders the net inventory is truncated at the lowest
represented value (``−backlog_bound``, :attr:`Problem.min_net_inventory`)
after each period (:func:`replenish.model.dynamics.truncated_transition`; the
DP truncates the same far tail, on ``α + β_1``): the
period's backorder cost is charged in full, backlog beyond the bound is
dropped, and every visited state stays in the table (``α >= −backlog_bound``
and position ``<= B`` are preserved).

Dynamics and randomness.  Every step calls the one compiled
:func:`replenish.model.dynamics.transition` (through ``truncated_transition``).
The caller's :class:`numpy.random.Generator` (or a seed) creates three independent child
streams (:meth:`numpy.random.Generator.spawn`): one for the initial table (seed
variant), one for episode start states, one for the per-step uniforms
``(u_demand, u_policy)``, drawn in blocks.  Demand is the inverse of the
demand model's CDF (pmf truncated at an upper tail of ``1e-12``,
:data:`replenish.demand.TAIL`) at ``u_demand``, found with a guide table (Chen
& Asau 1974); ``u_policy < ε`` explores with the order ``⌊(u_policy/ε)·n⌋`` among
the ``n`` feasible ones (else ``(u_policy − ε)/(1 − ε)`` picks among the
default variant's candidates).  Every step consumes exactly two uniforms and
every episode one, so the Q-table depends on the seed and
the hyperparameters only, not on block sizes or the learning-curve points.

Sections: configuration → tables → compiled kernels → training driver →
method wiring.
"""

from __future__ import annotations

from replenish.solvers.qlearning.config import MAX_TABLE_CELLS, VARIANTS, QLearningConfig
from replenish.solvers.qlearning.kernels import QTables, build_tables
from replenish.solvers.qlearning.method import qlearning_method
from replenish.solvers.qlearning.trainer import (
    CurvePoint,
    QLearningResult,
    greedy_policy,
    q_star_table,
    train_qlearning,
)

__all__ = [
    "MAX_TABLE_CELLS", "VARIANTS", "CurvePoint", "QLearningConfig", "QLearningResult", "QTables",
    "build_tables", "greedy_policy", "q_star_table", "qlearning_method", "train_qlearning",
]
