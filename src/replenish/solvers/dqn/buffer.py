"""The experience replay buffer of DQN (Lin 1992; Mnih et al. 2015).

:class:`ReplayBuffer` keeps the last ``capacity`` ``n``-step transitions in
preallocated numpy arrays; the trainer (:mod:`replenish.solvers.dqn.trainer`)
adds one transition per parallel path and vector step and samples batches with
its own replay :class:`numpy.random.Generator`.  Checkpoints store the filled
part as tensors (:meth:`ReplayBuffer.state_dict`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from replenish.core.validate import require


class ReplayBuffer:
    """Circular buffer of ``n``-step transitions ``(s, a, R, s', amax', d)``.

    States are stored raw (int64 (cap, d)) and turned into features when
    sampled; ``R`` is the (discounted or plain) sum of ``n`` rewards ($, unscaled) and
    ``amax'`` the largest feasible order (units) in ``s'`` (for masked targets).
    Sampling is uniform with the caller's :class:`numpy.random.Generator`.

    Arrays (``cap = capacity``, ``d = state_dim``): ``states``, ``next_states``
    int64 (cap, d); ``actions`` (network output indices), ``next_amax`` and
    ``demands`` (the demand of the transition's first period, units) int64 (cap,);
    ``returns`` float32 (cap,).  Rows ``[0, size)`` are filled; ``ptr`` is the
    next row written.
    """

    def __init__(self, capacity: int, state_dim: int) -> None:
        self.capacity = capacity
        self.states = np.zeros((capacity, state_dim), dtype=np.int64)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.returns = np.zeros(capacity, dtype=np.float32)
        self.next_states = np.zeros((capacity, state_dim), dtype=np.int64)
        self.next_amax = np.zeros(capacity, dtype=np.int64)
        self.demands = np.zeros(capacity, dtype=np.int64)
        self.ptr = 0
        self.size = 0

    def add(self, states: np.ndarray, actions: np.ndarray, returns: np.ndarray,
            next_states: np.ndarray, next_amax: np.ndarray, demands: np.ndarray) -> None:
        """Append a batch of transitions (overwriting the oldest when full); ``demands``:
        the demand (units) of the first period, for the all-action targets."""
        n = states.shape[0]
        idx = (self.ptr + np.arange(n)) % self.capacity
        self.states[idx] = states
        self.actions[idx] = actions
        self.returns[idx] = returns
        self.next_states[idx] = next_states
        self.next_amax[idx] = next_amax
        self.demands[idx] = demands
        self.ptr = int((self.ptr + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, ...]:
        """``batch`` transitions drawn uniformly (with replacement) with ``rng`` (the
        caller's): ``(s, a, R, s', amax', d)``, shaped as the arrays, ``batch`` rows."""
        i = rng.integers(0, self.size, size=batch)
        return (self.states[i], self.actions[i], self.returns[i], self.next_states[i], self.next_amax[i],
                self.demands[i])

    def state_dict(self) -> dict[str, Any]:
        """The filled rows as tensors, with ``ptr`` and ``size`` (for checkpoints)."""
        n = self.size
        return {"states": torch.from_numpy(self.states[:n].copy()),
                "actions": torch.from_numpy(self.actions[:n].copy()),
                "returns": torch.from_numpy(self.returns[:n].copy()),
                "next_states": torch.from_numpy(self.next_states[:n].copy()),
                "next_amax": torch.from_numpy(self.next_amax[:n].copy()),
                "demands": torch.from_numpy(self.demands[:n].copy()),
                "ptr": self.ptr, "size": self.size}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Refill from :meth:`state_dict` (its rows must fit in ``capacity``)."""
        n = int(d["size"])
        require(n <= self.capacity, "dqn.buffer_size", self.capacity,
                f"smaller than the checkpoint's buffer ({n})")
        for name in ("states", "actions", "returns", "next_states", "next_amax", "demands"):
            getattr(self, name)[:n] = d[name].numpy()
        self.size = n
        self.ptr = int(d["ptr"]) % self.capacity
