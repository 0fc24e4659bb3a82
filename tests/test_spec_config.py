"""Every validation error of problems, demand tables and config files.

The README promises: unknown keys, wrong types, negative costs, ``discount``
outside (0, 1) or impossible bounds are reported on one line naming the key
and the value, with exit code 2.  The table below holds one bad input for each
check in ``model/spec.py``, ``model/demand.py`` and ``workflows/config.py``
(and the history table's own checks) and asserts the message starts with
``"<field> = <value repr>:"`` and is one line.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

import pytest

from helpers import DELETE, with_value
from replenish import Poisson, Problem, SpecError
from replenish.cli import main
from replenish.workflows.config import config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[1]
BIKE = tomllib.loads((ROOT / "configs" / "bike_shop.toml").read_text())


def mutate(dotted: str, value: Any) -> dict[str, Any]:
    """The bike-shop config with ``dotted`` (e.g. ``"problem.discount"``) set or deleted."""
    return with_value(BIKE, dotted, value)


def replace_section(section: str, value: Any) -> dict[str, Any]:
    return mutate(section, value)


NAN, INF = float("nan"), float("inf")
WEEK = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
PMF = [0.5, 0.5]

#: (id, data, field, value): the message must start with f"{field} = {value!r}:"
def nested(depth: int) -> Any:
    """``[[..[1]..]]`` with ``depth`` brackets."""
    out: Any = 1
    for _ in range(depth):
        out = [out]
    return out


CASES: list[tuple[str, dict[str, Any], str, Any]] = [
    # ------------------------------------------------------------- [problem] integers
    ("lead_time float", mutate("problem.lead_time", 1.5), "problem.lead_time", 1.5),
    ("lead_time string", mutate("problem.lead_time", "1"), "problem.lead_time", "1"),
    ("lead_time bool", mutate("problem.lead_time", True), "problem.lead_time", True),
    ("lead_time negative", mutate("problem.lead_time", -1), "problem.lead_time", -1),
    ("lead_time too long", mutate("problem.lead_time", 53), "problem.lead_time", 53),
    ("capacity zero", mutate("problem.capacity", 0), "problem.capacity", 0),
    ("capacity float", mutate("problem.capacity", 10.0), "problem.capacity", 10.0),
    ("capacity array", mutate("problem.capacity", [10]), "problem.capacity", [10]),
    ("max_order zero", mutate("problem.max_order", 0), "problem.max_order", 0),
    ("max_order string", mutate("problem.max_order", "all"), "problem.max_order", "all"),
    ("order_multiple zero", mutate("problem.order_multiple", 0), "problem.order_multiple", 0),
    ("order_multiple float", mutate("problem.order_multiple", 2.5), "problem.order_multiple", 2.5),
    ("position_bound zero", mutate("problem", {**{k: v for k, v in BIKE["problem"].items()
                                                  if k != "capacity"}, "position_bound": 0}),
     "problem.position_bound", 0),
    ("backlog_bound negative", mutate("problem.backlog_bound", -1), "problem.backlog_bound", -1),
    ("backlog_bound float", mutate("problem.backlog_bound", 1.0), "problem.backlog_bound", 1.0),
    # ------------------------------------------------------------- [problem] choices
    ("excess_demand", mutate("problem.excess_demand", "maybe"), "problem.excess_demand", "maybe"),
    ("excess_demand array", mutate("problem.excess_demand", ["lost"]), "problem.excess_demand",
     ["lost"]),
    # ------------------------------------------------------------- [problem] perishables
    ("shelf_life zero", mutate("problem.shelf_life", 0), "problem.shelf_life", 0),
    ("shelf_life float", mutate("problem.shelf_life", 2.5), "problem.shelf_life", 2.5),
    ("shelf_life too long", mutate("problem.shelf_life", 31), "problem.shelf_life", 31),
    ("shelf_life with backorders", mutate("problem", {**BIKE["problem"], "shelf_life": 2,
                                                      "excess_demand": "backorder"}),
     "problem.shelf_life", 2),
    ("issuing", mutate("problem", {**BIKE["problem"], "shelf_life": 2, "issuing": "random"}),
     "problem.issuing", "random"),
    ("issuing without shelf_life", mutate("problem.issuing", "lifo"), "problem.issuing", "lifo"),
    ("waste_cost without shelf_life", mutate("problem.waste_cost", 2), "problem.waste_cost", 2),
    ("waste_cost negative", mutate("problem", {**BIKE["problem"], "shelf_life": 2, "waste_cost": -1}),
     "problem.waste_cost", -1),
    # ------------------------------------------------------------- [problem] costs
    *[(f"{c} negative", mutate(f"problem.{c}", -1), f"problem.{c}", -1)
      for c in ("holding_cost", "stockout_cost", "fixed_order_cost", "unit_cost", "price")],
    ("holding_cost negative float", mutate("problem.holding_cost", -0.5), "problem.holding_cost", -0.5),
    ("holding_cost string", mutate("problem.holding_cost", "eight"), "problem.holding_cost", "eight"),
    ("holding_cost bool", mutate("problem.holding_cost", True), "problem.holding_cost", True),
    ("stockout_cost nan", mutate("problem.stockout_cost", NAN), "problem.stockout_cost", NAN),
    ("unit_cost inf", mutate("problem.unit_cost", INF), "problem.unit_cost", INF),
    ("price array", mutate("problem.price", [1]), "problem.price", [1]),
    # ------------------------------------------------------------- [problem] discount
    *[(f"discount {v!r}", mutate("problem.discount", v), "problem.discount", v)
      for v in (0, 1, 0.0, 1.0, 1.5, -0.1, "0.9", True, NAN)],
    # ------------------------------------------------------------- impossible bounds
    ("position_bound vs capacity", mutate("problem.position_bound", 12), "problem.position_bound", 12),
    ("max_order below multiple", mutate("problem", {**BIKE["problem"], "max_order": 2, "order_multiple": 3}),
     "problem.max_order", 2),
    ("capacity below multiple", mutate("problem", {**BIKE["problem"], "capacity": 2, "order_multiple": 3}),
     "problem.capacity", 2),
    # ------------------------------------------------------------- tables and keys
    ("unknown problem key", mutate("problem.colour", 3), "problem.colour", 3),
    ("name in problem table", mutate("problem.name", "x"), "problem.name", "x"),
    ("demand in problem table", mutate("problem.demand", 4), "problem.demand", 4),
    ("problem not a table", replace_section("problem", 3), "problem", 3),
    ("problem array", replace_section("problem", [1, 2]), "problem", [1, 2]),
    ("name not a string", replace_section("name", 3), "name", 3),
    ("missing demand", mutate("demand", DELETE), "demand", None),
    ("demand not a table", replace_section("demand", "poisson"), "demand", "poisson"),
    ("unknown top-level key", replace_section("colour", "red"), "colour", "red"),
    ("unknown table", replace_section("extras", {"a": 1}), "extras", "{...}"),
    *[(f"{s} not a table", replace_section(s, 3), s, 3)
      for s in ("dp", "dqn", "qlearning", "sS", "weekday-base-stock", "compare", "fleet", "tune",
                "simulation", "report", "classic")],
    # ------------------------------------------------------------- [demand]
    ("unknown kind", mutate("demand.kind", "gaussian"), "demand.kind", "gaussian"),
    ("missing kind", mutate("demand.kind", DELETE), "demand.kind", None),
    ("kind number", mutate("demand.kind", 3), "demand.kind", 3),
    ("unknown demand key", mutate("demand.variance", 9), "demand.variance", 9),
    ("missing mean", mutate("demand.mean", DELETE), "demand.mean", None),
    *[(f"poisson mean {v!r}", mutate("demand.mean", v), "demand.mean", v)
      for v in (0, -4, 0.0, 1e6, 2e6, "4", True, NAN, INF, [4])],
    ("nb variance <= mean", replace_section("demand", {"kind": "negative_binomial", "mean": 4,
                                                       "variance": 4}), "demand.variance", 4),
    ("nb variance string", replace_section("demand", {"kind": "negative_binomial", "mean": 4,
                                                      "variance": "9"}), "demand.variance", "9"),
    ("nb missing variance", replace_section("demand", {"kind": "negative_binomial", "mean": 4}),
     "demand.variance", None),
    ("nb mean", replace_section("demand", {"kind": "negative_binomial", "mean": -1, "variance": 9}),
     "demand.mean", -1),
    ("nb key of poisson", replace_section("demand", {"kind": "negative_binomial", "mean": 4,
                                                     "variance": 9, "means": WEEK}),
     "demand.means", WEEK),
    *[(f"empirical {v!r}", replace_section("demand", {"kind": "empirical", "probabilities": v}),
       "demand.probabilities", v)
      for v in ("abc", [], [[0.5, 0.5]], [0.5, 0.6], [-0.5, 1.5], [NAN, 1.0], [0.2, "x"],
                {"a": 1}, 1.0)],
    ("empirical missing", replace_section("demand", {"kind": "empirical"}), "demand.probabilities",
     None),
    *[(f"weekday means {v!r}", replace_section("demand", {"kind": "weekday_poisson", "means": v}),
       "demand.means", v)
      for v in (WEEK[:6], [*WEEK, 1.0], [0.0] * 7, [*WEEK[:6], -1.0], [*WEEK[:6], "7"], "1234567",
                [*WEEK[:6], NAN], 3)],
    ("weekday pmfs count", replace_section("demand", {"kind": "weekday_empirical", "pmfs": [PMF] * 6}),
     "demand.pmfs", [PMF] * 6),
    ("weekday pmfs not a list", replace_section("demand", {"kind": "weekday_empirical", "pmfs": 3}),
     "demand.pmfs", 3),
    ("weekday pmf sum", replace_section("demand", {"kind": "weekday_empirical",
                                                   "pmfs": [PMF] * 3 + [[0.5, 0.4]] + [PMF] * 3}),
     "demand.pmfs[3]", [0.5, 0.4]),
    ("weekday pmf empty", replace_section("demand", {"kind": "weekday_empirical",
                                                     "pmfs": [PMF] * 6 + [[]]}),
     "demand.pmfs[6]", []),
    ("dated start", replace_section("demand", {"kind": "dated", "start": "soon", "pmfs": [PMF]}),
     "demand.start", "soon"),
    ("dated pmfs empty", replace_section("demand", {"kind": "dated", "start": "2024-01-01", "pmfs": []}),
     "demand.pmfs", "…"),
    ("dated pmf sum", replace_section("demand", {"kind": "dated", "start": "2024-01-01",
                                                 "pmfs": [PMF, [0.5, 0.4]]}),
     "demand.pmfs[1]", [0.5, 0.4]),
    ("features without history", mutate("features", {"known_ahead": ["promo"]}), "features", "{...}"),
    # ------------------------------------------------------------- [demand] kind = "history"
    ("history unknown key", replace_section("demand", {"kind": "history", "file": "x.csv",
                                                       "train": ["2016-01-01", "2016-12-31"],
                                                       "test": ["2017-01-01", "2017-12-31"],
                                                       "colour": 1}), "demand.colour", 1),
    ("history missing file", replace_section("demand", {"kind": "history",
                                                        "train": ["2016-01-01", "2016-12-31"],
                                                        "test": ["2017-01-01", "2017-12-31"]}),
     "demand.file", None),
    ("history empty file", replace_section("demand", {"kind": "history", "file": "",
                                                      "train": ["2016-01-01", "2016-12-31"],
                                                      "test": ["2017-01-01", "2017-12-31"]}),
     "demand.file", ""),
    ("history filter", replace_section("demand", {"kind": "history", "file": "x.csv", "filter": 3,
                                                  "train": ["2016-01-01", "2016-12-31"],
                                                  "test": ["2017-01-01", "2017-12-31"]}),
     "demand.filter", 3),
    ("history problem not a table", {**replace_section("demand", {"kind": "history"}), "problem": 7},
     "problem", 7),
    # ------------------------------------------------------------- whole-file checks
    # depth: the file 0, [dqn] 1, hidden 2, hidden[0] 3, ..: the 17th level is refused
    ("nested too deeply", {**BIKE, "dqn": {"hidden": nested(20)}}, "dqn.hidden" + "[0]" * 15,
     "[...]"),
    ("option integer past 64 bits", {**BIKE, "dqn": {"steps": 2**70}}, "dqn.steps",
     2**70),
    ("option NaN", {**BIKE, "dqn": {"lr": float("nan")}}, "dqn.lr", float("nan")),
    ("option inf", {**BIKE, "qlearning": {"alpha": float("-inf")}}, "qlearning.alpha",
     float("-inf")),
]


def check_message(exc: SpecError, field: str, value: Any) -> None:
    msg = str(exc)
    # nan != nan: compare the repr, which is what the message shows
    assert msg.startswith(f"{field} = {value!r}: "), msg
    assert "\n" not in msg and len(msg.splitlines()) == 1
    assert exc.field == field
    assert repr(exc.value) == repr(value)
    assert exc.reason


@pytest.mark.parametrize("data, field, value", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_config_errors_name_field_and_value(data, field, value):
    with pytest.raises(SpecError) as exc:
        config_from_dict(data)
    check_message(exc.value, field, value)


def reason_texts(path: Path) -> set[str]:
    """The fixed text of each ``require(..., reason)`` / ``SpecError(..., reason)`` in ``path``
    (an f-string up to its first placeholder)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        pos = {"require": 3, "SpecError": 2}.get(node.func.id)
        if pos is None or len(node.args) <= pos:
            continue
        arg = node.args[pos]
        if isinstance(arg, ast.JoinedStr):
            arg = arg.values[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            out.add(arg.value)
    return out


def test_the_table_covers_every_check():
    """Each check of the three modules (by its reason text) is hit by some case."""
    from replenish.model import demand as demand_mod
    from replenish.model import spec as spec_mod
    from replenish.workflows import config as config_mod

    texts = set()
    for mod in (spec_mod, demand_mod, config_mod):
        texts |= reason_texts(Path(mod.__file__))
    # reached outside config_from_dict; each has its own test: pmf(tail=...) (test_demand),
    # Problem(demand=4) and the file errors (below)
    texts -= {"tail mass must be in [0, 1e-3)", "must be a demand model", "no such file",
              "cannot read (", "invalid TOML: ", "not UTF-8 text (byte ", "larger than ",
              "invalid TOML: nested too deeply",
              # reached when a method asks for the bound or the pmf (test_resource_guards.py)
              "the inventory position bound exceeds the limit of ", "the demand pmf would need ",
              "demand over ",
              # DatedDemand built from arrays (forecasts), never from TOML lists (test_context.py)
              "each day's probabilities must sum to 1", "must be (days, M + 1)",
              "too large (more than 5e7 values)", "outside the "}
    assert len(texts) >= 25
    hit = set()
    for _, data, _, _ in CASES:
        with pytest.raises(SpecError) as exc:
            config_from_dict(data)
        hit.add(exc.value.reason)
    missing = sorted(t for t in texts if not any(r.startswith(t) for r in hit))
    assert not missing, missing


#: the cases Problem.from_dict sees too (not the optional tables, not history files)
PROBLEM_CASES = [c for c in CASES if c[2].startswith(("problem.", "demand")) and "history" not in c[0]]


@pytest.mark.parametrize("data, field, value", [c[1:] for c in PROBLEM_CASES],
                         ids=[c[0] for c in PROBLEM_CASES])
def test_problem_from_dict_gives_the_same_errors(data, field, value):
    with pytest.raises(SpecError) as exc:
        Problem.from_dict(data)
    check_message(exc.value, field, value)


@pytest.mark.parametrize("kwargs, field, value", [
    (dict(demand=4), "demand", 4),
    (dict(demand=Poisson(1), lead_time=None), "problem.lead_time", None),
    (dict(demand=Poisson(1), name=None), "name", None),
    (dict(demand=Poisson(1), holding_cost=-2), "problem.holding_cost", -2),
    (dict(demand=Poisson(1), capacity=5, position_bound=5, max_order=0), "problem.max_order", 0),
])
def test_problem_constructor_errors(kwargs, field, value):
    with pytest.raises(SpecError) as exc:
        Problem(**kwargs)
    check_message(exc.value, field, value)


def test_from_dict_rejects_a_non_table():
    with pytest.raises(SpecError) as exc:
        Problem.from_dict([1, 2])
    check_message(exc.value, "config", [1, 2])


def test_valid_edge_values_are_accepted():
    ok = mutate("problem", {**BIKE["problem"], "discount": 1e-9, "holding_cost": 0, "price": 0.0,
                    "lead_time": 0, "capacity": 1, "order_multiple": 1, "backlog_bound": 0})
    assert config_from_dict(ok).problem.discount == 1e-9
    cap = mutate("problem.position_bound", 10)  # equal to the capacity: consistent
    assert config_from_dict(cap).problem.bound == 10
    assert config_from_dict(mutate("problem.lead_time", 52)).problem.lead_time == 52
    assert config_from_dict(mutate("demand.mean", 999_999)).problem.demand.mean == 999_999


# ----------------------------------------------------------------- TOML files
def test_load_config_missing_file(tmp_path):
    path = tmp_path / "none.toml"
    with pytest.raises(SpecError) as exc:
        load_config(path)
    check_message(exc.value, "config", str(path))
    assert exc.value.reason == "no such file"


def test_load_config_directory(tmp_path):
    with pytest.raises(SpecError) as exc:
        load_config(tmp_path)
    check_message(exc.value, "config", str(tmp_path))
    assert exc.value.reason.startswith("cannot read")


@pytest.mark.parametrize("text", ["[demand", "name = ", "a = 1\na = 2", 'x = "unterminated',
                                  "[problem]\n[problem]\n"])
def test_load_config_bad_toml(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as exc:
        load_config(path)
    check_message(exc.value, "config", str(path))
    assert exc.value.reason.startswith("invalid TOML")


def test_load_config_round_trip_of_the_bike_shop():
    cfg = load_config(ROOT / "configs" / "bike_shop.toml")
    assert cfg.problem == Problem(demand=Poisson(4), lead_time=1, capacity=10, holding_cost=8,
                                  stockout_cost=10, discount=0.9, name="bike-shop")
    assert config_from_dict(cfg.problem.to_dict()).problem == cfg.problem
    assert cfg.section("dqn") == {} and cfg.path.name == "bike_shop.toml"


# ------------------------------------------------------------- known holes
HUGE = 10**400  # a valid TOML integer for tomllib, too large for a float


@pytest.mark.parametrize("data, field", [
    (mutate("problem.holding_cost", HUGE), "problem.holding_cost"),
    (mutate("problem.discount", HUGE), "problem.discount"),
    (mutate("demand.mean", HUGE), "demand.mean"),
    (replace_section("demand", {"kind": "negative_binomial", "mean": 4, "variance": HUGE}),
     "demand.variance"),
    (replace_section("demand", {"kind": "weekday_poisson", "means": [HUGE, *WEEK[1:]]}),
     "demand.means"),
])
def test_integers_too_large_for_a_float(data, field):
    assert tomllib.loads(f"x = {HUGE}")["x"] == HUGE  # reachable from a config file
    with pytest.raises(SpecError) as exc:
        config_from_dict(data)
    assert str(exc.value).startswith(f"{field} = ")
    assert "\n" not in str(exc.value)


def test_probabilities_too_large_for_a_float():
    data = replace_section("demand", {"kind": "empirical", "probabilities": [HUGE, 0]})
    with pytest.raises(SpecError) as exc:
        config_from_dict(data)
    check_message(exc.value, "demand.probabilities", [HUGE, 0])


@pytest.mark.parametrize("kind", [["poisson"], {"a": 1}])
def test_unhashable_demand_kind(kind):
    with pytest.raises(SpecError) as exc:
        config_from_dict(mutate("demand.kind", kind))
    check_message(exc.value, "demand.kind", kind)


def test_load_config_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(SpecError) as exc:
        load_config(path)
    check_message(exc.value, "config", str(path))


# ---------------------------------------------------------------------- CLI
CLI_CASES = [
    ("discount = 0.9", "discount = 1.5", "problem.discount = 1.5: "),
    ("holding_cost = 8", "holding_cost = -1", "problem.holding_cost = -1: "),
    ("capacity = 10", "capacity = 10\nmax_order = 0", "problem.max_order = 0: "),
    ('kind = "poisson"', 'kind = "normal"', "demand.kind = 'normal': "),
    ("mean = 4", "mean = 4\nsd = 2", "demand.sd = 2: "),
    ("[demand]", "[extras]\na = 1\n[demand]", "extras = '{...}': "),
    ('name = "bike-shop"', 'name = "bike-shop"\ndqn = 3', "dqn = 3: "),
]


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("old, new, start", CLI_CASES)
def test_cli_exit_2_with_one_line(capsys, tmp_path, old, new, start):
    text = (ROOT / "configs" / "bike_shop.toml").read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    code, out, err = run_cli(capsys, ["solve", str(path), "--method", "dp", "--json"])
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + start), err


def test_cli_missing_and_invalid_files(capsys, tmp_path):
    missing = tmp_path / "none.toml"
    code, _, err = run_cli(capsys, ["solve", str(missing), "--method", "dp"])
    assert code == 2 and err.splitlines() == [f"error: config = {str(missing)!r}: no such file"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[demand\n")
    code, _, err = run_cli(capsys, ["evaluate", str(bad), "--policy", str(tmp_path / "p.json")])
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"error: config = {str(bad)!r}: invalid TOML")


def test_cli_unknown_option_key(capsys, tmp_path):
    text = (ROOT / "configs" / "bike_shop.toml").read_text() + "\n[dp]\nobjectiv = \"average\"\n"
    path = tmp_path / "c.toml"
    path.write_text(text)
    code, out, err = run_cli(capsys, ["solve", str(path), "--method", "dp"])
    assert code == 2 and out == ""
    assert err.splitlines()[0].startswith("error: dp.objectiv = 'average': unknown key")
    assert len(err.splitlines()) == 1


# ------------------------------------------------------------- hostile files
@pytest.mark.parametrize("text, reason", [
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "invalid TOML: nested too deeply"),
    ("a = " + "[" * 40 + "]" * 40 + "\n", "nested deeper than 16 tables/arrays"),
    ("name = 'x'\n[problem]\nlead_time = 1" + "0" * 5000 + "\n",
     "invalid TOML: Exceeds the limit (4300 digits) for integer string conversion"),
    ("# " + "x" * 1_000_001 + "\n", "larger than 1000000 bytes: not a config"),
])
def test_hostile_config_files_give_one_line(tmp_path, capsys, text, reason):
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["solve", str(path), "--method", "order-up-to", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    field = "a" if "deeper" in reason else "config"
    expected_value = "'[...]'" if "deeper" in reason else repr(str(path))
    assert err.startswith(f"error: {field}") and err.rstrip().endswith(reason), err
    if "deeper" not in reason:
        assert err.startswith(f"error: config = {expected_value}: {reason}"), err


def test_integer_past_64_bits_in_an_option_is_shown_by_its_digits():
    with pytest.raises(SpecError) as exc:
        config_from_dict({**BIKE, "dqn": {"steps": HUGE}})
    assert str(exc.value) == ("dqn.steps = '<integer with 401 digits>': "
                              "integer out of range (must fit 64 bits)")
