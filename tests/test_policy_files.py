"""Hostile policy files through load_policy and the CLI: one-line errors naming field and value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import DELETE, with_value
from replenish import Poisson, Problem, SpecError
from replenish.cli import main
from replenish.policies.base import load_policy
from replenish.policies.classic import OrderUpTo
from replenish.policies.table import TablePolicy

ROOT = Path(__file__).resolve().parents[1]
BIKE_CFG = ROOT / "configs" / "bike_shop.toml"
BIKE = Problem(demand=Poisson(4), lead_time=1, capacity=10, holding_cost=8, stockout_cost=10,
               discount=0.9, name="bike-shop")
LEVEL = OrderUpTo(problem=BIKE, level=7).to_dict()
TABLE = TablePolicy(problem=BIKE, states=[[0, 0], [1, 0]], orders=[3, 2], reduced=False).to_dict()


def changed(doc: dict, path: str, value) -> dict:
    """``doc`` with the key at ``path`` set to ``value`` (deleted for ``None``)."""
    return with_value(doc, path, DELETE if value is None else value)


CASES = [
    ("kind list", changed(LEVEL, "kind", ["order-up-to"]), "policy.kind", ["order-up-to"]),
    ("problem missing", changed(LEVEL, "problem", None), "policy.problem", None),
    ("params a list", changed(LEVEL, "params", [7]), "policy.params", [7]),
    ("level 10**30", changed(LEVEL, "params.level", 10**30), "params.level", 10**30),
    ("level NaN", changed(LEVEL, "params.level", float("nan")), "params.level", float("nan")),
    ("ragged states", changed(TABLE, "params.states", [[0, 0], [1]]), "policy.states", "[...]"),
    ("NaN order", changed(TABLE, "params.orders", [3, float("nan")]), "policy.orders",
     float("nan")),
    ("order 2**70", changed(TABLE, "params.orders", [3, 2**70]), "policy.orders", float(2**70)),
    ("negative order", changed(TABLE, "params.orders", [3, -1]), "policy.orders", -1),
    ("unknown param", changed(LEVEL, "params.colour", 1), "policy.params", "{level, colour}"),
]


@pytest.mark.parametrize("doc, field, value", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_policy_documents(tmp_path, doc, field, value):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecError) as exc:
        load_policy(path)
    assert str(exc.value).startswith(f"{field} = {value!r}: "), str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("content, reason", [
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON (nested too deeply)"),
    (b'{"format": "\xff\xfe"}', "not UTF-8 text (byte 12: b'\\xff')"),
])
def test_hostile_policy_files_on_every_command(tmp_path, capsys, content, reason):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    for argv in (["evaluate", str(BIKE_CFG), "--policy", str(path)],
                 ["explain", str(BIKE_CFG), "--policy", str(path), "--state", "3,2"],
                 ["recommend", "--policy", str(path), "--on-hand", "3", "--in-transit", "2"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"error: policy = {str(path)!r}: {reason}\n", err


def test_a_policy_for_another_problem_is_refused(tmp_path, capsys):
    other = OrderUpTo(problem=BIKE.replace(lead_time=52, capacity=None), level=7)
    path = tmp_path / "p.json"
    other.save(path)
    for argv in (["evaluate", str(BIKE_CFG), "--policy", str(path)],
                 ["explain", str(BIKE_CFG), "--policy", str(path), "--state", "3,2"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == ("error: policy.problem.capacity = None: the policy was saved for another "
                       "problem (the config has capacity = 10)\n"), err
    same = tmp_path / "same.json"
    OrderUpTo(problem=BIKE, level=7).save(same)
    assert main(["evaluate", str(BIKE_CFG), "--policy", str(same), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["average_cost"] - 16.823) < 1e-3  # the README's order-up-to figure


def test_table_orders_stay_int64():
    p = TablePolicy(problem=BIKE, states=np.array([[0, 0]]), orders=np.array([3], dtype=np.int32),
                    reduced=False)
    assert p.orders.dtype == np.int64 and p.order([0, 0]) == 3
