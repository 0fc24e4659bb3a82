"""The matrix-free DP against the explicit DP, brute force, closed forms and its own ranking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from replenish import Empirical, Poisson, Problem, WeekdayEmpirical, WeekdayPoisson, solve_dp
from replenish.core.validate import SpecError
from replenish.model.statespace import StateSpace
from replenish.solvers.dp_matrix_free import (
    RankedSpace,
    check_factorisation,
    check_memory,
    evaluate_matrix_free,
    morton_bound,
    period_tables,
    solve_matrix_free,
)

SMALL = {
    "L0-lost": Problem(demand=Poisson(3), lead_time=0, holding_cost=1, stockout_cost=4),
    "L1-lost": Problem(demand=Poisson(3), lead_time=1, holding_cost=1, stockout_cost=9),
    "L2-lost": Problem(demand=Poisson(2), lead_time=2, holding_cost=1, stockout_cost=9),
    "L3-lost": Problem(demand=Poisson(1.5), lead_time=3, holding_cost=1, stockout_cost=19),
    "L0-backorder": Problem(demand=Poisson(3), lead_time=0, holding_cost=1, stockout_cost=4,
                            excess_demand="backorder"),
    "L2-backorder": Problem(demand=Poisson(2), lead_time=2, holding_cost=1, stockout_cost=9,
                            excess_demand="backorder"),
    "L1-weekday": Problem(demand=WeekdayPoisson((3, 3, 3, 4, 6, 9, 5)), lead_time=1,
                          capacity=25, holding_cost=1, stockout_cost=9),
    "L2-weekday-backorder": Problem(demand=WeekdayPoisson((1, 1, 2, 3, 2, 1, 1)), lead_time=2,
                                    holding_cost=1, stockout_cost=9, excess_demand="backorder"),
    "L1-sparse-weekday": Problem(demand=WeekdayEmpirical([(0.5, 0, 0, 0.5)] * 5
                                                          + [(0.2, 0, 0, 0, 0, 0.8)] * 2),
                                 lead_time=1, holding_cost=1, stockout_cost=9),
    "L2-K-price": Problem(demand=Poisson(2), lead_time=2, holding_cost=1, stockout_cost=5,
                          fixed_order_cost=4, unit_cost=1, price=3),
    "L2-pack-cap": Problem(demand=Poisson(4), lead_time=2, holding_cost=1, stockout_cost=9,
                           order_multiple=3, max_order=9),
    "L3-capacity": Problem(demand=Poisson(2), lead_time=3, capacity=8, holding_cost=1,
                           stockout_cost=9),
}


# ------------------------------------------------------------------ ranking
@pytest.mark.parametrize("name", sorted(SMALL))
def test_ranking_enumerates_the_state_space_once(name):
    prob = SMALL[name]
    space = RankedSpace.of(prob)
    states = space.states()
    ref = StateSpace(prob, reduced=True)
    assert space.n_states == ref.count() == RankedSpace.count(prob)[0]
    assert np.array_equal(np.sort(ref.encode(states)), ref.encode(ref.enumerate()))
    assert np.array_equal(space.index(states), np.arange(space.n_states))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_factorised_period_equals_transition_exhaustively(name):
    """Every (state, feasible order, demand) triple: successor and cost as the sweeps
    compose them = transition → reduce_state → clip_backlog."""
    prob = SMALL[name]
    space = RankedSpace.of(prob)
    n = check_factorisation(prob, space, period_tables(prob), exhaustive=True)
    assert n > space.n_states


def test_the_check_catches_a_broken_table():
    prob = SMALL["L2-lost"]
    space = RankedSpace.of(prob)
    t = period_tables(prob)
    t.succ_net[5] += 1  # a wrong net inventory in one entry
    with pytest.raises(RuntimeError, match=r"disagrees with replenish\.dynamics\.transition"):
        check_factorisation(prob, space, t, exhaustive=True)


# ----------------------------------------------------- same optimum as explicit
@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("objective", ["average", "discounted"])
def test_matrix_free_equals_explicit_dp(name, objective):
    prob = SMALL[name]
    ex = solve_dp(prob, objective=objective, engine="explicit", tol=1e-11)
    mf = solve_dp(prob, objective=objective, engine="matrix-free", tol=1e-11)
    assert mf.engine == "matrix-free" and ex.engine == "explicit"
    assert mf.average_cost == pytest.approx(ex.average_cost, rel=1e-9, abs=1e-9)
    assert np.array_equal(mf.policy.states, ex.policy.states)
    if objective == "discounted":  # values are unique: compare them state by state
        np.testing.assert_allclose(mf.values, ex.values, rtol=1e-8, atol=1e-8)
    else:
        lo, hi = mf.gain_bounds
        assert lo - 1e-9 <= ex.average_cost <= hi + 1e-9


def test_engine_auto_and_bad_engine():
    assert solve_dp(SMALL["L1-lost"]).engine == "explicit"
    big = Problem(demand=Poisson(5), lead_time=3, holding_cost=1, stockout_cost=19)
    assert StateSpace(big, reduced=True).count() >= 10_000
    r = solve_dp(big)
    assert r.engine == "matrix-free" and r.action_bound == morton_bound(big)
    assert r.average_cost == pytest.approx(8.36, abs=0.006)  # Zipkin (2008), Table 1
    with pytest.raises(SpecError, match=r"dp\.engine"):
        solve_dp(big, engine="sparse")


# --------------------------------------------------------------- brute force
def _brute_force_l1(pmf, cap, h, p):
    """Every deterministic policy of a tiny L = 1 lost-sales problem, written out
    independently: state y = stock on the shelf tomorrow morning; order a with
    y + a <= cap arrives the day after; y' = (y − D)^+ + a."""
    n = cap + 1
    best = np.inf
    for pol in itertools.product(*[range(cap - y + 1) for y in range(n)]):
        P = np.zeros((n, n))
        c = np.zeros(n)
        for y in range(n):
            for d, pd in enumerate(pmf):
                P[y, max(y - d, 0) + pol[y]] += pd
                c[y] += pd * (h * max(y - d, 0) + p * max(d - y, 0))
        A = np.vstack([P.T - np.eye(n), np.ones(n)])
        pi = np.linalg.lstsq(A, np.r_[np.zeros(n), 1.0], rcond=None)[0]
        best = min(best, float(pi @ c))
    return best


@pytest.mark.parametrize("pmf, h, p", [((0.3, 0.5, 0.2), 1.0, 4.0), ((0.5, 0.0, 0.0, 0.5), 1.0, 6.0),
                                       ((0.1, 0.2, 0.3, 0.4), 2.0, 9.0)])
def test_matrix_free_matches_brute_force(pmf, h, p):
    cap = 4
    prob = Problem(demand=Empirical(pmf), lead_time=1, capacity=cap, holding_cost=h,
                   stockout_cost=p)
    r = solve_matrix_free(prob, tol=1e-12)
    assert r.best_bounds[0] - 1e-9 <= _brute_force_l1(pmf, cap, h, p) <= r.best_bounds[1] + 1e-9


# ------------------------------------------------------------ action bound
def test_morton_bound_is_the_newsvendor_fractile():
    """S̄ = smallest S with P(D_1 + .. + D_{L+1} <= S) > p/(p + h) (scipy, independently)."""
    for L, p in [(0, 4), (1, 9), (3, 19), (5, 39)]:
        prob = Problem(demand=Poisson(5), lead_time=L, holding_cost=1, stockout_cost=p)
        s = morton_bound(prob)
        mu = 5 * (L + 1)
        assert stats.poisson.cdf(s, mu) > p / (p + 1) >= stats.poisson.cdf(s - 1, mu)
    # not applied where the theorem does not hold
    for kw in ({"fixed_order_cost": 1}, {"unit_cost": 1}, {"order_multiple": 2},
               {"max_order": 30}, {"capacity": 5}):
        assert morton_bound(Problem(demand=Poisson(5), lead_time=2, holding_cost=1,
                                    stockout_cost=9, **kw)) is None
    assert morton_bound(SMALL["L1-weekday"]) is None
    assert morton_bound(SMALL["L2-lost"], "discounted") is None


@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("p", [4, 9, 19, 39])
@pytest.mark.parametrize("excess", ["lost", "backorder"])
def test_action_bound_keeps_the_optimum(L, p, excess):
    """Zipkin's instances: the full action set and the bounded one give the same optimal gain."""
    prob = Problem(demand=Poisson(5), lead_time=L, holding_cost=1, stockout_cost=p,
                   excess_demand=excess, position_bound=None if L < 3 else 35)
    cut = solve_matrix_free(prob, action_bound="auto", tol=1e-10)
    full = solve_matrix_free(prob, action_bound="none", tol=1e-10)
    assert cut.action_bound is not None and full.action_bound is None
    assert cut.gain == pytest.approx(full.gain, rel=2e-10)
    # and the position bound S̄ loses nothing: the set {position <= S̄} is closed
    closed = solve_matrix_free(Problem(demand=Poisson(5), lead_time=L, holding_cost=1,
                                       stockout_cost=p, excess_demand=excess,
                                       position_bound=cut.action_bound), tol=1e-10)
    assert closed.gain == pytest.approx(full.gain, rel=2e-10)


@pytest.mark.slow
@pytest.mark.parametrize("p", [4, 9, 19, 39])
def test_action_bound_keeps_the_optimum_l4(p):
    prob = Problem(demand=Poisson(5), lead_time=4, holding_cost=1, stockout_cost=p,
                   position_bound=45)
    cut = solve_matrix_free(prob, action_bound="auto", tol=1e-10)
    full = solve_matrix_free(prob, action_bound="none", tol=1e-10)
    assert cut.gain == pytest.approx(full.gain, rel=2e-10)


# ------------------------------------------------------- policy evaluation
def test_evaluate_matrix_free_equals_exact_chain():
    from replenish import OrderUpTo, evaluate_exact

    prob = Problem(demand=Poisson(3), lead_time=2, holding_cost=1, stockout_cost=9)
    pol = OrderUpTo(problem=prob, level=11)
    r = evaluate_matrix_free(prob, pol.act, tol=1e-11)
    g = evaluate_exact(prob, pol).average_cost
    assert r.best_bounds[0] - 1e-9 <= g <= r.best_bounds[1] + 1e-9
    # a table over the ranked states gives the same
    r2 = evaluate_matrix_free(prob, r.orders, tol=1e-11)
    assert r2.gain == pytest.approx(r.gain, abs=1e-9)
    with pytest.raises(SpecError, match="orders"):
        evaluate_matrix_free(prob, r.orders[:-1])


# ------------------------------------------------------------ memory, Ctrl-C
def test_memory_estimate_refuses_before_allocating():
    prob = Problem(demand=Poisson(5), lead_time=8, holding_cost=1, stockout_cost=9)
    with pytest.raises(SpecError, match=r"problem\.bound.*GiB"):
        check_memory(prob)
    est = check_memory(SMALL["L2-lost"])
    assert est.states == RankedSpace.of(SMALL["L2-lost"]).n_states and est.bytes > 0


def test_interrupt_keeps_the_tightest_bracket():
    prob = Problem(demand=Poisson(5), lead_time=3, holding_cost=1, stockout_cost=19)
    seen = []

    def stop(it, lo, hi):
        seen.append((lo, hi))
        if it == 4:
            raise KeyboardInterrupt

    r = solve_matrix_free(prob, progress=stop)
    assert r.interrupted and not r.converged and r.iterations == 4
    assert r.best_bounds == (max(s[0] for s in seen), min(s[1] for s in seen))
    assert r.best_bounds[0] <= 8.3625103 <= r.best_bounds[1]  # the optimum (converged run)


def test_serial_and_threaded_sweeps_are_cached_apart():
    """numba's cache key ignores ``parallel``: the two variants must be distinct functions."""
    from replenish.solvers import dp, dp_matrix_free

    for mod, names in ((dp, ("build", "compact", "bellman", "evaluate")),
                       (dp_matrix_free, ("bellman", "evaluate", "shift"))):
        for n in names:
            serial, threaded = getattr(mod, f"_{n}_serial"), getattr(mod, f"_{n}_parallel")
            assert serial.py_func.__qualname__ != threaded.py_func.__qualname__
            assert threaded.targetoptions.get("parallel") and not serial.targetoptions.get("parallel")


def test_cli_refuses_a_dp_that_would_not_fit_in_one_line(capsys, tmp_path):
    from replenish.cli import main

    cfg = tmp_path / "l8.toml"
    cfg.write_text('[problem]\nlead_time = 8\nholding_cost = 1\nstockout_cost = 9\n'
                   '[demand]\nkind = "poisson"\nmean = 5\n')
    code = main(["solve", str(cfg), "--method", "dp", "--out", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: problem.bound = ") and "GiB" in err and "states" in err
    assert not (tmp_path / "out").exists()


def test_cli_dp_reports_the_engine_and_the_memory_estimate(capsys, tmp_path):
    import json

    from replenish.cli import main

    cfg = tmp_path / "l3.toml"
    cfg.write_text('[problem]\nlead_time = 3\nholding_cost = 1\nstockout_cost = 19\n'
                   '[demand]\nkind = "poisson"\nmean = 5\n')
    code = main(["solve", str(cfg), "--method", "dp", "--json"])
    out, err = capsys.readouterr()
    res = json.loads(out)
    assert code == 0 and res["extras"]["engine"] == "matrix-free"
    assert res["average_cost"] == pytest.approx(8.3625103, abs=1e-6)
    assert err == ""  # --json: no progress
    code = main(["solve", str(cfg), "--method", "dp"])
    out, err = capsys.readouterr()
    assert code == 0 and "8.3625" in out
    # the estimate opens the progress output, before the first sweep
    assert "dp (matrix-free, 18,424 states, about " in err and "GiB" in err and "sweep" in err
