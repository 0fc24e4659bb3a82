"""Experiment (benchmarks/RESULTS.md, sixth session): a one-step lookahead on the DQN's values.

Trains the DQN (``expected_targets``, ``exact_states`` 250000, plus the options given) on the
Poisson(5) instance (L, p), then evaluates exactly both its greedy policy and the policy that
orders ``argmin_a c(s, a) + sum_s' P(s'|s, a) V(s')`` with ``V(s) = -scale * max_a Q(s, a)``.

Usage: python lookahead.py L p SEED [DQN-OPTIONS-JSON]  (one JSON line on stdout)
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from frontier import Instance
from replenish.evaluation.markov import evaluate_exact
from replenish.model.dynamics import feasible_max
from replenish.policies.table import TablePolicy
from replenish.solvers.dp import build_mdp, solve_dp
from replenish.solvers.dqn import DQNConfig, train_dqn

L, p, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
opts = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
inst = Instance("poisson", L, p)
prob = inst.problem(inst.dp_bound())
opt = solve_dp(prob).average_cost
r = train_dqn(prob, config=DQNConfig(expected_targets=True, exact_states=250000, **opts), seed=seed)
pol = r.policy
g0 = (evaluate_exact(prob, pol).average_cost - opt) / opt
mdp = build_mdp(prob)
full = mdp.space.expand(mdp.states)
obs = pol.observation
with torch.no_grad():
    q = pol.network(obs.features(full))
    m = obs.mask(full, feasible_max(prob, full))
    v = q.masked_fill(~m, -np.inf).max(1).values.double().numpy()
V = -r.cost_scale * v
Q = mdp.q_values(V, 1.0)
orders = np.empty(mdp.n_states, dtype=np.int64)
ptr = mdp.sa_ptr
for s in range(mdp.n_states):
    rows = slice(ptr[s], ptr[s + 1])
    orders[s] = mdp.sa_order[rows][int(np.argmin(Q[rows]))]
tp = TablePolicy(problem=prob, states=mdp.states, orders=orders, reduced=True)
g1 = (evaluate_exact(prob, tp).average_cost - opt) / opt
print(json.dumps({"L": L, "p": p, "seed": seed, "opts": opts, "greedy_gap": g0, "lookahead_gap": g1,
                  "history": [[h["step"], h["average_cost"]] for h in r.history]}))
