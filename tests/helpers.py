"""Small helpers shared by test modules."""

from __future__ import annotations

import copy
from typing import Any

#: marker value of :func:`with_value`: delete the key instead of setting it
DELETE = object()


def with_value(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``doc`` with the key at ``dotted`` (``"problem.discount"``) set, or
    deleted when ``value`` is :data:`DELETE`."""
    doc = copy.deepcopy(doc)
    *parents, last = dotted.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return doc
