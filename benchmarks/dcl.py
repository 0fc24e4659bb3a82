"""DCL (deep controlled learning) against the exact DP optimum on Zipkin's lost-sales instances.

Poisson(5) demand, lost sales, ``h = 1``, ``p`` in {4, 9, 19, 39}, ``L`` in 1..4
(position bound 45 at ``L = 4``, as ``benchmarks/dp.py``).  For each instance and
seed: the DP optimum, the best capped base-stock policy (DCL's generation 0) and
DCL's policy, all evaluated exactly; the CPU seconds of the DCL run (process time,
all threads; the DP solve is not counted) and its wall time.  Prints one JSON
object per line, then a summary line.  Targets of issue 15: mean gap <= 0.05%,
max <= 0.1% over the 16 instances, 3 seeds; <= 10 CPU minutes per instance.

Usage::

    python benchmarks/dcl.py --instances 2:9,3:19 --seeds 0,1
    python benchmarks/dcl.py --instances all --seeds 0,1,2 --options '{"generations": 4}'
"""

from __future__ import annotations

import argparse
import json
import time


def problem(L: int, p: float):
    from replenish import Poisson, Problem

    return Problem(demand=Poisson(5), lead_time=L, holding_cost=1, stockout_cost=p,
                   position_bound=45 if L == 4 else None, name=f"zipkin-L{L}-p{p:g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", default="all", help="L:p,... or 'all' (L = 1..4, p = 4, 9, 19, 39)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--options", default="{}", help="DCLConfig fields as JSON")
    args = ap.parse_args()

    from replenish.evaluation.markov import evaluate_exact
    from replenish.solvers.dcl import DCLConfig, train_dcl
    from replenish.solvers.dp import solve_dp

    if args.instances == "all":
        inst = [(L, p) for L in (1, 2, 3, 4) for p in (4.0, 9.0, 19.0, 39.0)]
    else:
        inst = [(int(a), float(b)) for a, b in (x.split(":") for x in args.instances.split(","))]
    opts = json.loads(args.options)
    if "hidden" in opts:
        opts["hidden"] = tuple(opts["hidden"])
    cfg = DCLConfig(**opts)
    gaps = []
    for L, p in inst:
        prob = problem(L, p)
        opt = solve_dp(prob).average_cost
        for seed in (int(s) for s in args.seeds.split(",")):
            c0, w0 = time.process_time(), time.perf_counter()
            r = train_dcl(prob, config=cfg, seed=seed, optimum=opt)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            cost = evaluate_exact(prob, r.policy).average_cost
            gap = (cost - opt) / opt
            gaps.append(gap)
            print(json.dumps({"instance": prob.name, "seed": seed, "optimum": opt, "average_cost": cost,
                              "gap": gap, "start_gap": (r.start_cost - opt) / opt, "start": r.start_params,
                              "generation_gaps": [h["gap"] for h in r.history],
                              "best_generation": r.best_generation, "cpu_seconds": round(cpu, 1),
                              "wall_seconds": round(wall, 1)}), flush=True)
    print(json.dumps({"summary": True, "config": cfg.to_dict(), "runs": len(gaps),
                      "mean_gap": sum(gaps) / len(gaps), "max_gap": max(gaps)}), flush=True)


if __name__ == "__main__":
    main()
