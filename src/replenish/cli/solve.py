"""``replenish solve``: find a policy with one method and evaluate it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from replenish.cli.common import add_quiet, format_results, print_json
from replenish.core.io import dumps_json
from replenish.core.validate import SpecError


def add_solve(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML problem file")
    p.add_argument("--method", required=True,
                   help="dp, order-up-to, sS, sQ, capped-base-stock, constant-order, myopic, "
                        "weekday-base-stock, qlearning, dqn, dcl")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--out", type=Path, help="folder for the policy file and result JSON")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, help="training steps (learners)")
    p.add_argument("--variant", help="algorithm variant (qlearning: seed|default)")
    p.add_argument("--logdir", type=Path, help="TensorBoard log folder (dqn, dcl)")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint (dqn, dcl)")
    add_quiet(p)
    p.add_argument("--report", type=Path, help="folder for an HTML report (report.html, figures, "
                                               "results.json/.csv)")


def _method_options(config: Any, method: str, args: argparse.Namespace) -> dict[str, Any]:
    opts = config.section(method)
    for flag in ("steps", "variant"):
        v = getattr(args, flag, None)
        if v is not None:
            opts[flag] = v
    if getattr(args, "logdir", None) is not None:
        opts["logdir"] = str(args.logdir)
    if getattr(args, "resume", False):
        opts["resume"] = True
    if getattr(args, "out", None) is not None and method in ("dqn", "dcl"):
        opts.setdefault("checkpoint_dir", str(args.out / "checkpoints"))
    return opts


def cmd_solve(args: argparse.Namespace) -> int:
    from replenish.core.io import atomic_write
    from replenish.solvers.catalogue import solve
    from replenish.workflows.config import load_config

    cfg = load_config(args.config)
    if args.steps is not None and args.steps < 1:
        raise SpecError("--steps", args.steps, "must be >= 1")
    res = solve(cfg.problem, args.method, options=_method_options(cfg, args.method, args),
                seed=args.seed, progress=not (args.quiet or args.json))
    policy_file = None
    if args.out is not None:
        path = args.out / f"policy-{args.method}{res.policy.file_suffix}"
        res.policy.save(path)
        policy_file = str(path)
    obj = res.to_json(policy_file=policy_file)
    if args.out is not None:
        atomic_write(args.out / f"result-{args.method}.json",
                     dumps_json(obj))
    report = None
    if args.report is not None:
        from replenish.workflows.report import write_report

        report = write_report([res], args.report, title=f"{cfg.problem.name}: {args.method}")
    if args.json:
        print_json(obj)
    else:
        print(f"{cfg.problem.name}: {res.policy.describe()}")
        print(format_results([obj]))
        if policy_file:
            print(f"policy saved to {policy_file}")
        if report is not None:
            print(f"report written to {report.html}")
    return 0
