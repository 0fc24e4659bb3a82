"""Diagnosis of dqn-context's seed spread on one series: every evaluated snapshot's test cost.

Trains dqn-context (its defaults, or ``OPTIONS`` JSON) on one bakery series and origin as
``benchmarks/context.py`` does, keeps every snapshot the trainer evaluates (its simulated cost in
the training world, the forecaster's pmfs over the training window), and replays each on the test
window; then averages of weights (the last half, third, quarter of the snapshots; the 3 and 5 best
by simulated cost) and the mean of the Q-values of the 3 and 5 best.  Prints one JSON object:
``cpu``, ``test_best`` (the kept snapshot), ``snaps`` ([step, simulated $/day, test total cost]),
``swa_*`` and ``ens_*`` (test total costs).

Usage (from the repository root; 2 to 3 CPU minutes)::

    python benchmarks/results/context-dqn-99-2026-12-04/snapshots.py 28 101 20 2018-01-01 SEED [OPTIONS]
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
warnings.simplefilter("ignore")

import torch  # noqa: E402

import context as bench  # noqa: E402
from replenish.solvers.catalogue import solve  # noqa: E402
from replenish.solvers.dqn import trainer  # noqa: E402
from replenish.workflows.history import problem_from_history, read_context  # noqa: E402


class _Mean(torch.nn.Module):
    """The mean of several networks' outputs."""

    def __init__(self, nets: list[torch.nn.Module]) -> None:
        super().__init__()
        self.nets = torch.nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(n(x) for n in self.nets) / len(self.nets)


class _Result:
    def __init__(self, policy: Any) -> None:
        self.policy = policy


def main() -> None:
    store, product, k, origin, seed = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                       sys.argv[4], int(sys.argv[5]))
    options = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
    day = dt.date.fromisoformat(origin)
    tab = {"kind": "history", "file": str(bench.DATA), "filter": {"store": store, "product": product},
           "train": ["2016-01-02", (day - dt.timedelta(days=1)).isoformat()],
           "test": [origin, (day + dt.timedelta(days=364)).isoformat()]}
    feats = {"known_ahead": ["is_holiday", "is_schoolholiday", "promotion_currentweek"],
             "forecast": ["rain", "temperature"], "level": True}
    problem, hist = problem_from_history(tab, problem={"lead_time": 1, "excess_demand": "lost",
                                                       "holding_cost": 1.0, "stockout_cost": 9.0,
                                                       "fixed_order_cost": k})
    ctx = read_context(tab, feats, hist)
    snaps: list[tuple[int, float, dict[str, torch.Tensor]]] = []
    evaluate = trainer.DQNTrainer.evaluate

    def keep(self: Any) -> tuple[float, float]:
        cost, best = evaluate(self)
        weights = {n: v.detach().clone() for n, v in self.online.state_dict().items()}
        snaps.append((self.global_step, cost, weights))
        return cost, best

    trainer.DQNTrainer.evaluate = keep  # type: ignore[method-assign]
    c0 = time.process_time()
    res = solve(problem, "dqn-context", options=options, seed=seed, with_optimum=False, context=ctx)
    out: dict[str, Any] = {"cpu": time.process_time() - c0, "test_best": bench.test_cost(res, hist.test)}

    def with_network(net: torch.nn.Module) -> float:
        pol = copy.deepcopy(res.policy)
        object.__setattr__(pol, "network", net)
        return bench.test_cost(_Result(pol), hist.test)

    def loaded(sd: dict[str, torch.Tensor]) -> torch.nn.Module:
        net = copy.deepcopy(res.policy.network)
        net.load_state_dict(sd)
        return net.eval()

    def average(sds: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {n: sum(sd[n] for sd in sds) / len(sds) for n in sds[0]}

    out["snaps"] = [(step, cost, with_network(loaded(sd))) for step, cost, sd in snaps]
    n = len(snaps)
    for frac in (2, 3, 4):
        last = [sd for _, _, sd in snaps[n - max(1, n // frac):]]
        out[f"swa_last_1/{frac}"] = with_network(loaded(average(last)))
    order = sorted(range(n), key=lambda i: snaps[i][1])
    for top in (3, 5):
        out[f"ens_top{top}"] = with_network(_Mean([loaded(snaps[i][2]) for i in order[:top]]))
        out[f"swa_top{top}"] = with_network(loaded(average([snaps[i][2] for i in order[:top]])))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
