"""Classic-policy optimisers: time per policy, cost, and gap to the optimum.

Two test beds:

* backorders, lead time 0, Poisson demand with means 5, 10, .., 75 and 64,
  ``K = 64``, ``h = 1``, ``p = 9`` (the Zheng & Federgruen 1991 test bed): every
  family; the (s, S) search is compared with exhaustive enumeration of the
  same renewal cost ``c(s, S)`` (reference, same run) and with one Markov-chain
  evaluation of the optimal policy ("about as simple as evaluating a single
  policy");
* lost sales, Poisson(5), ``h = 1``, ``p = 9``, lead times 1–4 (Zipkin 2008):
  every family, with the DP optimum (L <= 3, or all with ``--dp-all``) for the gap;
  the reference is one exact evaluation of the best base-stock policy
  (``seconds / reference`` ≈ the number of exact evaluations the search cost).

Target: optimising (s, S) for mean 64 takes well under 1 s.  Prints one JSON object.

    python benchmarks/classic.py [--quick] [--dp-all]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from replenish import Poisson, Problem, evaluate_exact, solve_dp
from replenish.model.demand import multi_period_pmf
from replenish.solvers import classic as C

FAMILIES = ["order-up-to", "sS", "sQ", "capped-base-stock", "constant-order"]


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def backorder_problem(mean: float) -> Problem:
    return Problem(demand=Poisson(mean), lead_time=0, excess_demand="backorder", holding_cost=1,
                   stockout_cost=9, fixed_order_cost=64, name=f"zf-mean{mean:g}")


def enumerate_ss(prob: Problem) -> tuple[tuple[int, int], float, int, float]:
    """Exhaustive minimisation of the same renewal cost over a box around the optimum."""
    q = prob.demand.pmf(0)
    r = C._SSRenewal(q, multi_period_pmf(prob.demand, 1), prob.holding_cost, prob.stockout_cost,
                     prob.fixed_order_cost)
    ys = r.y_star()
    t0 = time.perf_counter()
    best = (np.inf, (0, 0))
    n = 0
    for s in range(ys - 3 * int(np.sqrt(prob.demand.mean)) - 30, ys):
        for S in range(ys, prob.bound + 1):
            n += 1
            c = r.cost(s, S)
            if c < best[0]:
                best = (c, (s, S))
    return best[1], best[0], n, time.perf_counter() - t0


def run_backorder(mean: float, families: list[str], reference: bool) -> dict:
    prob = backorder_problem(mean)
    row: dict = {"mean": mean, "bound": prob.bound, "families": {}}
    for fam in [*families, "myopic"]:
        fn = C.optimize_myopic if fam == "myopic" else C.EXACT_OPTIMIZERS[fam]
        res, sec = timed(fn, prob)
        row["families"][fam] = {"params": res.params, "average_cost": round(res.average_cost, 6),
                                "seconds": round(sec, 4), "evaluations": res.evaluations,
                                "search": res.search}
    # Zheng–Federgruen search alone, and one chain evaluation of its result
    q = prob.demand.pmf(0)
    r = C._SSRenewal(q, multi_period_pmf(prob.demand, 1), 1, 9, 64)
    (s, S, c), sec_zf = timed(r.solve)
    ev, sec_eval = timed(evaluate_exact, prob, C.SS(problem=prob, s=s, S=S))
    row["zheng_federgruen"] = {
        "s": s, "S": S, "renewal_cost": round(c, 6), "search_seconds": round(sec_zf, 5),
        "cost_evaluations": r.count, "one_chain_evaluation_seconds": round(sec_eval, 4),
        "chain_cost": round(ev.average_cost, 6)}
    if reference:
        (bs, bS), bc, n, sec_enum = enumerate_ss(prob)
        row["enumeration_reference"] = {"s": bs, "S": bS, "cost": round(bc, 6), "pairs": n,
                                        "seconds": round(sec_enum, 4),
                                        "speedup_of_zf": round(sec_enum / max(sec_zf, 1e-9), 1),
                                        "same_optimum": (bs, bS) == (s, S) or abs(bc - c) < 1e-9}
    return row


def run_lost_sales(L: int, with_dp: bool) -> dict:
    prob = Problem(demand=Poisson(5), lead_time=L, holding_cost=1, stockout_cost=9, name=f"zipkin-L{L}-p9")
    row: dict = {"lead_time": L, "bound": prob.bound, "families": {}}
    opt = None
    if with_dp:
        dp, sec = timed(solve_dp, prob)
        opt = dp.average_cost
        row["dp"] = {"average_cost": round(opt, 6), "seconds": round(sec, 3)}
    best_level = None
    for fam in [*FAMILIES, "myopic"]:
        fn = C.optimize_myopic if fam == "myopic" else C.EXACT_OPTIMIZERS[fam]
        res, sec = timed(fn, prob)
        if fam == "order-up-to":
            best_level = res.params["level"]
        row["families"][fam] = {
            "params": res.params, "average_cost": round(res.average_cost, 6), "seconds": round(sec, 3),
            "evaluations": res.evaluations, "search": res.search,
            "gap": None if opt is None else round((res.average_cost - opt) / opt, 6)}
    _, ref = timed(evaluate_exact, prob, C.OrderUpTo(problem=prob, level=best_level))
    row["reference_one_evaluation_seconds"] = round(ref, 4)
    for v in row["families"].values():
        v["seconds_per_reference"] = round(v["seconds"] / max(ref, 1e-9), 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="means 5, 25, 64, 75 only; lead times 1-3; exact-search families at mean <= 25")
    ap.add_argument("--dp-all", action="store_true", help="also compute the DP optimum for L = 4")
    args = ap.parse_args()
    # warm compiled kernels and caches
    C.optimize_ss(backorder_problem(5))
    means = [5, 25, 64, 75] if args.quick else sorted({*range(5, 80, 5), 64})
    rows = []
    for mean in means:
        fams = FAMILIES if (mean <= 25 or not args.quick) else ["order-up-to", "sS", "sQ"]
        rows.append(run_backorder(mean, fams, reference=mean in (5, 25, 64, 75)))
    leads = [1, 2, 3] if args.quick else [1, 2, 3, 4]
    lost = [run_lost_sales(L, with_dp=(L <= 3 or args.dp_all)) for L in leads]
    m64 = next(r for r in rows if r["mean"] == 64)
    out = {
        "benchmark": "classic",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "target": {"what": "optimise (s, S), backorders, Poisson mean 64, K = 64, h = 1, p = 9",
                   "seconds": m64["families"]["sS"]["seconds"],
                   "zf_search_seconds": m64["zheng_federgruen"]["search_seconds"],
                   "limit_seconds": 1.0,
                   "met": m64["families"]["sS"]["seconds"] < 1.0},
        "backorders": rows,
        "lost_sales": lost,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
