"""Command-line interface: ``replenish solve|evaluate|demo ...``.

Bad input (config, policy file, flags) prints one line ``error: <field> =
<value>: <reason>`` on stderr and exits with code 2; results are written
atomically, so a failed run never destroys earlier outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from replenish.core.io import json_default
from replenish.core.validate import SpecError

#: sub-command name → (help, add_arguments, run); extended by later modules.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, add: Callable[[argparse.ArgumentParser], None]):
    """Decorator registering a sub-command."""

    def deco(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help, add, run)
        return run

    return deco


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=1, default=json_default) + "\n")


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "—" if x is None else format(x, spec)


def format_results(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of result JSON objects (method, cost, CI, gap, time)."""
    head = (f"{'method':<22} {'avg cost/period':>16} {'95% CI / exact':>21} "
            f"{'gap to optimum':>15} {'seconds':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ci = "exact" if r.get("exact") else (
            f"±{(r['ci95'][1] - r['ci95'][0]) / 2:.4f}" if r.get("ci95") else "—")
        gap = "—" if r.get("gap") is None else f"{100 * r['gap']:+.2f}%"
        label = r.get("label") or r["method"]
        lines.append(f"{label:<22} {_fmt(r['average_cost']):>16} {ci:>21} {gap:>15} "
                     f"{r.get('seconds', 0.0):>8.2f}")
    return "\n".join(lines)


# --------------------------------------------------------------------- solve
def _add_solve(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML problem file")
    p.add_argument("--method", required=True,
                   help="dp, order-up-to, sS, sQ, capped-base-stock, constant-order, myopic, "
                        "weekday-base-stock, qlearning, dqn")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--out", type=Path, help="folder for the policy file and result JSON")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, help="training steps (learners)")
    p.add_argument("--variant", help="algorithm variant (qlearning: seed|default)")
    p.add_argument("--logdir", type=Path, help="TensorBoard log folder (dqn)")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint (dqn)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
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
    if getattr(args, "out", None) is not None and method == "dqn":
        opts.setdefault("checkpoint_dir", str(args.out / "checkpoints"))
    return opts


@command("solve", "find a policy with one method and evaluate it", _add_solve)
def _run_solve(args: argparse.Namespace) -> int:
    from replenish.core.io import atomic_write
    from replenish.solvers.catalogue import solve
    from replenish.workflows.config import load_config

    cfg = load_config(args.config)
    if args.steps is not None and args.steps < 1:
        raise SpecError("--steps", args.steps, "must be >= 1")
    res = solve(cfg.problem, args.method, options=_method_options(cfg, args.method, args),
                seed=args.seed, progress=not (args.no_progress or args.json))
    policy_file = None
    if args.out is not None:
        path = args.out / f"policy-{args.method}{res.policy.file_suffix}"
        res.policy.save(path)
        policy_file = str(path)
    obj = res.to_json(policy_file=policy_file)
    if args.out is not None:
        atomic_write(args.out / f"result-{args.method}.json",
                          json.dumps(obj, indent=1, default=json_default))
    report = None
    if args.report is not None:
        from replenish.workflows.report import write_report

        report = write_report([res], args.report, title=f"{cfg.problem.name}: {args.method}")
    if args.json:
        _print_json(obj)
    else:
        print(f"{cfg.problem.name}: {res.policy.describe()}")
        print(format_results([obj]))
        if policy_file:
            print(f"policy saved to {policy_file}")
        if report is not None:
            print(f"report written to {report.html}")
    return 0


# ------------------------------------------------------------------ evaluate
def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML problem file")
    p.add_argument("--policy", required=True, type=Path, help="saved policy file")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--simulate", action="store_true", help="simulate even when exact is possible")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")


@command("evaluate", "evaluate a saved policy on a problem", _add_evaluate)
def _run_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from replenish.evaluation.evaluate import evaluate, relative_gap
    from replenish.policies.base import load_policy
    from replenish.solvers.dp import optimal_average_cost
    from replenish.workflows.config import load_config

    cfg = load_config(args.config)
    policy = load_policy(args.policy)
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
    if args.json:
        _print_json(obj)
    else:
        print(f"{cfg.problem.name}: {policy.describe()}")
        print(format_results([obj]))
    return 0


# ---------------------------------------------------------------------- demo
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="smaller budgets (under 30 s)")
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


@command("demo", "the bike shop end to end (and more as methods land)", _add_demo)
def _run_demo(args: argparse.Namespace) -> int:
    from replenish.workflows.demo import run_demo

    return run_demo(quick=args.quick, out=args.out, as_json=args.json)


# ---------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    from replenish import __version__
    from replenish.workflows import compare as _compare  # noqa: F401  (registers the "compare" sub-command)
    from replenish.workflows import explain as _explain  # noqa: F401  (registers "explain" and "recommend")
    from replenish.workflows import fleet as _fleet  # noqa: F401  (registers "fleet")
    from replenish.workflows import tune as _tune  # noqa: F401  (registers "tune")

    parser = argparse.ArgumentParser(
        prog="replenish",
        description="Find the best daily ordering policy: exact DP, Q-learning, DQN and "
                    "tuned classic policies, compared on the same demand.")
    parser.add_argument("--version", action="version", version=f"replenish {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_, add, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
