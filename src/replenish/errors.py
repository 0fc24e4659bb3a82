"""Exceptions raised on bad input.

Every user-facing error is a :class:`SpecError` whose message is one line that
names the offending field and value; the CLI prints it and exits with code 2.
"""

from __future__ import annotations


class SpecError(ValueError):
    """Invalid problem, demand, policy or configuration input.

    The message names the field (e.g. ``problem.discount``) and the value.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field} = {value!r}: {reason}")


def require(cond: bool, field: str, value: object, reason: str) -> None:
    """Raise :class:`SpecError` unless ``cond`` holds."""
    if not cond:
        raise SpecError(field, value, reason)
