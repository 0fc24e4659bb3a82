"""``replenish solve``: find a policy with one method and evaluate it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from replenish.cli.common import REPORT_HELP, add_quiet, bound_note, format_results, print_json
from replenish.core.io import check_output_folder, dumps_json
from replenish.core.validate import SpecError


def add_solve(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML problem file")
    from replenish.solvers.catalogue import METHODS

    p.add_argument("--method", required=True,
                   help=", ".join(m for m, spec in METHODS.items() if not spec.contextual)
                        + " (the forecasting methods "
                        + ", ".join(m for m, spec in METHODS.items() if spec.contextual)
                        + " run in replenish compare, with a [features] table)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--out", type=Path, help="folder for the policy file and result JSON")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, help="training steps (learners)")
    p.add_argument("--variant", help="algorithm variant (qlearning: seed|default)")
    p.add_argument("--logdir", type=Path, help="TensorBoard log folder (dqn, dcl)")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint (dqn, dcl)")
    add_quiet(p)
    p.add_argument("--report", type=Path, help=REPORT_HELP)
    p.add_argument("--reference", default="sS",
                   help="method the decision's saving is measured against, solved as well "
                        "(default sS; 'none' for no reference)")


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

    check_output_folder(args.out, "--out")
    check_output_folder(args.report, "--report")
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
    from replenish.workflows.decision import decide

    results, labels = [res], [args.method]
    ref = None if str(args.reference).lower() == "none" else args.reference
    if ref is not None and ref != args.method:
        try:
            results.append(solve(cfg.problem, ref, options=cfg.section(ref), seed=args.seed,
                                 with_optimum=False))
            labels.append(ref)
        except SpecError as exc:  # a reference that does not apply to this problem
            print(f"note: reference {ref} not solved: {exc}", file=sys.stderr)
            ref = None
    decision = decide(results, labels, reference=None if ref is None else labels[-1],
                      default_reference=False)
    obj["decision"] = decision.to_json()
    report = None
    if args.report is not None:
        from replenish.workflows.report import write_report

        report = write_report(results, args.report, labels=labels,
                              title=f"{cfg.problem.name}: {args.method}",
                              reference=None if ref is None else labels[-1])
    note = bound_note(cfg.problem)  # after the work: an error stays the one line printed
    if note is not None and not args.quiet:
        print(note, file=sys.stderr)
    if args.json:
        print_json(obj)
    else:
        print(f"{cfg.problem.name}: {res.policy.describe()}")
        print(format_results([dict(r.to_json(), label=lab) for r, lab in zip(results, labels, strict=True)]))
        print()
        print("\n".join(decision.lines()))
        if policy_file:
            print(f"policy saved to {policy_file}")
        if report is not None:
            print(f"report written to {report.html}")
    return 0
