"""States as a store manager gives them: parsing on-hand, in-transit, weekday and date, and describing
states in words.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.model.demand import WEEKDAYS
from replenish.model.spec import Problem

#: Largest reduced state space on which the explanation computes exact DP values.
EXPLAIN_DP_LIMIT = 400_000
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Largest chain used for the next-days forecast.
FORECAST_STATE_LIMIT = 500_000


# ----------------------------------------------------------------------------
# states
# ----------------------------------------------------------------------------
def parse_weekday(value: str | int | None, *, field_name: str = "--weekday") -> int | None:
    """``"Sat"``/``"saturday"``/``5`` → 5 (Monday = 0); ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        require(0 <= int(value) <= 6, field_name, value, "must be 0..6 (Monday = 0) or Mon..Sun")
        return int(value)
    s = str(value).strip().lower()
    if s.isdigit():
        return parse_weekday(int(s), field_name=field_name)
    hits = [i for i, name in enumerate(_WEEKDAY_NAMES) if len(s) >= 2 and name.startswith(s)]
    if len(hits) == 1:
        return hits[0]
    raise SpecError(field_name, value, "unknown weekday (expected Mon..Sun or 0..6, Monday = 0)")


def parse_date(value: str | _dt.date | None, *, field_name: str = "--date") -> _dt.date | None:
    """ISO date ``YYYY-MM-DD`` → :class:`datetime.date`."""
    if value is None or isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise SpecError(field_name, value, "not a date (expected YYYY-MM-DD)") from None


def parse_ints(text: str | Sequence[int] | int | None, *, field_name: str) -> list[int]:
    """``"3,2"`` → ``[3, 2]`` (also accepts an int or a list)."""
    if text is None:
        return []
    if isinstance(text, (int, np.integer)):
        return [int(text)]
    if not isinstance(text, str):
        return [int(x) for x in text]
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise SpecError(field_name, text, "must be comma-separated integers (units)") from None


def split_state(problem: Problem, state: Any) -> tuple[int | list[int], list[int]]:
    """``(on_hand, in_transit)`` of a full state, as :func:`make_state` takes them: ``α``
    (an int), or a perishable product's age classes ``[α_1 .. α_n]`` (a list)."""
    s = [int(x) for x in np.asarray(state).reshape(-1)]
    n, L = problem.stock_slots, problem.lead_time
    on_hand: int | list[int] = s[:n] if problem.perishable else s[0]
    return on_hand, s[n: n + L]


def make_state(problem: Problem, on_hand: int | Sequence[int],
               in_transit: Sequence[int] | int | None = None, *,
               weekday: int | str | None = None, date: str | _dt.date | None = None) -> np.ndarray:
    """Build and validate the full state ``[α, β_1..β_L, (w)]`` (int64 (d,)).

    Args:
        problem: the problem the state belongs to.
        on_hand: ``α`` (units) after today's demand; negative = backlog.  A
            perishable product: its stock by remaining life, oldest first,
            ``[α_1 .. α_n]`` (an int when ``n = 1``; missing trailing entries are 0).
        in_transit: ``β_1..β_L`` (units; ``β_1`` arrives tomorrow morning), one
            value per lead-time period; a single number with ``L = 1``.
            Missing trailing slots are 0.
        weekday: weekday of tomorrow (the next demand day), seasonal demand only.
        date: today's date (the order is placed this evening); tomorrow's
            weekday becomes the phase.  Give ``weekday`` or ``date``, not both.

    Raises :class:`SpecError` (one line naming the field and value) when the
    state is infeasible for ``problem``: negative stock under lost sales,
    backlog beyond the represented bound, in-transit entries that are not
    single orders (negative, not a multiple of ``m``, above ``a_max``), or a
    position ``α + Σβ`` above the capacity/position bound ``B``.
    """
    L, m, B = problem.lead_time, problem.order_multiple, problem.bound
    pipe = parse_ints(in_transit, field_name="in_transit")
    require(len(pipe) <= L, "in_transit", pipe,
            f"has {len(pipe)} entries but the lead time is L = {L} (one entry per day in transit"
            + (", none when L = 0)" if L == 0 else ")"))
    pipe = pipe + [0] * (L - len(pipe))
    if problem.perishable:
        ages = parse_ints(on_hand, field_name="on_hand")
        n = problem.stock_slots
        require(len(ages) <= n, "on_hand", ages,
                f"has {len(ages)} entries but shelf life M = {problem.shelf_life} keeps {n} "
                "age classes overnight (oldest first)")
        ages = ages + [0] * (n - len(ages))
        for i, x in enumerate(ages, start=1):
            require(x >= 0, f"on_hand[{i}]", x, "must be >= 0")
        if problem.shelf_life == 1:
            require(sum(ages) == 0, "on_hand", ages,
                    "must be 0: with shelf_life = 1 nothing is carried overnight")
        a = sum(ages)
    else:
        require(isinstance(on_hand, (int, np.integer)) and not isinstance(on_hand, bool), "on_hand",
                on_hand, "must be an integer (units)")
        a = int(on_hand)  # type: ignore[arg-type]
        ages = [a]
    if problem.lost_sales:
        require(a >= 0, "on_hand", a, "must be >= 0 under lost sales (no backlog)")
    else:
        require(a >= problem.min_net_inventory, "on_hand", a,
                f"backlog beyond the represented bound {problem.min_net_inventory}")
    for i, b in enumerate(pipe, start=1):
        require(b >= 0, f"in_transit[{i}]", b, "must be >= 0")
        require(b % m == 0, f"in_transit[{i}]", b, f"must be a multiple of the order multiple m = {m}")
        require(b <= problem.max_order_units, f"in_transit[{i}]", b,
                f"exceeds the largest single order {problem.max_order_units}")
    pos = a + sum(pipe)
    what = "capacity C" if problem.capacity is not None else "position bound B"
    require(pos <= B, "state", [*ages, *pipe],
            f"infeasible: on hand + in transit = {pos} exceeds the {what} = {B}")
    w = parse_weekday(weekday)
    d = parse_date(date)
    require(w is None or d is None, "--weekday", weekday, "give --weekday or --date, not both")
    if d is not None:
        w = (d + _dt.timedelta(days=1)).weekday()
    state = np.array([*ages, *pipe], dtype=np.int64)
    if problem.seasonal:
        if w is None:
            raise SpecError("--weekday", None, "demand is weekday-seasonal: give tomorrow's weekday "
                                               "(--weekday) or today's --date")
        require(problem.period == 7 or w < problem.period, "--weekday", w,
                f"phase must be < {problem.period}")
        state = np.append(state, w % problem.period)
    return state


def describe_state(problem: Problem, state: np.ndarray) -> str:
    """``"on hand 3, in transit [2], tomorrow Sat"``."""
    s = [int(x) for x in np.asarray(state).reshape(-1)]
    on_hand, pipe = split_state(problem, s)
    txt = (f"on hand {on_hand} (oldest first)" if isinstance(on_hand, list) and len(on_hand) > 1
           else f"on hand {sum(on_hand) if isinstance(on_hand, list) else on_hand}")
    if problem.lead_time:
        txt += f", in transit {pipe}"
    if problem.seasonal:
        txt += f", tomorrow {WEEKDAYS[s[-1]] if problem.period == 7 else 'phase ' + str(s[-1])}"
    return txt


def state_label(problem: Problem, state: np.ndarray) -> str:
    """Compact ``"(α,β)"`` label, with the weekday when seasonal."""
    s = [int(x) for x in np.asarray(state).reshape(-1)]
    core = "(" + ",".join(str(x) for x in s[: problem.position_slots]) + ")"
    if problem.seasonal:
        core += " " + (WEEKDAYS[s[-1]] if problem.period == 7 else f"w{s[-1]}")
    return core
