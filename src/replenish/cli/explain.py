"""``replenish explain`` and ``replenish recommend``: why a policy orders what it does; today's order."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from replenish.cli.common import print_json
from replenish.core.io import json_default
from replenish.core.validate import SpecError, require


def add_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML problem file")
    p.add_argument("--policy", type=Path, action="append", default=[],
                   help="saved policy file (repeatable); the DP optimum is always shown when "
                        "the problem is tabulable")
    p.add_argument("--state", required=True,
                   help="on hand then in transit, comma-separated: α,β_1..β_L (e.g. 3,2); a "
                        "perishable product: its stock by remaining life first, oldest first, "
                        "α_1..α_n,β_1..β_L")
    p.add_argument("--weekday", help="weekday of tomorrow, the next demand day (Mon..Sun), "
                                     "for weekday-seasonal demand")
    p.add_argument("--date", help="today's date YYYY-MM-DD (order placed this evening); sets the weekday")
    p.add_argument("--days", type=int, default=7, help="days of expected-cost forecast (default 7)")
    p.add_argument("--all-orders", action="store_true",
                   help="list every candidate order (default: 3 either side of the optimal one, "
                        "each policy's order and ordering nothing)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def cmd_explain(args: argparse.Namespace) -> int:
    from replenish.policies.base import check_policy_problem, load_policy
    from replenish.workflows.config import load_config
    from replenish.workflows.explain.explanation import explain
    from replenish.workflows.explain.state import make_state, parse_date, parse_ints

    cfg = load_config(args.config)
    problem = cfg.problem
    require(0 <= args.days <= 365, "--days", args.days, "must be in 0..365")
    nums = parse_ints(args.state, field_name="--state")
    require(len(nums) >= 1, "--state", args.state, "give at least the on-hand stock")
    date = parse_date(args.date)
    n = problem.stock_slots if problem.perishable else 1
    state = make_state(problem, nums[:n] if problem.perishable else nums[0], nums[n:],
                       weekday=args.weekday, date=date)
    policies = {}
    for path in args.policy:
        policies[path.name] = load_policy(path)
        check_policy_problem(policies[path.name], problem)
    exp = explain(problem, policies, state, days=args.days)
    if args.json:
        print_json(exp.to_json())
    else:
        print(exp.text(window=None if args.all_orders else 3))
    return 0


def add_recommend(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", type=Path, required=True, help="saved policy file (.json or .pt)")
    p.add_argument("--on-hand", required=True,
                   help="units on hand after today's sales (a perishable product: by remaining "
                        "life, oldest first, comma-separated)")
    p.add_argument("--in-transit", default=None,
                   help="units in transit, comma-separated β_1..β_L (β_1 arrives tomorrow morning)")
    p.add_argument("--date", help="today's date YYYY-MM-DD (sets tomorrow's weekday)")
    p.add_argument("--weekday", help="weekday of tomorrow (Mon..Sun), instead of --date")
    p.add_argument("--features", help="forecasting policies: JSON of the coming days' features, e.g. "
                                      "'{\"promotion_currentweek\": 1}' (one value for every day, or a list "
                                      "from tomorrow on); default: read from the data file")
    p.add_argument("--data", type=Path, help="forecasting policies: the sales file with sales up to "
                                             "--date (default: the file the policy was fitted on)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def cmd_recommend(args: argparse.Namespace) -> int:
    from replenish.policies.base import load_policy
    from replenish.workflows.explain.recommend import recommend
    from replenish.workflows.explain.state import parse_ints

    policy = load_policy(args.policy)
    features = None
    if args.features is not None:
        try:
            features = json.loads(args.features)
        except json.JSONDecodeError as exc:
            raise SpecError("--features", args.features, f"not JSON ({exc.msg})") from None
        if not isinstance(features, dict):
            raise SpecError("--features", args.features, "must be a JSON object {column: value}")
    context = None
    source = getattr(policy, "source", None)
    if hasattr(policy, "for_evening") and (args.data is not None or source):
        from replenish.workflows.history import reread_context

        context = reread_context(policy, args.data)
    hand = parse_ints(args.on_hand, field_name="--on-hand")
    perishable = policy.problem.perishable
    require(perishable or len(hand) == 1, "--on-hand", args.on_hand, "must be one integer (units)")
    on_hand = hand if perishable else hand[0]
    rec = recommend(policy, on_hand, parse_ints(args.in_transit, field_name="--in-transit"),
                    weekday=args.weekday, date=args.date, context=context, features=features)
    if args.json:
        sys.stdout.write(json.dumps(rec.to_json(), default=json_default) + "\n")
    else:
        print(rec.text())
    return 0
