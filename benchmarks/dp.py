"""DP benchmark: Zipkin (2008) lost-sales instances, states, time and memory.

Poisson(5) demand, h = 1, lead times 1–4, p ∈ {4, 9, 19, 39}; the inventory
position is bounded at 45 for L = 4 (automatic bound otherwise).  For the
largest instance(s) a plain relative value iteration written in C
(``rvi_reference.c``, compiled with ``gcc -O2`` in the same run) is timed as the
reference, and the ratio is reported.  Prints one JSON object.

    python benchmarks/dp.py [--quick] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from replenish import Poisson, Problem
from replenish.solvers.dp import build_mdp, solve_dp

# Zipkin (2008), Table 1 (optimal average cost, two decimals) where we quote it
PUBLISHED = {(1, 4): 4.04, (2, 9): 6.09, (3, 19): 8.36, (4, 39): 10.79}


def problem(L: int, p: float) -> Problem:
    return Problem(demand=Poisson(5), lead_time=L, holding_cost=1, stockout_cost=p,
                   position_bound=45 if L == 4 else None, name=f"zipkin-L{L}-p{p}")


def run_replenish(L: int, p: float) -> dict:
    prob = problem(L, p)
    solve_dp(problem(1, 4))  # warm the compiled kernels (cached on disk after the first run)
    t0 = time.perf_counter()
    mdp = build_mdp(prob)
    t_build = time.perf_counter() - t0
    r = solve_dp(prob, mdp=mdp)
    total = time.perf_counter() - t0
    return {"lead_time": L, "p": p, "bound": prob.bound, "states": mdp.n_states,
            "state_actions": mdp.n_state_actions, "transitions": int(mdp.tr_idx.size),
            "mdp_megabytes": round(mdp.nbytes / 2**20, 1), "build_seconds": round(t_build, 3),
            "total_seconds": round(total, 3), "iterations": r.iterations,
            "average_cost": round(r.average_cost, 6),
            "gain_bounds": [round(x, 9) for x in r.gain_bounds],
            "published": PUBLISHED.get((L, p)),
            "bound_binding_mass": r.bound_binding_mass,
            "policy_states_reachable": r.evaluation.n_states}


def run_reference(L: int, p: float, bound: int) -> dict | None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    src = Path(__file__).with_name("rvi_reference.c")
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "rvi"
        subprocess.run([cc, "-O2", "-o", str(exe), str(src), "-lm"], check=True)
        t0 = time.perf_counter()
        out = subprocess.run([str(exe), str(L), str(p), "5", str(bound), "1e-9"], check=True,
                             capture_output=True, text=True).stdout.split()
        wall = time.perf_counter() - t0
    return {"gain": float(out[0]), "iterations": int(out[1]), "states": int(out[2]),
            "seconds": round(wall, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only L = 1..3 and the L = 4, p = 39 target")
    ap.add_argument("--no-reference", action="store_true", help="skip the C reference")
    args = ap.parse_args()
    grid = [(L, p) for L in (1, 2, 3, 4) for p in (4, 9, 19, 39)]
    if args.quick:
        grid = [(1, 4), (2, 9), (3, 19), (4, 39)]
    rows = [run_replenish(L, p) for L, p in grid]
    target = next(r for r in rows if r["lead_time"] == 4 and r["p"] == 39)
    out = {"benchmark": "dp", "machine": {"python": sys.version.split()[0],
                                          "platform": platform.platform()},
           "instances": rows,
           "target": {"instance": "L=4, p=39, B=45", "seconds": target["total_seconds"],
                      "limit_seconds": 5.0, "met": target["total_seconds"] <= 5.0}}
    if not args.no_reference:
        ref = run_reference(4, 39, 45)
        if ref is not None:
            out["reference_c_rvi"] = {"instance": "L=4, p=39, B=45", **ref,
                                      "speedup_vs_reference": round(ref["seconds"] /
                                                                    target["total_seconds"], 2),
                                      "gain_difference": abs(ref["gain"] - target["average_cost"])}
    out["peak_rss_megabytes"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
