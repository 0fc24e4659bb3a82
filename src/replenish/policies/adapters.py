"""Adapters: other libraries' agents and plain functions as replenish policies.

* :func:`from_callable` wraps a Python function of the state,
* :func:`from_sb3` wraps a Stable-Baselines3 model (DQN, PPO, A2C, …) trained
  on ``replenish/Inventory-v0`` (or any env whose observation is the state
  vector ``[α, β_1..β_L, (w)]`` and whose action ``k`` orders ``k·m`` units).

Both return a :class:`~replenish.policies.base.Policy` that follows the one
protocol (``act(states) -> orders``, batched int64 ``(n, d) -> (n,)``, orders
clipped with :func:`replenish.model.dynamics.clip_orders`), so
``rp.evaluate(problem, policy)`` evaluates them *exactly* (the chain builder
tabulates the policy on every reachable state, like any other policy), and
``replenish.workflows.explain.explain``/``recommend`` work on them in Python.

They live in Python only: the adapted function or model is not saved to a
policy file (``save`` raises :class:`~replenish.core.validate.SpecError`); save
the model with its own library and wrap it again after loading.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.model.dynamics import clip_orders
from replenish.model.spec import Problem
from replenish.policies.base import Policy


class _PythonOnlyPolicy(Policy):
    """A policy wrapping a Python object: usable everywhere in Python, never saved."""

    problem: Problem
    label: str

    def params(self) -> dict[str, Any]:
        return {"label": self.label}

    def describe(self) -> str:
        return f"{self.kind}({self.label})"

    def to_dict(self) -> dict[str, Any]:
        raise SpecError("policy", self.describe(),
                        "an adapted policy lives in Python only and has no file format; "
                        "save the underlying model or function with its own library")

    def save(self, path: str | Path) -> Path:
        self.to_dict()  # raises
        raise AssertionError("unreachable")  # pragma: no cover


class CallablePolicy(_PythonOnlyPolicy):
    """A function of the state as a policy (see :func:`from_callable`)."""

    kind = "callable"

    def __init__(self, fn: Callable[[np.ndarray], Any], problem: Problem, *, batched: bool = False,
                 label: str | None = None) -> None:
        require(callable(fn), "fn", fn, "must be callable")
        require(isinstance(problem, Problem), "problem", type(problem).__name__, "must be a Problem")
        self.fn = fn
        self.problem = problem
        self.batched = bool(batched)
        self.label = str(label or getattr(fn, "__name__", "fn"))

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        if self.batched:
            raw = np.asarray(self.fn(states)).reshape(-1)
        else:
            raw = np.fromiter((int(self.fn(row.copy())) for row in states), dtype=np.int64,
                              count=states.shape[0])
        require(raw.shape == (states.shape[0],), "fn", self.label,
                f"must return one order per state ({states.shape[0]}), got shape {raw.shape}")
        return clip_orders(self.problem, states, np.rint(raw).astype(np.int64))


class SB3Policy(_PythonOnlyPolicy):
    """A Stable-Baselines3 model as a policy (deterministic actions; see :func:`from_sb3`)."""

    kind = "sb3"

    def __init__(self, model: Any, problem: Problem, *,
                 observation: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        require(callable(getattr(model, "predict", None)), "model", type(model).__name__,
                "must have predict(obs, deterministic=True) (a Stable-Baselines3 model)")
        require(isinstance(problem, Problem), "problem", type(problem).__name__, "must be a Problem")
        space = getattr(model, "observation_space", None)
        shape = getattr(space, "shape", None)
        require(shape is None or tuple(shape) == (problem.state_dim,), "model.observation_space",
                shape, f"must be the state vector of {problem.state_dim} entries "
                "[α, β_1..β_L, (w)] (train on replenish/Inventory-v0 with this problem)")
        n = getattr(getattr(model, "action_space", None), "n", None)
        require(n is None or int(n) == problem.n_actions, "model.action_space", n,
                f"must be Discrete({problem.n_actions}): action k orders k·m units")
        self.model = model
        self.problem = problem
        self.obs_fn = observation
        self._dtype = getattr(space, "dtype", np.float32) if observation is None else None
        self.label = type(model).__name__

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        obs = self.obs_fn(states) if self.obs_fn is not None else states.astype(self._dtype)
        a, _ = self.model.predict(obs, deterministic=True)
        a = np.asarray(a, dtype=np.int64).reshape(-1)
        return clip_orders(self.problem, states, a * self.problem.order_multiple)


def from_callable(fn: Callable[[np.ndarray], Any], problem: Problem, *, batched: bool = False,
                  label: str | None = None) -> Policy:
    """A Python function of the state as a replenish policy.

    Args:
        fn: ``fn(state) -> order`` (units) for one full state, an int64 vector
            ``[α, β_1..β_L, (w)]``; with ``batched=True``, ``fn(states) ->
            orders`` on an int64 ``(n, d)`` array.  Orders are rounded down to
            the order multiple and clipped to the feasible range
            (:func:`~replenish.model.dynamics.clip_orders`), as for every policy.
        problem: the problem the function decides for.
        batched: whether ``fn`` takes the whole batch at once (faster).
        label: name shown by ``describe()`` (default: the function's name).

    The policy is exact-evaluable (``rp.evaluate`` tabulates it on the full
    reachable state space), and ``explain``/``recommend`` accept it.  It is not
    saved to files (``save`` raises ``SpecError``).

    Example: order-up-to 7 on the bike shop (``L = 1``)::

        pol = from_callable(lambda s: max(7 - s[0] - s[1], 0), problem)
        rp.evaluate(problem, pol).average_cost      # 16.8230, as OrderUpTo(level=7)
    """
    return CallablePolicy(fn, problem, batched=batched, label=label)


def from_sb3(model: Any, problem: Problem, *,
             observation: Callable[[np.ndarray], np.ndarray] | None = None) -> Policy:
    """A Stable-Baselines3 model (DQN, PPO, A2C, …) as a replenish policy.

    The model must have been trained on ``replenish/Inventory-v0`` for
    ``problem`` (observation = the state vector ``[α, β_1..β_L, (w)]``,
    ``Discrete(n_actions)`` actions, action ``k`` = order ``k·m`` units).
    Actions are the model's deterministic ``predict``; orders are clipped with
    :func:`~replenish.model.dynamics.clip_orders` (as the environment clips
    infeasible actions).

    Args:
        observation: maps int64 states ``(n, d)`` to the model's observations
            when it was trained behind an observation wrapper (e.g. ``lambda s:
            (s / problem.bound).astype(np.float32)``); default: the states
            themselves, in the dtype of ``model.observation_space``.

    ``rp.evaluate(problem, from_sb3(model, problem))`` is exact (the chain
    builder queries the model on every reachable state in batches), and
    ``explain``/``recommend`` accept the policy.  It lives in Python only: save
    the model with ``model.save`` and wrap it again after ``DQN.load``.
    """
    return SB3Policy(model, problem, observation=observation)
