"""Greedy policies of a Deep Q-Network (:mod:`replenish.solvers.dqn`), and their files.

A :class:`DQNPolicy` holds a small PyTorch Q-network ``Q(x(s), ·)`` over a grid
of orders and acts greedily among the *feasible* ones::

    orders = policy.act(states)    # int64 (n, d) -> int64 (n,)

Observation features ``x(s)`` (:class:`Observation`) are built from the problem
spec alone:

* with ``reduced = True`` (default) the sufficient statistic of
  :mod:`replenish.statespace`: ``y = α + β_1`` (stock on the shelf tomorrow
  before demand), ``β_2 .. β_L`` and the inventory position ``α + Σβ``, each
  divided by the scale ``B`` (:attr:`Problem.bound`), so features lie in
  ``[0, 1]`` under lost sales; with ``reduced = False`` ``α, β_1 .. β_L`` and
  the position;
* for seasonal demand, a one-hot encoding of the phase ``w`` (weekday of the
  next demand day).

Action ``j`` of the network orders ``j·k·m`` units (``action_mode = "order"``)
or orders up to the position ``j·k·m`` (``"level"``), where ``m`` is the order
multiple and ``k`` the action *stride* (1 unless the range is too large for one
output per pack; then a coarse grid of at most ``max_actions`` outputs).
Infeasible actions (beyond capacity, ``max_order`` or the position bound, as
computed by :func:`replenish.dynamics.feasible_max`) are masked to ``−∞``
before the ``argmax``, so the policy never proposes them.

Files (``.pt``) hold only tensors and plain JSON text and are read back with
``torch.load(weights_only=True)``, which never unpickles arbitrary objects::

    {"format": "replenish.dqn/1", "meta": "<json: problem, observation, architecture>",
     "state_dict": {name: tensor}}

torch is imported by this module only (never at ``import replenish`` time).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from replenish.core.io import atomic_write
from replenish.core.validate import SpecError, require_count
from replenish.model.dynamics import feasible_max
from replenish.model.spec import Problem
from replenish.policies.base import SUFFIX_LOADERS, Policy

FILE_FORMAT = "replenish.dqn/1"


# ----------------------------------------------------------------------------
# Observation features and the action grid
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """How a state becomes network input, and what the network's actions mean.

    Attributes:
        lead_time: ``L``.
        period: demand phases ``P`` (one-hot phase features when ``P > 1``).
        reduced: features from ``[α + β_1, β_2..β_L]`` instead of ``[α, β_1..β_L]``.
        scale: divisor of every stock feature (units), ``B`` by default.
        multiple: order multiple ``m`` (units).
        stride: grid step in packs; a grid unit is ``stride·m`` units.
        n_actions: number of network outputs.
        action_mode: ``"order"``: action ``j`` orders ``j·stride·m`` units;
            ``"level"``: action ``j`` orders up to the inventory position
            ``T_j = j·stride·m``, i.e. ``a = ⌊(T_j − x)/m⌋·m`` with ``x`` the
            position before ordering (a per-state relabelling of the same
            orders: the value of a level varies smoothly and its best value
            little across states, which the network learns faster).
        bound: ``B`` (units), the largest position after ordering.
        demand_mean, demand_std: per phase ``w``, mean ``μ_w`` and standard deviation
            ``σ_w`` (units) of the demand over the ``L + 1`` days from ``w``; when given
            (``demand_features``), the feature ``(position − μ_w)/σ_w`` is added: the
            position in units of the demand it must cover, which resolves the region
            where good levels lie far better than ``position/B`` does.
        post_decision: also add the column ``m·stride/σ_w`` (one action step in units of
            ``σ_w``) for the post-decision head of :class:`QNetwork`: the position after
            action ``j`` is then ``u_j = (position + j·stride·m − μ_w)/σ_w`` (order mode;
            implies the demand features).
        onehot_period: when ``> 0``, the one-hot phase feature is ``(phase + phase_offset)
            mod onehot_period`` instead of the phase itself: for a calendar problem
            (:class:`~replenish.model.demand.DatedDemand`, phase = day index) the weekday,
            with ``phase_offset`` the weekday of day 0 (``dqn-context``); ``0``: the phase
            one-hot when ``P > 1`` (the plain DQN).
        phase_offset: see ``onehot_period``.
        order_bound: ``S̄`` (units): actions that would raise the inventory position above
            it are masked (order 0 always stays feasible); ``0``: no bound.  The trainer sets
            Morton's bound (:func:`replenish.solvers.dp_matrix_free.morton_bound`) where it
            is proven, with ``DQNConfig.order_bound``.
        stock_slots: ``n``, the on-hand entries of a state (a perishable product's age
            classes, each its own feature; 1 for a product that keeps).
        prior_mean: per phase, the mean demand of the ``L`` days *before* the day an order
            arrives (``dqn-context``); when given, the feature ``(position − prior_w)/σ_w`` is
            added: the expected stock left when the order arrives, which tells the network
            which of the ``L + 1`` days the demand ``μ_w`` falls on (under lost sales a
            promotion tomorrow and one on the arrival day need very different orders).

    The demand tables are indexed by ``phase mod len(demand_mean)``: per weekday for the
    plain DQN, per calendar day (the forecast of the evening before) for ``dqn-context``.
    """

    lead_time: int
    period: int
    reduced: bool
    scale: float
    multiple: int
    stride: int
    n_actions: int
    action_mode: str = "order"
    bound: int = 0
    demand_mean: tuple[float, ...] = ()
    demand_std: tuple[float, ...] = ()
    post_decision: bool = False
    onehot_period: int = 0
    phase_offset: int = 0
    prior_mean: tuple[float, ...] = ()
    stock_slots: int = 1
    order_bound: int = 0

    def __post_init__(self) -> None:
        n = len(self.demand_mean)
        if len(self.demand_std) != n or (self.prior_mean and len(self.prior_mean) != n):
            raise SpecError("dqn.observation", [n, len(self.demand_std), len(self.prior_mean)],
                            "demand_mean, demand_std and prior_mean must have one entry per phase")
        if self.prior_mean and not n:
            raise SpecError("dqn.observation.prior_mean", len(self.prior_mean), "needs demand_mean")
        if not (isinstance(self.onehot_period, int) and 0 <= self.onehot_period <= 1000
                and isinstance(self.phase_offset, int)):
            raise SpecError("dqn.observation.onehot_period", self.onehot_period,
                            "must be an integer in 0 .. 1000 (with an integer phase_offset)")

    @classmethod
    def from_problem(cls, problem: Problem, *, reduced: bool = True, max_actions: int = 128,
                     action_mode: str = "order", demand_features: bool = False,
                     post_decision: bool = False, order_bound: int = 0) -> Observation:
        """The observation of ``problem``; coarse action grid beyond ``max_actions`` outputs."""
        require_count(max_actions, "dqn.max_actions", 2)
        if action_mode not in ("order", "level"):
            raise SpecError("dqn.action_mode", action_mode, "must be 'order' or 'level'")
        if post_decision and action_mode != "order":
            raise SpecError("dqn.post_decision", post_decision, "needs action_mode = 'order'")
        m = problem.order_multiple
        top = problem.n_actions - 1 if action_mode == "order" else -(-problem.bound // m)
        stride = max(1, math.ceil(top / (max_actions - 1)))
        n = -(-top // stride) + 1
        mean: tuple[float, ...] = ()
        std: tuple[float, ...] = ()
        if demand_features or post_decision:
            P = problem.period
            moments = []
            for w in range(P):
                q = np.asarray(problem.demand.pmf(w), dtype=np.float64)
                k = np.arange(len(q))
                mu = float(q @ k)
                moments.append((mu, float(q @ (k - mu) ** 2)))
            span = problem.lead_time + 1
            mean = tuple(sum(moments[(w + j) % P][0] for j in range(span)) for w in range(P))
            std = tuple(max(1.0, math.sqrt(sum(moments[(w + j) % P][1] for j in range(span))))
                        for w in range(P))
        return cls(lead_time=problem.lead_time, period=problem.period, reduced=bool(reduced),
                   scale=float(max(problem.bound, 1)), multiple=m, stride=stride, n_actions=n,
                   action_mode=action_mode, bound=problem.bound, demand_mean=mean, demand_std=std,
                   post_decision=bool(post_decision), stock_slots=problem.stock_slots,
                   order_bound=int(order_bound))

    @property
    def n_features(self) -> int:
        """Length of the feature vector."""
        stock = self.position_slots - (1 if self._folds else 0)
        return (stock + 1 + self.n_onehot + (1 if self.prior_mean else 0)
                + (1 if self.demand_mean else 0) + (1 if self.post_decision else 0))

    @property
    def position_slots(self) -> int:
        """``n + L``: the leading state entries summed into the inventory position."""
        return self.stock_slots + self.lead_time

    @property
    def _folds(self) -> bool:
        """Whether ``α`` and ``β_1`` enter as one feature (reduced, ``L >= 1``, not perishable)."""
        return self.reduced and self.lead_time >= 1 and self.stock_slots == 1

    @property
    def n_onehot(self) -> int:
        """Width of the one-hot phase feature (0: none)."""
        if self.onehot_period > 0:
            return self.onehot_period
        return self.period if self.period > 1 else 0

    @cached_property
    def _tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``demand_mean``, ``demand_std``, ``prior_mean`` as float32 tensors (built once)."""
        return (torch.tensor(self.demand_mean, dtype=torch.float32),
                torch.tensor(self.demand_std, dtype=torch.float32),
                torch.tensor(self.prior_mean, dtype=torch.float32))

    @property
    def order_step(self) -> int:
        """Units per action index (``stride·m``)."""
        return self.stride * self.multiple

    def features(self, states: np.ndarray | torch.Tensor) -> torch.Tensor:
        """float32 (n, n_features) features of int states (n, d)."""
        s = torch.as_tensor(np.asarray(states) if not isinstance(states, torch.Tensor) else states)
        k = self.position_slots
        stock = s[:, :k].to(torch.float32)
        position = stock.sum(dim=1, keepdim=True)
        if self._folds:
            stock = torch.cat([stock[:, :1] + stock[:, 1:2], stock[:, 2:]], dim=1)
        parts = [stock / self.scale, position / self.scale]
        phase = s[:, k].long() % self.period if self.period > 1 else None
        if phase is not None and self.onehot_period > 0:
            hot = (phase + self.phase_offset) % self.onehot_period
            parts.append(nn.functional.one_hot(hot, self.onehot_period).to(torch.float32))
        elif phase is not None:
            parts.append(nn.functional.one_hot(phase, self.period).to(torch.float32))
        if self.demand_mean:
            w = (phase % len(self.demand_mean) if phase is not None
                 else torch.zeros(s.shape[0], dtype=torch.long))
            mean_t, std_t, prior_t = self._tables
            mu = mean_t[w][:, None]
            sd = std_t[w][:, None]
            if self.prior_mean:
                parts.append((position - prior_t[w][:, None]) / sd)
            parts.append((position - mu) / sd)
            if self.post_decision:
                parts.append(self.order_step / sd)
        return torch.cat(parts, dim=1)

    def raw_orders(self, states: np.ndarray) -> np.ndarray:
        """int64 (n, n_actions): the order of each action before clipping."""
        j = np.arange(self.n_actions, dtype=np.int64)[None, :]
        if self.action_mode == "order":
            return np.broadcast_to(j * self.order_step, (states.shape[0], self.n_actions))
        x = np.asarray(states, dtype=np.int64)[:, : self.position_slots].sum(axis=1)[:, None]
        return ((j * self.order_step - x) // self.multiple) * self.multiple

    def mask(self, states: np.ndarray, feasible_units: np.ndarray) -> torch.Tensor:
        """bool (n, n_actions) of feasible actions, given the largest feasible order (units).

        Order mode: ``j·stride·m <= a_max(s)``.  Level mode: levels whose order
        lies in ``[0, a_max(s)]``, plus the highest level at or below the
        position (order 0), so every row has a feasible action.  With an
        ``order_bound`` ``S̄``, also ``position + order <= S̄`` (or order 0).
        """
        fmax = np.asarray(feasible_units, dtype=np.int64)[:, None]
        if self.order_bound > 0:
            x = np.asarray(states, dtype=np.int64)[:, : self.position_slots].sum(axis=1)[:, None]
            fmax = np.minimum(fmax, np.maximum(self.order_bound - x, 0))
        raw = self.raw_orders(states)
        ok = (raw >= 0) & (raw <= fmax)
        if self.action_mode == "level":
            x = np.asarray(states, dtype=np.int64)[:, : self.position_slots].sum(axis=1)
            j0 = np.clip(x // self.order_step, 0, self.n_actions - 1)
            ok[np.arange(len(j0)), j0] = True
        return torch.from_numpy(np.ascontiguousarray(ok))

    def orders(self, states: np.ndarray, actions: np.ndarray, feasible_units: np.ndarray) -> np.ndarray:
        """int64 (n,) orders (units) of action indices, clipped to ``[0, a_max(s)]``."""
        actions = np.asarray(actions, dtype=np.int64)
        if self.action_mode == "order":
            raw = actions * self.order_step
        else:
            x = np.asarray(states, dtype=np.int64)[:, : self.position_slots].sum(axis=1)
            raw = ((actions * self.order_step - x) // self.multiple) * self.multiple
        return np.clip(raw, 0, np.asarray(feasible_units, dtype=np.int64))


# ----------------------------------------------------------------------------
# The Q-network
# ----------------------------------------------------------------------------
def build_q_network(n_in: int, n_out: int, hidden: tuple[int, ...], *, dueling: bool = False,
                    post_decision: bool = False,
                    generator: torch.Generator | None = None) -> nn.Module:
    """An MLP Q-network (ReLU) with ``n_in`` inputs and ``n_out`` action values.

    ``dueling`` splits the head into value and advantage streams (Wang et al.
    2016); ``post_decision`` adds the post-decision head of :class:`QNetwork`.
    Weights are initialised from ``generator`` (PyTorch's default
    Kaiming-uniform scheme), never from the global RNG.
    """
    net = QNetwork(n_in, n_out, tuple(hidden), dueling=dueling, post_decision=post_decision)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.Linear):
                nn.init.kaiming_uniform_(mod.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(mod.in_features)
                nn.init.uniform_(mod.bias, -bound, bound, generator=generator)
    return net


class QNetwork(nn.Module):
    """MLP ``features -> Q(·, a)`` for every action ``a`` (optionally dueling).

    With ``post_decision``, the per-action outputs are replaced by the
    decomposition of the action value into the immediate ordering cost, known
    from the rules, and the value of the *post-decision* state::

        Q(s, a_j) = −o_j + V(s, u_j),    u_j = u_0 + j·Δu

    ``o_j`` is the ordering cost of action ``j`` (``K·[a_j > 0] + c·a_j``, in
    reward units; the buffer ``order_cost``, set by the trainer from
    :func:`replenish.dynamics.step`), and ``u_j`` the position after ordering in
    units of the demand it must cover (the last two feature columns are ``u_0``
    and the step ``Δu`` of one action, see :class:`Observation`).  The body
    outputs the values ``c_k(s)`` at fixed knots ``u = −4, −3.75, …, 10``, and
    ``V(s, u_j)`` is their linear interpolation at ``u_j`` (clamped to the
    knot range).  Neighbouring orders then share parameters, a value that
    depends on the order-up-to position moves its best order one for one with
    the stock, and the fixed cost ``K`` separates ordering from not ordering
    exactly instead of being learned (the post-decision state of approximate
    DP, Van Roy et al. 1997; Powell 2011, *Approximate Dynamic Programming*,
    ch. 4).  The pre-decision state ``s`` stays an input of ``V``: with lost
    sales the split of the position between stock and pipeline matters.
    """

    KNOTS = (-4.0, 10.0, 0.25)  # first, last, spacing (units of σ_w)

    def __init__(self, n_in: int, n_out: int, hidden: tuple[int, ...], *, dueling: bool = False,
                 post_decision: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        last = n_in
        for h in hidden:
            layers += [nn.Linear(last, h), nn.ReLU()]
            last = h
        self.body = nn.Sequential(*layers)
        self.dueling = dueling
        self.head: nn.Linear | None = None if post_decision else nn.Linear(last, n_out)
        self.value: nn.Linear | None = nn.Linear(last, 1) if dueling else None
        lo, hi, dk = self.KNOTS
        self.n_knots = round((hi - lo) / dk) + 1
        self.knots: nn.Linear | None = nn.Linear(last, self.n_knots) if post_decision else None
        self.register_buffer("steps", torch.arange(n_out, dtype=torch.float32), persistent=False)
        # o_j: ordering cost of each action in reward units (saved with the weights)
        self.register_buffer("order_cost", torch.zeros(n_out) if post_decision else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.body(x)
        if self.knots is None:
            assert self.head is not None  # exactly one of the heads exists
            q = self.head(z)
        else:  # V(s, u_j): knot values interpolated at the post-decision position, minus o_j
            lo, _, dk = self.KNOTS
            c = self.knots(z)
            steps = self.get_buffer("steps")
            pos = torch.addcmul((x[:, -2:-1] - lo) / dk, steps[None, :], x[:, -1:] / dk)
            pos = pos.clamp_(0.0, self.n_knots - 1)
            i = pos.floor().clamp_(max=self.n_knots - 2)
            f = pos - i
            i = i.long()
            q = torch.lerp(c.gather(1, i), c.gather(1, i + 1), f) - self.get_buffer("order_cost")
        if self.value is not None:
            q = self.value(z) + q - q.mean(dim=1, keepdim=True)
        return q


def masked_argmax(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Index of the largest ``q`` among ``mask``-ed entries of each row (int64 (n,))."""
    return q.masked_fill(~mask, -torch.inf).argmax(dim=1)


# ----------------------------------------------------------------------------
# The policy
# ----------------------------------------------------------------------------
class DQNPolicy(Policy):
    """Greedy (masked) policy of a Q-network; higher ``Q`` = better (reward = −cost).

    Args:
        problem: the problem the network was trained on.
        network: the Q-network (:func:`build_q_network`); the policy keeps a
            reference, evaluation runs under ``torch.no_grad``.
        observation: features and action grid.
        hidden, dueling: architecture (saved with the weights).
        label: a label for reports.
    """

    kind = "dqn"
    file_suffix = ".pt"

    def __init__(self, *, problem: Problem, network: nn.Module, observation: Observation,
                 hidden: tuple[int, ...], dueling: bool = False, label: str = "dqn") -> None:
        self.problem = problem
        self.network = network
        self.observation = observation
        self.hidden = tuple(int(h) for h in hidden)
        self.dueling = bool(dueling)
        self.label = label
        self.uses_reduced_state = observation.reduced or problem.lead_time == 0  # type: ignore[misc]

    def q_values(self, states: np.ndarray) -> np.ndarray:
        """float32 (n, n_actions) action values (in units of the training reward scale)."""
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        with torch.no_grad():
            return self.network(self.observation.features(states)).numpy()

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        obs = self.observation
        fmax = feasible_max(self.problem, states)
        with torch.no_grad():
            q = self.network(obs.features(states))
            j = masked_argmax(q, obs.mask(states, fmax)).numpy()
        return obs.orders(states, j, fmax)

    def params(self) -> dict[str, Any]:
        obs = asdict(self.observation)
        for key in ("onehot_period", "phase_offset", "prior_mean", "order_bound"):  # files as before
            if not obs[key]:
                del obs[key]
        return {"hidden": list(self.hidden), "dueling": self.dueling, "observation": obs,
                "label": self.label}

    def to_dict(self) -> dict[str, Any]:  # JSON metadata only; weights live in the .pt file
        return {"format": FILE_FORMAT, "kind": self.kind, "params": self.params(),
                "problem": self.problem.to_dict()}

    def describe(self) -> str:
        o = self.observation
        return f"{self.label}(hidden={list(self.hidden)}, {o.action_mode}s={o.n_actions}, stride={o.stride})"

    def save(self, path: str | Path) -> Path:
        """Write weights + JSON metadata atomically (read back by :func:`load_dqn_policy`)."""
        blob = {"format": FILE_FORMAT, "meta": json.dumps(self.to_dict()),
                "state_dict": {k: v.detach().clone() for k, v in self.network.state_dict().items()}}
        return atomic_write(path, lambda fh: torch.save(blob, fh))

    def to_table(self, *, max_states: int = 2_000_000):  # type: ignore[no-untyped-def]
        """The greedy actions as a :class:`~replenish.policies.table.TablePolicy` (bounded states)."""
        from replenish.model.statespace import StateSpace
        from replenish.policies.table import TablePolicy

        space = StateSpace(self.problem, reduced=self.uses_reduced_state)
        states = space.enumerate(max_states=max_states)
        orders = np.concatenate([self.act(space.expand(states[i: i + 65536]))
                                 for i in range(0, len(states), 65536)])
        return TablePolicy(problem=self.problem, states=states, orders=orders,
                           reduced=space.reduced, label="dqn")


def safe_torch_load(path: str | Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)``; bad files raise :class:`SpecError`."""
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SpecError("policy", str(path), "no such file") from None
    except Exception as exc:  # corrupt file, or a pickle carrying arbitrary objects
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError("policy", str(path), f"not a safe replenish torch file ({msg[:160]})") from None
    if not isinstance(blob, dict):
        raise SpecError("policy", str(path), "not a replenish torch file")
    return blob


#: Widest hidden layer a saved network may declare (units).
MAX_HIDDEN = 4096


def policy_from_blob(blob: dict[str, Any], source: str) -> DQNPolicy:
    """Rebuild a :class:`DQNPolicy` from the dict written by :meth:`DQNPolicy.save`.

    The metadata is validated before any network is allocated; malformed files give a
    one-line :class:`SpecError`."""
    if blob.get("format") != FILE_FORMAT:
        raise SpecError("policy.format", blob.get("format"), f"expected '{FILE_FORMAT}' in {source}")
    try:
        meta = json.loads(blob["meta"])
    except KeyError:
        raise SpecError("policy.meta", None, f"missing in {source}") from None
    except (TypeError, ValueError, RecursionError):
        raise SpecError("policy.meta", str(blob["meta"])[:80], f"not JSON metadata in {source}"
                        ) from None
    if not (isinstance(meta, dict) and isinstance(meta.get("problem"), dict)
            and isinstance(meta.get("params"), dict)):
        raise SpecError("policy.meta", str(blob["meta"])[:80],
                        f"must hold 'problem' and 'params' tables in {source}")
    problem = Problem.from_dict(meta["problem"])
    p = meta["params"]
    hidden = p.get("hidden")
    if not (isinstance(hidden, list) and 1 <= len(hidden) <= 8 and all(
            isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_HIDDEN for h in hidden)):
        raise SpecError("policy.params.hidden", hidden,
                        f"must list 1 to 8 layer widths in [1, {MAX_HIDDEN}] (checked before "
                        "allocating the network)")
    try:
        o = dict(p["observation"])
        for key in ("demand_mean", "demand_std", "prior_mean"):  # JSON lists → the dataclass's tuples
            o[key] = tuple(o.get(key, ()))
        obs = Observation(**o)
        n_features, n_actions = int(obs.n_features), int(obs.n_actions)
    except SpecError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise SpecError("policy.params.observation", str(p.get("observation"))[:80],
                        f"malformed ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not (1 <= n_features <= 10_000 and 1 <= n_actions <= 100_000):
        raise SpecError("policy.params.observation", [n_features, n_actions],
                        "features and actions out of range")
    net = QNetwork(n_features, n_actions, tuple(hidden), dueling=bool(p.get("dueling")),
                   post_decision=obs.post_decision)
    try:
        net.load_state_dict(blob["state_dict"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        raise SpecError("policy.state_dict", source, f"weights do not match the architecture ({exc})"
                        ) from None
    if not all(bool(torch.isfinite(t).all()) for t in net.state_dict().values()):
        raise SpecError("policy.state_dict", source, "weights hold NaN or infinite values")
    net.eval()
    return DQNPolicy(problem=problem, network=net, observation=obs, hidden=tuple(hidden),
                     dueling=bool(p.get("dueling")), label=str(p.get("label", "dqn")))


def load_dqn_policy(path: str | Path) -> DQNPolicy:
    """Load a ``.pt`` DQN policy with ``torch.load(weights_only=True)``."""
    return policy_from_blob(safe_torch_load(path), str(path))


SUFFIX_LOADERS[".pt"] = load_dqn_policy
