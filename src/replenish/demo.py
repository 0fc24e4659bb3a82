"""``replenish demo``: the bike shop end to end with every method that exists."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from .config import load_config
from .methods import solve


def bundled_config(name: str) -> Path:
    """Path of a config shipped in ``replenish/data`` (e.g. ``"bike_shop.toml"``)."""
    return Path(str(resources.files("replenish") / "data" / name))


def run_demo(*, quick: bool = False, out: Path = Path("demo-output"), as_json: bool = False) -> int:
    from .cli import _json_default, format_results
    from .policies.base import atomic_write_text

    cfg = load_config(bundled_config("bike_shop.toml"))
    problem = cfg.problem
    runs: list[tuple[str, str, dict[str, Any]]] = [
        ("DP optimum", "dp", {}),
        ("order-up-to 10", "order-up-to", {"level": 10}),
        ("best order-up-to", "order-up-to", {}),
    ]
    rows = []
    for label, method, opts in runs:
        res = solve(problem, method, options=opts, seed=0, progress=not as_json)
        row = res.to_json()
        row["label"] = f"{label} ({res.policy.describe()})" if method != "dp" else label
        rows.append(row)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "bike_shop_results.json", json.dumps(rows, indent=1, default=_json_default))
    if as_json:
        print(json.dumps({"bike_shop": rows}, default=_json_default))
    else:
        print(f"Bike shop ({problem.name}): capacity {problem.capacity}, lead time "
              f"{problem.lead_time}, Poisson demand, h = {problem.holding_cost}, "
              f"p = {problem.stockout_cost}; long-run average cost per day")
        print(format_results(rows))
        print(f"results written to {out / 'bike_shop_results.json'}")
    return 0
