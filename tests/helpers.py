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


def history_config(file: str, train: tuple[str, str], test: tuple[str, str], *, name: str = "t",
                   extra: str = "", problem: str = "") -> str:
    """TOML text of a history config (lead time 1, h = 1, p = 9) on sales file ``file``; ``train``
    and ``test`` are TOML values (``'"2020-01-06"'`` or a bare TOML date), ``problem`` more
    ``[problem]`` lines and ``extra`` more tables."""
    return (f'name = "{name}"\n[problem]\nlead_time = 1\nholding_cost = 1\nstockout_cost = 9\n{problem}'
            f'[demand]\nkind = "history"\nfile = "{file}"\ntrain = [{train[0]}, {train[1]}]\n'
            f"test = [{test[0]}, {test[1]}]\n{extra}")
