"""The method catalogue, ``solve`` and the validation helpers.

Independent facts: the DP is optimal, so no method can beat it on a problem
whose demand model is known; the README's bike-shop figures (optimum 16.1830,
best order-up-to 16.8230, best capped base-stock 16.2569 $/day); under
backorders every unit demanded is eventually sold, so a price shifts the
optimum by exactly ``price · mean demand``; and option types follow from
annotations by the rules in ``replenish.core.validate``'s docstrings (float
accepts TOML integers, tuples are arrays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
import pytest

from replenish import Poisson, Problem, SpecError, WeekdayPoisson, available_methods, solve, solve_dp
from replenish.core.validate import (
    check_keys,
    option_types,
    require,
    require_count,
    require_int,
    require_number,
)
from replenish.solvers.catalogue import METHODS, learners, method_spec, static_methods

BIKE_OPT = 16.1830
NON_LEARNERS = [n for n, m in METHODS.items() if m.family != "learner" and not m.contextual]


# ------------------------------------------------------------------ catalogue
@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_imports_and_its_options_load(name):
    spec = METHODS[name]
    assert spec.name == name and method_spec(name) is spec
    assert callable(spec.function())
    types = spec.option_types()
    assert types, name
    for key, typ in types.items():
        assert isinstance(key, str)
        typs = typ if isinstance(typ, tuple) else (typ,)
        # every option is a TOML value type
        assert set(typs) <= {int, float, str, bool, list, dict}, (key, typ)
    assert spec.summary and "\n" not in spec.summary


@pytest.mark.parametrize("name", list(METHODS))
def test_check_options_rejects_unknown_and_mistyped_keys(name):
    spec = METHODS[name]
    with pytest.raises(SpecError) as exc:
        spec.check_options({"bogus_key": 1})
    msg = str(exc.value)
    assert msg.startswith(f"{name}.bogus_key = 1: unknown key")
    assert "\n" not in msg
    types = spec.option_types()
    for key in types:
        assert key in msg  # the message lists the accepted keys
    # a value of a type no option accepts (a TOML table) is refused, naming key and value
    key = sorted(types)[0]
    with pytest.raises(SpecError) as exc:
        spec.check_options({key: {"x": 1}})
    assert str(exc.value).startswith(f"{name}.{key} = {{'x': 1}}: must be of type")
    # one value of each accepted type passes
    sample = {int: 3, float: 0.5, str: "x", bool: True, list: [1], dict: {}}
    for key, typ in types.items():
        typs = typ if isinstance(typ, tuple) else (typ,)
        for t in typs:
            assert spec.check_options({key: sample[t]}) == {key: sample[t]}


def test_bools_are_not_integers_for_options():
    spec = METHODS["order-up-to"]
    with pytest.raises(SpecError) as exc:
        spec.check_options({"level": True})
    assert str(exc.value).startswith("order-up-to.level = True: must be of type int")
    with pytest.raises(SpecError):
        METHODS["dp"].check_options({"tol": False})
    assert METHODS["sQ"].check_options({"multiples": False}) == {"multiples": False}


def test_method_spec_unknown_name():
    with pytest.raises(SpecError) as exc:
        method_spec("nope")
    msg = str(exc.value)
    assert msg.startswith("method = 'nope': unknown method")
    for name in METHODS:
        assert name in msg
    with pytest.raises(SpecError):
        solve(Problem(demand=Poisson(1), capacity=3), "nope")


def test_classification():
    assert available_methods() == sorted(METHODS)
    from replenish.solvers.catalogue import contextual_methods

    assert set(contextual_methods()) >= {"forecast-base-stock", "lookahead"}
    assert set(learners()) == {"qlearning", "dqn", "dcl"}
    assert set(static_methods()) == {"order-up-to", "capped-base-stock", "sS", "sQ", "constant-order"}
    # the weekday rule is seasonal, the DP exact, the myopic rule a heuristic
    assert METHODS["weekday-base-stock"].family == "classic"
    assert not METHODS["weekday-base-stock"].static
    assert METHODS["dp"].family == "exact" and METHODS["myopic"].family == "heuristic"
    for name, m in METHODS.items():
        assert m.learned == (name in ("qlearning", "dqn", "dcl"))
        if m.static:
            assert m.family == "classic"


# ------------------------------------------------------------------- solve
@pytest.mark.parametrize("name", [n for n in NON_LEARNERS
                                  if n != "weekday-base-stock" and not METHODS[n].contextual
                                  and METHODS[n].products != "perishable"])
def test_solve_never_beats_the_dp_on_the_bike_shop(bike, name):
    r = solve(bike, name)
    assert r.method == name
    assert r.optimal_average_cost == pytest.approx(BIKE_OPT, abs=1e-3)
    assert r.average_cost >= r.optimal_average_cost - 1e-9
    assert r.gap == pytest.approx((r.average_cost - r.optimal_average_cost) / r.optimal_average_cost,
                                  abs=1e-12)
    assert r.gap >= -1e-12
    assert r.evaluation.exact and r.evaluation.ci95 is None
    published = {"dp": BIKE_OPT, "order-up-to": 16.8230, "capped-base-stock": 16.2569}
    if name in published:
        assert r.average_cost == pytest.approx(published[name], abs=1e-3)
    # (s, S) and (s, Q) contain order-up-to (S = s + 1, Q = 1): never worse than 16.8230
    if name in ("sS", "sQ"):
        assert r.average_cost <= 16.8230 + 1e-3
    obj = r.to_json()
    assert obj["method"] == name and obj["exact"] is True and obj["ci95"] is None


def test_weekday_base_stock_on_seasonal_demand_and_refused_on_stationary(bike):
    prob = Problem(demand=WeekdayPoisson((0.5, 0.5, 1.0, 1.0, 2.0, 3.0, 0.0)), lead_time=1,
                   capacity=7, holding_cost=1, stockout_cost=9)
    opt = solve_dp(prob).average_cost
    r = solve(prob, "weekday-base-stock")
    assert r.average_cost >= opt - 1e-9
    assert r.optimal_average_cost == pytest.approx(opt, abs=1e-12)
    ots = solve(prob, "order-up-to")
    assert r.average_cost <= ots.average_cost + 1e-9  # one level per weekday contains one level
    with pytest.raises(SpecError) as exc:
        solve(bike, "weekday-base-stock")
    assert str(exc.value).startswith("method = 'weekday-base-stock':")


@pytest.mark.parametrize("lead", [0, 1, 2])
def test_price_shifts_the_backorder_optimum_by_revenue(lead):
    """Under backorders every unit demanded is sold: a price lowers the optimum by exactly r·λ
    (with L = 0 full and reduced states coincide; with L >= 1 the DP runs on reduced states)."""
    lam, r = 2.5, 2.0
    base = Problem(demand=Poisson(lam), lead_time=lead, excess_demand="backorder", holding_cost=1,
                   stockout_cost=6, fixed_order_cost=4, unit_cost=0.5)
    g0 = solve(base, "dp").average_cost
    g = solve(base.replace(price=r), "dp").average_cost
    assert g == pytest.approx(g0 - r * lam, abs=1e-6)


# ------------------------------------------------------------ option_types
@dataclass
class SmallOptions:
    count: int = 1
    rate: float = 0.5
    sizes: tuple[int, ...] = (64, 64)
    steps: Optional[int] = None  # noqa: UP045
    limit: float | None = None
    mode: Literal["fast", "exact"] = "fast"
    scale: Literal["auto"] | float = "auto"
    flag: bool = False
    label: str = ""
    weights: list[float] = field(default_factory=list)


def test_option_types_from_annotations():
    t = option_types(SmallOptions)
    assert t == {
        "count": int,
        "rate": (int, float),      # a TOML integer fills a float
        "sizes": list,             # tuples are TOML arrays
        "steps": int,              # Optional drops None
        "limit": (int, float),
        "mode": str,               # Literal of strings
        "scale": (str, int, float),
        "flag": bool,
        "label": str,
        "weights": list,
    }
    # the derived table validates like a method table
    ok = {"count": 2, "rate": 1, "sizes": [1, 2], "steps": 5, "mode": "exact", "scale": 2.5,
          "flag": True}
    assert check_keys(ok, t, "small") == ok
    for key, bad in [("count", 2.0), ("count", True), ("rate", "1"), ("sizes", (1, 2)),
                     ("mode", 1), ("flag", 1)]:
        with pytest.raises(SpecError) as exc:
            check_keys({key: bad}, t, "small")
        assert str(exc.value).startswith(f"small.{key} = {bad!r}: must be of type"), (key, bad)


def test_option_types_refuses_annotations_without_a_toml_type():
    @dataclass
    class Bad:
        table: dict[str, int] = field(default_factory=dict)

    with pytest.raises(TypeError):
        option_types(Bad)


# --------------------------------------------------------- validate helpers
@pytest.mark.parametrize("value, kw, message", [
    (True, {}, "x = True: must be an integer"),
    (1.0, {}, "x = 1.0: must be an integer"),
    ("3", {}, "x = '3': must be an integer"),
    (None, {}, "x = None: must be an integer"),
    (-1, {"low": 0}, "x = -1: must be >= 0"),
    (11, {"low": 0, "high": 10}, "x = 11: must be <= 10"),
])
def test_require_int_errors(value, kw, message):
    with pytest.raises(SpecError) as exc:
        require_int(value, "x", **kw)
    assert str(exc.value) == message
    assert exc.value.field == "x" and exc.value.value is value


def test_require_int_accepts():
    assert require_int(0, "x", low=0, high=0) == 0
    assert require_int(-5, "x") == -5


@pytest.mark.parametrize("value, low", [(True, 1), (0, 1), (2.0, 1), ("3", 1), (-1, 0), (None, 1)])
def test_require_count_errors(value, low):
    with pytest.raises(SpecError) as exc:
        require_count(value, "dcl.states", low)
    assert str(exc.value) == f"dcl.states = {value!r}: must be an integer >= {low}"


def test_require_count_accepts_python_and_numpy_integers():
    require_count(1, "x")
    require_count(0, "x", 0)
    require_count(np.int64(7), "x", 2)


@pytest.mark.parametrize("value, kw, message", [
    (True, {}, "y = True: must be a number"),
    ("1.5", {}, "y = '1.5': must be a number"),
    ([1], {}, "y = [1]: must be a number"),
    (float("nan"), {}, "y = nan: must be a finite number"),
    (float("inf"), {}, "y = inf: must be a finite number"),
    (10**400, {}, f"y = {10**400!r}: must be a finite number"),
    (-0.5, {"low": 0}, "y = -0.5: must be >= 0"),
    (2, {"high": 1.5}, "y = 2: must be <= 1.5"),
])
def test_require_number_errors(value, kw, message):
    with pytest.raises(SpecError) as exc:
        require_number(value, "y", **kw)
    assert str(exc.value) == message


def test_require_number_accepts_and_converts():
    x = require_number(3, "y", low=0, high=3)
    assert x == 3.0 and type(x) is float
    assert require_number(-1e300, "y") == -1e300


def test_require_and_spec_error_fields():
    require(True, "a", 1, "never raised")
    with pytest.raises(SpecError) as exc:
        require(False, "problem.x", [1, "b"], "is wrong")
    e = exc.value
    assert (e.field, e.value, e.reason) == ("problem.x", [1, "b"], "is wrong")
    assert str(e) == "problem.x = [1, 'b']: is wrong"
    assert isinstance(e, ValueError)


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if m.contextual])
def test_contextual_methods_without_features_are_one_line_errors(bike, name):
    with pytest.raises(SpecError, match=r"\[features\]"):
        solve(bike, name)
