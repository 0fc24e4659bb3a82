"""Errors and validation helpers: the one place input checks are written.

Every user-facing error is a :class:`SpecError` whose message is one line that
names the offending field and value; the CLI prints it and exits with code 2.
The helpers here (:func:`require`, :func:`require_int`, :func:`require_number`,
:func:`check_keys`, :func:`option_types`) are what specs, configs and method
tables use to produce those messages.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from typing import Any

#: Longest value shown in an error message (characters of its repr).
_MAX_VALUE_CHARS = 1000


class SpecError(ValueError):
    """Invalid problem, demand, policy or configuration input.

    The message names the field (e.g. ``problem.discount``) and the value.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        try:
            shown = repr(value)
        except ValueError:  # an integer past Python's 4300-digit conversion limit
            shown = "<huge integer>"
        if len(shown) > _MAX_VALUE_CHARS:
            shown = shown[: _MAX_VALUE_CHARS - 20] + f"... ({len(shown)} characters)"
        # one line whatever the value or the reason holds (numpy reprs, parser messages)
        super().__init__(" ".join(f"{field} = {shown}: {reason}".split("\n")))


class MissingDependency(SpecError):
    """An optional library a feature needs is not installed.

    The message names the feature and the install command, e.g. ``tune: Optuna is not
    installed (pip install 'replenish[tune]')``; ``field`` is the feature, ``value`` the library.
    """

    def __init__(self, feature: str, library: str, extra: str) -> None:
        super().__init__(feature, library, f"{library} is not installed (pip install 'replenish[{extra}]')")
        self.args = (f"{feature}: {self.reason}",)


def require(cond: object, field: str, value: object, reason: str) -> None:
    """Raise :class:`SpecError` unless ``cond`` holds (any truthy value: ``bool``, ``numpy.bool_``)."""
    if not cond:
        raise SpecError(field, value, reason)


def is_int(value: object) -> bool:
    """True for Python and numpy integers (not ``bool``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """True for finite real numbers (Python or numpy; not ``bool``; huge integers count as infinite)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def require_in_range(value: object, field: str, low: float, high: float, *, open_low: bool = False,
                     open_high: bool = False) -> float:
    """``value`` as a finite number in the interval ``[low, high]`` (ends open on request).

    The message names the interval: ``"must be a number in (0, 1]"``.
    """
    x = float(value) if is_number(value) else math.nan  # type: ignore[arg-type]
    ok = (x > low if open_low else x >= low) and (x < high if open_high else x <= high)
    if not ok:  # NaN fails every comparison
        raise SpecError(field, value, f"must be a number in {'(' if open_low else '['}{low:g}, "
                                      f"{high:g}{')' if open_high else ']'}")
    return x


def require_int(value: object, field: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` (not a bool), within ``[low, high]``; else :class:`SpecError`."""
    if not is_int(value):
        raise SpecError(field, value, "must be an integer")
    n = int(value)  # type: ignore[call-overload]
    if low is not None and n < low:
        raise SpecError(field, value, f"must be >= {low}")
    if high is not None and n > high:
        raise SpecError(field, value, f"must be <= {high}")
    return n


def require_count(value: object, field: str, low: int = 1) -> None:
    """Unless ``value`` is an integer (Python or numpy, not ``bool``) ``>= low``, raise
    :class:`SpecError` with ``"must be an integer >= low"``: the check of every count option."""
    if not (is_int(value) and value >= low):  # type: ignore[operator]
        raise SpecError(field, value, f"must be an integer >= {low}")


def require_number(value: object, field: str, *, low: float | None = None,
                   high: float | None = None) -> float:
    """``value`` as a finite ``float`` within ``[low, high]``; else :class:`SpecError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SpecError(field, value, "must be a number")
    if not is_number(value):
        raise SpecError(field, value, "must be a finite number")
    x = float(value)
    if low is not None and x < low:
        raise SpecError(field, value, f"must be >= {low}")
    if high is not None and x > high:
        raise SpecError(field, value, f"must be <= {high}")
    return x


#: an option's accepted TOML types: a type or a tuple of types.
OptionTypes = dict[str, type | tuple[type, ...]]


def check_keys(table: dict[str, Any], allowed: OptionTypes, section: str) -> dict[str, Any]:
    """Validate a method table: known keys with the right types; returns it."""
    for key, value in table.items():
        if key not in allowed:
            raise SpecError(f"{section}.{key}", value,
                            f"unknown key (expected one of {', '.join(sorted(allowed))})")
        typ = allowed[key]
        ok = isinstance(value, typ) and not (isinstance(value, bool) and bool not in
                                             (typ if isinstance(typ, tuple) else (typ,)))
        if not ok:
            names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
            raise SpecError(f"{section}.{key}", value, f"must be of type {names}")
    return table


def _toml_types(annotation: Any) -> tuple[type, ...]:
    """The TOML value types that can fill a field annotated ``annotation``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: tuple[type, ...] = ()
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out += tuple(t for t in _toml_types(arg) if t not in out)
        return out
    if origin is typing.Literal:
        return tuple(dict.fromkeys(type(a) for a in typing.get_args(annotation)))
    if annotation is float:
        return (int, float)
    if origin in (tuple, list) or annotation in (tuple, list):
        return (list,)
    if isinstance(annotation, type):
        return (annotation,)
    raise TypeError(f"no TOML type for {annotation!r}")


def option_types(cls: type) -> OptionTypes:
    """The accepted TOML types of each field of the options dataclass ``cls``.

    Derived from the field annotations (``float`` accepts TOML integers too,
    tuples are TOML arrays), so a method's option table is never restated.
    """
    hints = typing.get_type_hints(cls)
    out: OptionTypes = {}
    for f in dataclasses.fields(cls):
        ts = _toml_types(hints[f.name])
        out[f.name] = ts[0] if len(ts) == 1 else ts
    return out
