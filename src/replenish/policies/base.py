"""The policy protocol shared by every method, and JSON persistence.

A policy maps a batch of states to orders::

    orders = policy.act(states)   # states: int64 (n, d) [α, β_1..β_L, (w)]
                                  # orders: int64 (n,), feasible units

Every policy carries its :class:`~replenish.spec.Problem` (so a saved policy is
self-contained) and returns feasible orders (multiples of ``m`` within
capacity, ``max_order`` and the position bound).  Policies whose action depends
on ``α`` and ``β_1`` only through ``α + β_1`` set ``uses_reduced_state = True``,
which lets exact evaluation run on the smaller reduced state space.

Saved policies are JSON documents::

    {"format": "replenish.policy/1", "kind": "<kind>", "params": {...},
     "problem": {"name": ..., "problem": {...}, "demand": {...}}, ...}
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from replenish.core.io import atomic_write
from replenish.core.validate import SpecError
from replenish.model.spec import Problem

FORMAT = "replenish.policy/1"

#: kind → policy class, filled by :func:`register_policy`.
POLICY_KINDS: dict[str, type[Policy]] = {}
#: kind → module that registers it, for kinds defined above this layer (imported on first use:
#: a plugin table, so the policy layer does not import the solvers).
KIND_MODULES: dict[str, str] = {"base-stock-ew": "replenish.policies.perishable",
                                "bsp-low-ew": "replenish.policies.perishable",
                                "forecast-base-stock": "replenish.solvers.contextual",
                                "lookahead": "replenish.solvers.contextual"}
#: file suffix → loader, for policies not stored as JSON (e.g. ``.pt`` for DQN).
SUFFIX_LOADERS: dict[str, Callable[[Path], Policy]] = {}


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make ``cls`` loadable from JSON under ``cls.kind``."""
    POLICY_KINDS[cls.kind] = cls
    return cls


class Policy(ABC):
    """Base class of all policies (DP tables, Q-tables, DQN, classic rules)."""

    kind: ClassVar[str] = "policy"
    #: True when ``act`` depends on ``α, β_1`` only through ``α + β_1``.
    uses_reduced_state: ClassVar[bool] = False
    problem: Problem

    @abstractmethod
    def act(self, states: np.ndarray) -> np.ndarray:
        """Orders (int64 (n,), units) for states (int64 (n, d))."""

    def order(self, state: np.ndarray | list[int]) -> int:
        """The order for one state (convenience wrapper around :meth:`act`)."""
        return int(self.act(np.asarray(state, dtype=np.int64)[None, :])[0])

    def params(self) -> dict[str, Any]:
        """JSON-serialisable parameters (e.g. ``{"level": 7}``)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this policy."""
        return {"format": FORMAT, "kind": self.kind, "params": self.params(),
                "problem": self.problem.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], problem: Problem) -> Policy:
        """Rebuild from :meth:`to_dict` output (``problem`` already parsed)."""
        return cls(problem=problem, **data.get("params", {}))  # type: ignore[call-arg]

    #: file suffix of :meth:`save` (JSON unless the policy overrides it).
    file_suffix: ClassVar[str] = ".json"

    def save(self, path: str | Path) -> Path:
        """Save to ``path`` atomically (JSON by default)."""
        return atomic_write(path, json.dumps(self.to_dict(), indent=1))

    def describe(self) -> str:
        """Short human-readable label, e.g. ``order-up-to(level=7)``."""
        ps = ", ".join(f"{k}={v}" for k, v in self.params().items()
                       if not isinstance(v, (list, dict)))
        return f"{self.kind}({ps})" if ps else self.kind


def save_policy(policy: Policy, path: str | Path) -> Path:
    """Save ``policy`` at ``path`` (atomic; JSON unless the policy has its own format)."""
    return policy.save(path)


def policy_from_dict(data: dict[str, Any]) -> Policy:
    """Rebuild any registered policy from its JSON document.

    Every malformed document gives a one-line :class:`SpecError` naming the field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SpecError("policy.format", data.get("format") if isinstance(data, dict) else data,
                        f"not a replenish policy (expected format '{FORMAT}')")
    kind = data.get("kind")
    if isinstance(kind, str) and kind not in POLICY_KINDS and kind in KIND_MODULES:
        import importlib

        importlib.import_module(KIND_MODULES[kind])
    if not isinstance(kind, str) or kind not in POLICY_KINDS:
        raise SpecError("policy.kind", kind,
                        f"unknown policy kind; known: {', '.join(sorted(POLICY_KINDS))}")
    if not isinstance(data.get("problem"), dict):
        raise SpecError("policy.problem", data.get("problem"),
                        "missing or not a table: the policy file must hold its problem")
    if not isinstance(data.get("params", {}), dict):
        raise SpecError("policy.params", data.get("params"), "must be a table")
    problem = Problem.from_dict(data["problem"])
    try:
        return POLICY_KINDS[kind].from_dict(data, problem)
    except SpecError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise SpecError("policy.params", f"{{{', '.join(map(str, data.get('params', {})))}}}",
                        f"malformed parameters for kind '{kind}' ({type(exc).__name__}: "
                        f"{str(exc)[:200]})") from None


def check_policy_problem(policy: Policy, problem: Problem) -> None:
    """Refuse a policy saved for another problem than ``problem`` (one line naming the first
    field that differs), as ``evaluate`` and ``explain`` on a config require."""
    mine, theirs = problem.to_dict(), policy.problem.to_dict()
    if mine["demand"] != theirs["demand"]:
        raise SpecError("policy.problem.demand", theirs["demand"],
                        f"the policy was saved for another demand than the config's "
                        f"({mine['demand']})")
    for key in sorted(set(mine["problem"]) | set(theirs["problem"])):
        a, b = mine["problem"].get(key), theirs["problem"].get(key)
        if a != b:
            raise SpecError(f"policy.problem.{key}", b,
                            f"the policy was saved for another problem (the config has {key} = {a!r})")


#: Largest policy file read (bytes).
MAX_POLICY_BYTES = 200_000_000


def load_policy(path: str | Path) -> Policy:
    """Load a policy saved by :func:`save_policy`."""
    path = Path(path)
    if path.suffix in SUFFIX_LOADERS:
        if not path.is_file():
            raise SpecError("policy", str(path), "no such file")
        return SUFFIX_LOADERS[path.suffix](path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise SpecError("policy", str(path), f"cannot read file ({exc.strerror})") from None
    if len(raw) > MAX_POLICY_BYTES:
        raise SpecError("policy", str(path), f"larger than {MAX_POLICY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError("policy", str(path), f"not UTF-8 text (byte {exc.start}: "
                                             f"{exc.object[exc.start:exc.start + 1]!r})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError("policy", str(path), f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise SpecError("policy", str(path), "not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. integers past the 4300-digit conversion limit
        raise SpecError("policy", str(path), f"not valid JSON ({str(exc)[:100]})") from None
    try:
        return policy_from_dict(data)
    except RecursionError:
        raise SpecError("policy", str(path), "nested too deeply") from None
