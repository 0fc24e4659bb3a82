"""State-space enumeration and indexing against brute-force enumeration.

The feasible states are written out independently: net inventory in
``[min_net_inventory, B]``, each pipeline slot a multiple of ``m`` of at most
``max_order_units``, on hand plus pipeline at most ``B`` (the capacity rule),
times the phases of seasonal demand.  Reduced states are the projections
``(α + β_1, β_2, ..)`` of the full ones.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from replenish import Poisson, Problem, SpecError, WeekdayPoisson
from replenish.model.statespace import StateSpace


def brute_force_full(p: Problem) -> set[tuple[int, ...]]:
    B, m, lo = p.bound, p.order_multiple, p.min_net_inventory
    slot = range(0, p.max_order_units + 1, m)
    phases = range(p.period) if p.seasonal else [None]
    out = set()
    for first, *pipe in itertools.product(range(lo, B + 1), *[slot] * p.lead_time):
        if first + sum(pipe) <= B:
            for w in phases:
                out.add((first, *pipe) if w is None else (first, *pipe, w))
    return out


def brute_force_reduced(p: Problem) -> set[tuple[int, ...]]:
    if p.lead_time == 0:
        return brute_force_full(p)
    return {(s[0] + s[1], *s[2:]) for s in brute_force_full(p)}


PROBLEMS = {
    "lost-L0-cap": Problem(demand=Poisson(2), lead_time=0, capacity=6),
    "lost-L1-cap": Problem(demand=Poisson(2), lead_time=1, capacity=7),
    "lost-L2-cap": Problem(demand=Poisson(2), lead_time=2, capacity=6),
    "lost-L3-cap": Problem(demand=Poisson(1), lead_time=3, capacity=5),
    "lost-L2-bound": Problem(demand=Poisson(2), lead_time=2, position_bound=6),
    "lost-L2-maxorder": Problem(demand=Poisson(2), lead_time=2, capacity=8, max_order=3),
    "lost-L2-multiple": Problem(demand=Poisson(2), lead_time=2, capacity=9, order_multiple=2),
    "lost-L2-multiple-max": Problem(demand=Poisson(2), lead_time=2, capacity=10, order_multiple=3,
                                    max_order=7),
    "backorder-L0": Problem(demand=Poisson(2), lead_time=0, excess_demand="backorder",
                            position_bound=5, backlog_bound=3),
    "backorder-L1": Problem(demand=Poisson(2), lead_time=1, excess_demand="backorder",
                            position_bound=5, backlog_bound=3),
    "backorder-L2": Problem(demand=Poisson(2), lead_time=2, excess_demand="backorder",
                            position_bound=4, backlog_bound=2),
    "backorder-L3-max": Problem(demand=Poisson(1), lead_time=3, excess_demand="backorder",
                                position_bound=4, backlog_bound=2, max_order=3),
    "backorder-L2-cap-multiple": Problem(demand=Poisson(1), lead_time=2, excess_demand="backorder",
                                         capacity=6, backlog_bound=3, order_multiple=2),
    "seasonal-L0": Problem(demand=WeekdayPoisson((1, 1, 1, 1, 2, 2, 0)), lead_time=0, capacity=4),
    "seasonal-L1": Problem(demand=WeekdayPoisson((1, 1, 1, 1, 2, 2, 0)), lead_time=1, capacity=4),
    "seasonal-L2-backorder": Problem(demand=WeekdayPoisson((1, 1, 1, 1, 2, 2, 0)), lead_time=2,
                                     excess_demand="backorder", position_bound=3, backlog_bound=1),
}


@pytest.fixture(params=sorted(PROBLEMS), ids=sorted(PROBLEMS))
def problem(request) -> Problem:
    return PROBLEMS[request.param]


def as_set(states: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in s) for s in states}


@pytest.mark.parametrize("reduced", [False, True])
def test_count_and_enumerate_match_brute_force(problem, reduced):
    sp = StateSpace(problem, reduced=reduced)
    states = sp.enumerate()
    expected = brute_force_reduced(problem) if reduced else brute_force_full(problem)
    assert states.dtype == np.int64
    assert states.shape == (len(expected), sp.dim)
    assert sp.count() == len(states) == len(expected)
    assert as_set(states) == expected
    assert sp.dim == problem.state_dim - (1 if reduced and problem.lead_time >= 1 else 0)


def test_reduced_is_smaller_by_the_pipeline_factor(problem):
    full = StateSpace(problem, reduced=False).count()
    red = StateSpace(problem, reduced=True).count()
    if problem.lead_time == 0:
        assert red == full
    else:
        assert red < full


def test_count_closed_form_lost_sales():
    """Lost sales, no max order, m = 1: states are (L+1)-vectors of non-negative
    integers with sum <= C, i.e. C(C + L + 1, L + 1) of them."""
    from math import comb

    for L in range(4):
        for C in (1, 3, 8):
            p = Problem(demand=Poisson(1), lead_time=L, capacity=C)
            assert StateSpace(p, reduced=False).count() == comb(C + L + 1, L + 1)
            # reduced: (y, β_2..β_L) with sum <= C, L coordinates
            assert StateSpace(p, reduced=True).count() == comb(C + max(L, 1), max(L, 1))


def test_encode_decode_round_trip(problem):
    for reduced in (False, True):
        sp = StateSpace(problem, reduced=reduced)
        states = sp.enumerate()
        keys = sp.encode(states)
        assert keys.dtype == np.int64
        assert np.all(np.diff(keys) > 0)  # enumerate() is sorted by key; keys are distinct
        assert keys.min() >= 0
        np.testing.assert_array_equal(sp.decode(keys), states)
        # a single state decodes the same
        np.testing.assert_array_equal(sp.decode(keys[-1:]), states[-1:])


def test_reduce_expand_round_trip(problem):
    sp = StateSpace(problem, reduced=True)
    red = sp.enumerate()
    full = sp.expand(red)
    assert full.shape == (red.shape[0], problem.state_dim)
    np.testing.assert_array_equal(sp.reduce(full), red)
    all_full = StateSpace(problem, reduced=False).enumerate()
    back = sp.reduce(all_full)
    if problem.lead_time >= 1:
        assert np.all(full[:, 1] == 0)  # the representative has β_1 = 0
        np.testing.assert_array_equal(back[:, 0], all_full[:, 0] + all_full[:, 1])
        np.testing.assert_array_equal(back[:, 1:], all_full[:, 2:])
    else:
        np.testing.assert_array_equal(back, all_full)
        np.testing.assert_array_equal(full, red)
    # every reduced image of a full state is a reduced state
    assert as_set(back) == as_set(red)


def test_full_space_is_identity_for_reduce_and_expand(problem):
    sp = StateSpace(problem, reduced=False)
    states = sp.enumerate()
    np.testing.assert_array_equal(sp.reduce(states), states)
    np.testing.assert_array_equal(sp.expand(states), states)


def test_clip_low_flags_states_below_the_backlog_bound():
    p = PROBLEMS["backorder-L1"]
    sp = StateSpace(p, reduced=False)
    mask = sp.clip_low(np.array([[-4, 0], [-3, 0], [5, 0]]))
    assert mask.tolist() == [True, False, False]


def test_enumerate_refuses_too_many_states():
    p = Problem(demand=Poisson(2), lead_time=3, capacity=20)
    assert p.bound == 20  # the capacity is below the demand-derived bound
    sp = StateSpace(p, reduced=False)
    with pytest.raises(SpecError) as exc:
        sp.enumerate(max_states=100)
    assert str(exc.value).startswith("problem.bound = 20:")
