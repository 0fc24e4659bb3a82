"""Resource guards: bounds derived from the demand, refusals before allocating."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from replenish import NegativeBinomial, Poisson, Problem, SpecError
from replenish.cli import main
from replenish.model.spec import BOUND_LIMIT

ROOT = Path(__file__).resolve().parents[1]
BIKE = (ROOT / "configs" / "bike_shop.toml").read_text()


def test_bound_is_the_smaller_of_capacity_and_the_demand_bound():
    # demand over L + 1 = 2 days is Poisson(8): its 1 - 1e-6 quantile, plus m = 1
    q = int(stats.poisson(8).ppf(1 - 1e-6))
    big = Problem(demand=Poisson(4), lead_time=1, capacity=1_000_000)
    assert big.bound in (q + 1, q + 2)  # the pmf is truncated at 1e-12: the quantile of ±1
    assert not big.capacity_binds
    small = Problem(demand=Poisson(4), lead_time=1, capacity=10)
    assert small.bound == 10 and small.capacity_binds


@pytest.mark.slow
def test_capacity_of_a_million_solves_at_once(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(BIKE.replace("capacity = 10 ", "capacity = 1000000\nmax_order = 1000000000000 "))
    for method in ("order-up-to", "dp"):
        t0 = time.perf_counter()
        assert main(["solve", str(cfg), "--method", method, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert time.perf_counter() - t0 < 60
        # the capacity never binds: the optimum equals the one without a capacity
        free = Problem(demand=Poisson(4), lead_time=1, holding_cost=8, stockout_cost=10,
                       discount=0.9)
        assert out["average_cost"] <= 16.83 and math.isfinite(out["average_cost"])
        assert free.bound == Problem(demand=Poisson(4), lead_time=1, capacity=10**6).bound


@pytest.mark.parametrize("capacity, field, value", [
    # a capacity past the limit, below the (infinite) demand bound
    (BOUND_LIMIT + 1, "problem.capacity", BOUND_LIMIT + 1),
    (None, "problem.fixed_order_cost", 1e300),  # K/h makes the EOQ allowance infinite
])
def test_a_bound_past_the_limit_is_refused(capacity, field, value):
    p = Problem(demand=Poisson(4), lead_time=1, capacity=capacity, fixed_order_cost=1e300,
                holding_cost=0)
    with pytest.raises(SpecError) as exc:
        _ = p.bound
    assert str(exc.value) == (f"{field} = {value!r}: the inventory position bound exceeds the "
                              f"limit of {BOUND_LIMIT} units: give a smaller capacity or "
                              "position_bound")


def test_a_dispersed_negative_binomial_is_refused_before_allocating():
    d = NegativeBinomial(mean=4, variance=1e12)
    with pytest.raises(SpecError) as exc:
        d.pmf()
    msg = str(exc.value)
    assert msg.startswith("demand.variance = 1000000000000.0: the demand pmf would need ")
    n, q = 16 / (1e12 - 4), 4 / 1e12
    points = float(stats.nbinom(n, q).isf(1e-12))  # independent of the code's parametrisation
    assert f"{points + 3:.4g}" in msg and "\n" not in msg


def test_negative_binomial_in_a_config_gives_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(BIKE.replace('kind = "poisson"', 'kind = "negative_binomial"\nvariance = 1e12'))
    assert main(["solve", str(cfg), "--method", "order-up-to", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: demand.variance = 1000000000000.0: the demand pmf would need ")


def test_multi_period_pmf_refuses_an_enormous_support():
    from replenish.model.demand import MULTI_SUPPORT_LIMIT, multi_period_pmf

    d = Poisson(900_000)
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        multi_period_pmf(d, 40)
    assert time.perf_counter() - t0 < 10  # refused before convolving
    assert exc.value.field == "demand"
    assert f"spans more than {MULTI_SUPPORT_LIMIT} units" in exc.value.reason


def test_fft_convolution_matches_the_closed_form():
    from replenish.model.demand import multi_period_pmf

    pmf = multi_period_pmf(Poisson(3000.0), 4)  # 4 x ~3300 points: the FFT path
    k = np.arange(len(pmf))
    exact = stats.poisson(12000).pmf(k)
    assert np.abs(pmf - exact).max() < 1e-9


def test_position_bound_is_capped_by_the_demand_bound_too():
    p = Problem(demand=Poisson(4), lead_time=1, position_bound=1_000_000)
    assert p.bound == Problem(demand=Poisson(4), lead_time=1).bound < 100


def test_dp_refuses_before_allocating_past_its_memory_limit():
    from replenish.solvers.dp import DP_MEMORY_LIMIT, optimal_average_cost, solve_dp

    p = Problem(demand=Poisson(2000), lead_time=1)
    with pytest.raises(SpecError) as exc:
        solve_dp(p)
    msg = str(exc.value)
    assert msg.startswith(f"problem.bound = {p.bound}: the DP needs about ") and "GiB" in msg
    assert f"limit {DP_MEMORY_LIMIT / 2**30:g} GiB" in msg and "--method dqn" in msg
    assert optimal_average_cost(p) is None  # solve's gap: null instead of an error


CAPACITY_METHODS = [
    ("order-up-to", []), ("sS", []), ("sQ", []), ("capped-base-stock", []), ("constant-order", []),
    ("myopic", []), ("dp", []),
    pytest.param("qlearning", ["--steps", "200000"], marks=pytest.mark.slow),
    pytest.param("dqn", ["--steps", "2000"], marks=pytest.mark.slow),
]


@pytest.mark.parametrize("method, extra", CAPACITY_METHODS)
def test_capacity_of_a_million_every_method_solves_with_the_demand_bound(tmp_path, capsys, method, extra):
    """``capacity = 1000000`` on the bike shop: every method that takes the problem solves it
    in seconds, exactly as without a capacity (the same demand-derived bound), and says
    that the capacity is far above the bound."""
    big, free = tmp_path / "big.toml", tmp_path / "free.toml"
    big.write_text(BIKE.replace("capacity = 10 ", "capacity = 1000000 "))
    free.write_text(BIKE.replace("capacity = 10 ", "# no capacity "))
    t0 = time.perf_counter()
    assert main(["solve", str(big), "--method", method, *extra, "--json"]) == 0
    seconds = time.perf_counter() - t0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    bound = Problem(demand=Poisson(4), lead_time=1).bound
    assert captured.err == (f"note: problem.capacity = 1000000 is far above what the demand can use; "
                            f"positions are bounded at {bound} units (the demand-derived bound)\n")
    assert seconds < 60, seconds
    assert main(["solve", str(free), "--method", method, *extra, "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert out["average_cost"] == ref["average_cost"] and out["params"] == ref["params"]
    assert math.isfinite(out["average_cost"]) and out["average_cost"] >= 16.18


def test_capacity_of_a_million_weekday_base_stock_refuses_at_once(tmp_path, capsys):
    big = tmp_path / "big.toml"
    big.write_text(BIKE.replace("capacity = 10 ", "capacity = 1000000 "))
    t0 = time.perf_counter()
    assert main(["solve", str(big), "--method", "weekday-base-stock", "--json"]) == 2
    assert time.perf_counter() - t0 < 5
    assert capsys.readouterr().err == ("error: method = 'weekday-base-stock': needs seasonal (weekday) "
                                       "demand; use order-up-to for stationary demand\n")


WIDE = dict(demand=NegativeBinomial(mean=2000, variance=4e7), lead_time=1, holding_cost=1,
            stockout_cost=9)  # 450,732 demand values a day, bound 207,053


def test_exact_classic_search_estimates_its_time_and_refuses_an_absurd_one():
    from replenish.solvers.catalogue import solve
    from replenish.solvers.classic.common import EXACT_SEARCH_SECONDS
    from replenish.solvers.classic.search import estimate_exact_search

    bike = Problem(demand=Poisson(4), lead_time=1, capacity=10)
    seconds, evaluations, states, support = estimate_exact_search(bike, "sS")
    assert evaluations == (2 * math.ceil(math.log2(bike.bound + 2)) + 6) ** 2 // 2
    assert seconds < 0.1 and states == math.comb(12, 2) and support == len(bike.demand.pmf(0, tail=1e-12))
    wide = Problem(**WIDE)
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        solve(wide, "sS", options={"search": "exact"})
    assert time.perf_counter() - t0 < 10  # refused before any chain is built
    msg = str(exc.value)
    assert msg.startswith(f"problem.bound = {wide.bound}: the exact sS search would take about ")
    assert f"limit {EXACT_SEARCH_SECONDS:g} s" in msg and 'search = "simulation"' in msg
    assert "\n" not in msg


def test_exact_evaluation_refuses_a_chain_past_its_transition_limit_before_allocating():
    from replenish.evaluation.markov import CHAIN_TRANSITION_LIMIT, evaluate_exact
    from replenish.policies.classic import OrderUpTo

    wide = Problem(**WIDE)
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as exc:  # was: numpy tried to allocate 27.1 GiB
        evaluate_exact(wide, OrderUpTo(problem=wide, level=5000), max_states=10**7)
    assert time.perf_counter() - t0 < 30
    assert exc.value.field == "problem.bound"
    assert f"more than {CHAIN_TRANSITION_LIMIT:,} transitions" in exc.value.reason
