"""``replenish evaluate``: evaluate a saved policy on a problem (exactly when it can)."""

from __future__ import annotations

import argparse
from pathlib import Path

from replenish.cli.common import REPORT_HELP, format_results, print_json


def add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML problem file")
    p.add_argument("--policy", required=True, type=Path, help="saved policy file")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--simulate", action="store_true", help="simulate even when exact is possible")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    p.add_argument("--report", type=Path, help=REPORT_HELP)


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from replenish.evaluation.evaluate import evaluate, relative_gap
    from replenish.policies.base import check_policy_problem, load_policy
    from replenish.solvers.dp import optimal_average_cost
    from replenish.workflows.config import load_config

    cfg = load_config(args.config)
    policy = load_policy(args.policy)
    check_policy_problem(policy, cfg.problem)
    ev = evaluate(cfg.problem, policy, exact=False if args.simulate else None,
                  rng=np.random.default_rng(args.seed))
    opt = optimal_average_cost(cfg.problem)
    obj = {"method": policy.kind, "problem": cfg.problem.name, "average_cost": ev.average_cost,
           "exact": ev.exact, "ci95": list(ev.ci95) if ev.ci95 else None,
           "optimal_average_cost": opt, "gap": relative_gap(ev.average_cost, opt),
           "params": {k: v for k, v in policy.params().items() if k not in ("states", "orders")},
           "seconds": 0.0, "policy_file": str(args.policy), "breakdown": ev.breakdown,
           "fill_rate": ev.fill_rate, "stockout_rate": ev.stockout_rate,
           "average_on_hand": ev.average_on_hand}
    report = None
    if args.report is not None:
        from replenish.solvers.catalogue import SolveResult
        from replenish.workflows.report import write_report

        res = SolveResult(method=policy.kind, policy=policy, evaluation=ev, optimal_average_cost=opt,
                          gap=relative_gap(ev.average_cost, opt),
                          params={k: v for k, v in policy.params().items()
                                  if k not in ("states", "orders")}, extras={}, seconds=0.0)
        report = write_report([res], args.report, labels=[args.policy.name],
                              title=f"{cfg.problem.name}: {args.policy.name}")
    if args.json:
        print_json(obj)
    else:
        print(f"{cfg.problem.name}: {policy.describe()}")
        print(format_results([obj]))
        if report is not None:
            print(f"report written to {report.html}")
    return 0
