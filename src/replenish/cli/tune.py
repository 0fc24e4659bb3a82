"""``replenish tune``: a learner's hyperparameters with Optuna (pruning, resumable storage)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from replenish.cli.common import add_quiet, print_json
from replenish.core.io import check_output_folder
from replenish.core.validate import require
from replenish.workflows.tune import TUNE_KEYS, tunable, tune


def add_tune(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML problem file (its [qlearning]/[dqn] table holds fixed options)")
    p.add_argument("--method", help="qlearning or dqn (default: [tune] method)")
    p.add_argument("--trials", type=int, help="finished trials the study should reach (default 20)")
    p.add_argument("--storage", help="SQLAlchemy URL (default sqlite:///OUT/tune.db); e.g. "
                                     "postgresql://user@host/db to share a study between machines")
    p.add_argument("--study", help="study name (default: PROBLEM-METHOD)")
    p.add_argument("--out", type=Path, default=Path("tune-output"),
                   help="output folder (default tune-output)")
    p.add_argument("--steps", type=int, help="training steps per run")
    p.add_argument("--repeats", type=int, help="training runs (seeds) per trial (default 1)")
    p.add_argument("--report-every", type=int, help="DQN transitions between intermediate evaluations")
    p.add_argument("--seed", type=int, help="seed of the sampler and of the runs (default 0)")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--json", action="store_true", help="print the study summary as JSON")
    add_quiet(p)


def cmd_tune(args: argparse.Namespace) -> int:
    from replenish.core.validate import check_keys
    from replenish.workflows.config import load_config

    check_output_folder(args.out, "--out")
    cfg = load_config(args.config)
    table = check_keys(cfg.section("tune"), TUNE_KEYS, "tune")

    def pick(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else table.get(key, default)

    method = pick(args.method, "method", None)
    require(method is not None, "--method", None, f"give one of {', '.join(tunable())}")
    require(method in tunable(), "--method", method, f"must be one of {', '.join(tunable())}")
    res = tune(cfg.problem, method, out=args.out, trials=pick(args.trials, "trials", 20),
               storage=pick(args.storage, "storage", None), study_name=pick(args.study, "study", None),
               base_options=cfg.section(method), steps=pick(args.steps, "steps", None),
               repeats=pick(args.repeats, "repeats", 1),
               report_every=pick(args.report_every, "report_every", None), seed=pick(args.seed, "seed", 0),
               timeout=pick(args.timeout, "timeout", None),
               progress=not (args.quiet or args.json))
    if args.json:
        print_json({k: v for k, v in res.to_json().items() if k != "trials"})
        return 0

    def fmt(v: float | None) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "—"
        return f"{100 * v:+.3f}%" if res.objective == "gap" else f"{v:.4f} $/period"

    print(f"study {res.study_name}: {res.n_complete} complete, {res.n_pruned} pruned, {res.n_failed} failed "
          f"trials ({res.ran} run now, {res.seconds:.1f} s); objective: {res.objective}")
    print(f"defaults: {fmt(res.default_value)}   best: {fmt(res.best_value)}")
    if res.snippet:
        print(res.snippet, end="")
        print(f"written to {Path(args.out) / f'best-{method}.toml'}")
    return 0
