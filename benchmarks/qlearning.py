"""Tabular Q-learning benchmark: speed against a pure-Python reference, and gaps over seeds.

The reference is the seed algorithm written the way the source wrote it: a
Python dictionary ``Q[state][order]`` and a Python loop over steps, calling
:func:`replenish.model.dynamics.transition` uncompiled (the kernel's plain-Python
source: the same rules, not a second copy) and consuming the same random numbers as the
compiled loop, so after the same number of steps both Q-tables must agree —
the benchmark checks it.  The reference runs ``--reference-steps`` steps (the
source needed ~10 s for 1,000,000) and its rate is compared with the compiled
seed variant's 1,000,000 steps timed in the same run (best of 3; wall and CPU
time, with the load average, since the machine may be shared).

Then both variants are trained on the bike shop with the seed's budget for
``--seeds`` seeds and the greedy policies evaluated exactly: the gap
distribution is reported against the source's published figures (mean 17.11
per day, range 16.32–19.28 over 10 seeds) and the DP optimum 16.1830.

Prints one JSON object::

    python benchmarks/qlearning.py [--quick] [--seeds N] [--reference-steps N]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

from replenish import load_config
from replenish.model.dynamics import transition
from replenish.model.spec import Problem
from replenish.solvers.dp import optimal_average_cost
from replenish.solvers.qlearning import QLearningConfig, build_tables, train_qlearning

ROOT = Path(__file__).resolve().parents[1]
#: The source's published results (bike shop, 10 seeds of 1,000 × 1,000 steps).
SOURCE = {"mean": 17.11, "min": 16.32, "max": 19.28, "seconds_per_million_steps": 10.0}
TARGET_SECONDS = 0.1  # the seed variant's 1,000,000 steps


# ----------------------------------------------------------------------------
# Pure-Python dictionary reference of the seed variant
# ----------------------------------------------------------------------------
def python_reference(problem: Problem, *, seed: int, steps: int, episode_length: int = 1000,
                     alpha: float = 0.1, gamma: float = 0.9, epsilon: float = 0.1
                     ) -> tuple[dict[tuple[int, ...], dict[int, float]], float]:
    """The seed algorithm as a dictionary loop; returns ``(Q, seconds)``.

    ``Q[state][k]`` is the expected discounted cost of ordering ``k·m`` in the
    full ``state``.  Random numbers come from the same spawned streams, in the
    same order, as :func:`train_qlearning` uses (initial table, one uniform per
    episode start, two uniforms per step: demand, then exploration/order).
    """
    tables = build_tables(problem)
    init_rng, start_rng, step_rng = np.random.default_rng(seed).spawn(3)
    init = init_rng.random((tables.n_states, problem.n_actions))
    states = [tuple(int(x) for x in s) for s in tables.states]
    n_feasible = [int(n) for n in tables.n_feasible]
    Q = {s: {k: -float(init[i, k]) for k in range(n_feasible[i])} for i, s in enumerate(states)}
    cdfs = [list(row) for row in tables.cdf]
    lo = int(tables.space.offsets[0])
    L, rules, period = problem.lead_time, problem.rules, problem.period
    cost, m = problem.cost_params(), problem.order_multiple
    step = transition  # the rules, interpreted (the same source the compiled loop runs)
    out = np.empty(problem.state_dim, dtype=np.int64)

    def pick(u: float, n: int) -> int:
        return min(int(u * n), n - 1)

    def greedy(qs: dict[int, float]) -> int:
        best = 0
        for k, v in qs.items():
            if v < qs[best]:
                best = k
        return best

    t0 = time.perf_counter()
    done = 0
    while done < steps:
        state = states[pick(start_rng.random(), len(states))]
        length = min(episode_length, steps - done)
        u = step_rng.random((length, 2)).tolist()
        episode = []
        for u_demand, u_policy in u:
            s = state
            qs = Q[s]
            k = pick(u_policy / epsilon, len(qs)) if u_policy < epsilon else greedy(qs)
            phase = state[-1] if period > 1 else 0
            demand = bisect.bisect_right(cdfs[phase], u_demand)
            h, so, o, r, w, _, _, _ = step(np.array(state), k * m, demand, L, rules, period, cost,
                                           out)
            nxt = tuple(int(x) for x in out)
            if nxt[0] < lo:  # backlog truncated where the table ends (never under lost sales)
                nxt = (lo, *nxt[1:])
            episode.append((s, k, h + so + o - r + w, nxt))
            state = nxt
        for s, k, c, s2 in episode:  # end of episode: sweep the transitions in order
            q2 = Q[s2]
            target = c + gamma * q2[greedy(q2)]
            Q[s][k] += alpha * (target - Q[s][k])
        done += length
    return Q, time.perf_counter() - t0


def reference_matches(problem: Problem, Q: dict, *, seed: int, steps: int) -> float:
    """``max |Q_reference − Q_compiled|`` after the same steps (0 when identical)."""
    r = train_qlearning(problem, config=QLearningConfig(variant="seed", steps=steps, curve_points=0),
                        seed=seed)
    worst = 0.0
    for i, s in enumerate(r.states):
        for k, v in Q[tuple(int(x) for x in s)].items():
            worst = max(worst, abs(v - r.q[i, k]))
    return worst


# ----------------------------------------------------------------------------
def summary(costs: list[float], optimum: float) -> dict[str, Any]:
    gaps = [(c - optimum) / optimum for c in costs]
    return {"mean_cost": statistics.fmean(costs), "min_cost": min(costs), "max_cost": max(costs),
            "mean_gap": statistics.fmean(gaps), "median_gap": statistics.median(gaps),
            "max_gap": max(gaps), "within_0.3%": sum(g <= 0.003 for g in gaps), "runs": len(gaps),
            "gaps": [round(g, 6) for g in gaps]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 seeds, 20,000 reference steps")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per variant (default 10)")
    ap.add_argument("--reference-steps", type=int, default=100_000,
                    help="steps of the pure-Python reference (default 100,000)")
    args = ap.parse_args()
    # the learner is single-threaded; one thread also keeps the reference DP solves (optimum,
    # Q*) of this 11-state MDP from stalling on thread synchronisation on a busy machine
    numba.set_num_threads(1)
    if args.quick:
        args.seeds, args.reference_steps = 3, 20_000
    problem = load_config(ROOT / "configs" / "bike_shop.toml").problem
    optimum = optimal_average_cost(problem)
    steps = 1_000_000

    # speed: compiled seed variant (best and median of 3 runs) vs the dictionary loop
    runs = [train_qlearning(problem, config=QLearningConfig(variant="seed", steps=steps, curve_points=0),
                            seed=0) for _ in range(3)]
    wall = sorted(r.seconds for r in runs)
    cpu = sorted(r.cpu_seconds for r in runs)
    Q, ref_seconds = python_reference(problem, seed=0, steps=args.reference_steps)
    ref_rate = args.reference_steps / ref_seconds
    rate = steps / wall[0]
    diff = reference_matches(problem, Q, seed=0, steps=args.reference_steps)
    default_runs = [train_qlearning(problem, config=QLearningConfig(steps=steps, curve_points=0), seed=0)
                    for _ in range(3)]

    # quality over seeds
    results: dict[str, Any] = {}
    for variant in ("seed", "default"):
        costs = []
        for s in range(args.seeds):
            r = train_qlearning(problem, config=QLearningConfig(variant=variant, steps=steps,
                                                                 curve_points=0), seed=s)
            costs.append(r.average_cost)
        results[variant] = summary(costs, optimum)

    out = {
        "benchmark": "qlearning", "problem": problem.name, "machine": platform.machine(),
        "python": platform.python_version(), "optimal_average_cost": optimum,
        "speed": {
            "steps": steps,
            "seed_train_seconds_best": wall[0], "seed_train_seconds_median": wall[1],
            "seed_train_cpu_seconds_best": cpu[0],
            "seed_steps_per_second": rate,
            "target_seconds": TARGET_SECONDS, "meets_target": wall[0] <= TARGET_SECONDS,
            "meets_target_cpu": cpu[0] <= TARGET_SECONDS,
            "load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
            "default_train_seconds_best": min(r.seconds for r in default_runs),
            "reference": "pure-Python dictionary loop (same algorithm, same random numbers)",
            "reference_steps": args.reference_steps, "reference_seconds": ref_seconds,
            "reference_steps_per_second": ref_rate,
            "ratio_to_reference": rate / ref_rate,
            "reference_max_abs_q_difference": diff,
            "source_seconds_per_million_steps": SOURCE["seconds_per_million_steps"],
        },
        "source_published": SOURCE,
        "seed_variant": results["seed"],
        "default_variant": results["default"],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
