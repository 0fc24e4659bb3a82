"""Exact dynamic programming on the reduced state space.

The Markov decision process is built once from the one compiled transition
function: for every reduced state ``s = [α + β_1, β_2..β_L, (w)]`` (see
:mod:`replenish.model.statespace`), every feasible order ``a`` and every demand
value ``d`` of the truncated pmf, the period is simulated exactly
(:func:`~replenish.model.dynamics.transition` on the representative full
state, the successor reduced by :func:`~replenish.model.dynamics.reduce_state`
and its backlog truncated at the lowest represented value by
:func:`~replenish.model.dynamics.clip_backlog`), successors are merged, and the
result is stored in CSR form (state → state-action rows → successor lists).

Objectives:

* **average cost** — relative value iteration (White 1963; Puterman 1994,
  §8.5.5) accelerated by modified policy iteration (Puterman & Shin 1978;
  Puterman 1994, §8.7), with the aperiodicity transformation
  ``P̃ = τP + (1 − τ)I`` (Puterman 1994, §8.5.4) so that periodic chains
  (weekday demand) converge.  Each Bellman sweep brackets the optimal gain,
  ``min_s (T h − h)(s) <= g* <= max_s (T h − h)(s)`` (Odoni 1969); iteration
  stops when the bracket is narrower than ``tol``.
* **discounted cost** — value iteration with the same partial policy
  evaluation (modified policy iteration), stopped when
  ``‖V_{n+1} − V_n‖∞ < ε(1 − γ)/(2γ)`` so the greedy policy is ε-optimal
  (Puterman 1994, Thm 6.3.1).

Whatever the objective, the returned policy is then evaluated exactly on its
Markov chain (:func:`replenish.markov.evaluate_exact`): ``average_cost`` is
its long-run average cost per period.

Two engines run the same algorithm: this module's stored MDP (fastest sweeps,
best for small models) and :mod:`replenish.solvers.dp_matrix_free` (no stored
successors, a proven action bound, reaches Zipkin's L = 6 instances);
:func:`solve_dp` picks one by the number of states (:func:`choose_engine`) and
reports which in ``DPResult.engine``.

Size: about 680 lines: the compiled MDP build, the compiled sweeps and the solver that
drives them are one algorithm with one set of array conventions (CSR-like rows of
state-actions and successors), kept in one place; the matrix-free engine is its own module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numba as nb
import numpy as np

from replenish.core.jit import variants
from replenish.core.validate import SpecError, check_keys
from replenish.evaluation.evaluate import Evaluation
from replenish.evaluation.markov import ExactEvaluation, demand_support, evaluate_exact
from replenish.model.demand import TAIL
from replenish.model.dynamics import clip_backlog_rows, kernels
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.policies.table import TablePolicy
from replenish.solvers.base import MethodOutput

Objective = Literal["average", "discounted"]
Engine = Literal["auto", "explicit", "matrix-free"]
#: :func:`choose_engine` uses the matrix-free engine from this many reduced states on
#: (measured: at 780 states the explicit DP is faster, at 18k the matrix-free one is,
#: 2.5 vs 3.4 s, and at 134k it is 19 times faster)
MATRIX_FREE_MIN_STATES = 10_000

_k = kernels()
transition, reduce_state, clip_backlog = _k.transition, _k.reduce_state, _k.clip_backlog
expand_state, max_feasible, max_feasible_batch = _k.expand_state, _k.max_feasible, _k.max_feasible_batch
layout = _k.layout


# ----------------------------------------------------------------------------
# MDP construction (compiled)
# ----------------------------------------------------------------------------
@nb.njit(cache=True)
def _build_state(s, states, keys, lut, offsets, strides, lead_time, rules, period, cost, bound,
                 max_units, multiple, pmf, supp, nsupp, sa0, tr0, tr_end, sa_order, sa_cost,
                 sa_clip, tr_start, tr_cnt, tr_idx, tr_prob):  # pragma: no cover
    """Rows of reduced state ``s``: one per feasible order, successors merged.

    Writes state-action rows from ``sa0`` and successors in ``[tr0, tr_end)``.
    Returns 0, or -1 (successor outside the space) / -2 (storage exceeded).
    """
    n, dr = states.shape
    n_stock, fold = layout(lead_time, rules)
    dfull = n_stock + lead_time + (1 if period > 1 else 0)
    full = np.zeros(dfull, dtype=np.int64)
    out = np.zeros(dfull, dtype=np.int64)
    expand_state(states[s], fold, full)  # representative full state [y, 0, β_2.., (w)]
    w = full[dfull - 1] if period > 1 else 0
    amax = max_feasible(full, n_stock + lead_time, bound, max_units, multiple)
    k = sa0
    t = tr0
    low = offsets[0]
    for a in range(0, amax + 1, multiple):
        exp_cost = 0.0
        clip = 0.0
        last_key = -1
        tr_start[k] = t
        for i_d in range(nsupp[w]):  # demand values with positive mass, ascending
            d = supp[w, i_d]
            pd = pmf[w, d]
            hc, sc, oc, rc, wc, _, _, _ = transition(full, a, d, lead_time, rules, period, cost,
                                                     out)
            exp_cost += pd * (hc + sc + oc - rc + wc)
            r = reduce_state(out, fold)  # the reduced successor is out[r:]
            out[r], clipped = clip_backlog(out[r], low)
            if clipped:
                clip += pd
            key = 0
            for i in range(dr):
                key += (out[r + i] - offsets[i]) * strides[i]
            if key == last_key:  # same successor as the previous demand: merge
                tr_prob[t - 1] += pd
                continue
            if lut.shape[0] > 0:
                j = lut[key] if 0 <= key < lut.shape[0] else -1
            else:
                j = np.searchsorted(keys, key)
                if j >= n or keys[j] != key:
                    j = -1
            if j < 0:
                return -1
            if t >= tr_end:
                return -2
            tr_idx[t] = j
            tr_prob[t] = pd
            last_key = key
            t += 1
        sa_order[k] = a
        sa_cost[k] = exp_cost
        sa_clip[k] = clip
        tr_cnt[k] = t - tr_start[k]
        k += 1
    return 0


def _build_py(states, keys, lut, offsets, strides, lead_time, rules, period, cost, bound, max_units,
           multiple, pmf, supp, nsupp, sa_ptr, tr_base, sa_order, sa_cost, sa_clip, tr_start,
           tr_cnt, tr_idx, tr_prob):  # pragma: no cover
    """All states in parallel, each into its own preassigned storage segment."""
    n = states.shape[0]
    status = np.zeros(n, dtype=np.int64)
    for s in nb.prange(n):
        status[s] = _build_state(s, states, keys, lut, offsets, strides, lead_time, rules, period,
                                 cost, bound, max_units, multiple, pmf, supp, nsupp, sa_ptr[s],
                                 tr_base[s], tr_base[s + 1], sa_order, sa_cost, sa_clip, tr_start, tr_cnt,
                                 tr_idx, tr_prob)
    return status.min()


def _compact_py(tr_start, tr_cnt, tr_ptr, tr_idx, tr_prob, out_idx, out_prob):  # pragma: no cover
    for k in nb.prange(tr_start.shape[0]):
        src = tr_start[k]
        dst = tr_ptr[k]
        for j in range(tr_cnt[k]):
            out_idx[dst + j] = tr_idx[src + j]
            out_prob[dst + j] = tr_prob[src + j]


_build_serial, _build_parallel = variants(_build_py)
_compact_serial, _compact_parallel = variants(_compact_py)


def _bellman_py(sa_ptr, sa_cost, tr_ptr, tr_idx, tr_prob, V, gamma, out_v, out_sa):  # pragma: no cover
    """``out_v(s) = min_a c(s,a) + γ Σ P(s'|s,a) V(s')``; ties go to the smaller order."""
    n = sa_ptr.shape[0] - 1
    for s in nb.prange(n):
        best = np.inf
        arg = sa_ptr[s]
        for k in range(sa_ptr[s], sa_ptr[s + 1]):
            acc = 0.0
            for j in range(tr_ptr[k], tr_ptr[k + 1]):
                acc += tr_prob[j] * V[tr_idx[j]]
            q = sa_cost[k] + gamma * acc
            if q < best - 1e-12 * (1.0 + abs(q)):
                best = q
                arg = k
        out_v[s] = best
        out_sa[s] = arg


@nb.njit(cache=True)
def _extract(pol_sa, sa_cost, tr_ptr, tr_idx, tr_prob):  # pragma: no cover
    """The chain of a policy as a compact CSR ``(ptr, idx, prob, cost)``.

    Sweeps over the policy's rows then stream through contiguous memory instead
    of jumping through the full state-action arrays.
    """
    n = pol_sa.shape[0]
    ptr = np.zeros(n + 1, dtype=np.int64)
    for s in range(n):
        k = pol_sa[s]
        ptr[s + 1] = ptr[s] + tr_ptr[k + 1] - tr_ptr[k]
    idx = np.empty(ptr[n], dtype=tr_idx.dtype)
    prob = np.empty(ptr[n])
    cost = np.empty(n)
    for s in range(n):
        k = pol_sa[s]
        cost[s] = sa_cost[k]
        o = ptr[s]
        for j in range(tr_ptr[k], tr_ptr[k + 1]):
            idx[o] = tr_idx[j]
            prob[o] = tr_prob[j]
            o += 1
    return ptr, idx, prob, cost


def _evaluate_py(ptr, idx, prob, cost, V, gamma, keep, sweeps, ref, scratch):  # pragma: no cover
    """``sweeps`` partial policy evaluations, in place on ``V``:
    ``V ← c + γ P V + keep·V`` then ``V ← V − V[ref]`` (``ref < 0``: no shift)."""
    n = cost.shape[0]
    for _ in range(sweeps):
        for s in nb.prange(n):
            acc = 0.0
            for j in range(ptr[s], ptr[s + 1]):
                acc += prob[j] * V[idx[j]]
            scratch[s] = cost[s] + gamma * acc + keep * V[s]
        shift = scratch[ref] if ref >= 0 else 0.0
        for s in nb.prange(n):
            V[s] = scratch[s] - shift


# one body, two compilations: threads pay off only on large models (on small
# ones, and on a loaded machine, thread synchronisation dominates each sweep)
_bellman_serial, _bellman_parallel = variants(_bellman_py)
_evaluate_serial, _evaluate_parallel = variants(_evaluate_py)
#: models with at least this many successor entries use the threaded sweeps
PARALLEL_MIN_TRANSITIONS = 2_000_000


@nb.njit(cache=True)
def _q_values(sa_cost, tr_ptr, tr_idx, tr_prob, V, gamma):  # pragma: no cover
    q = np.empty(sa_cost.shape[0])
    for k in range(sa_cost.shape[0]):
        acc = 0.0
        for j in range(tr_ptr[k], tr_ptr[k + 1]):
            acc += tr_prob[j] * V[tr_idx[j]]
        q[k] = sa_cost[k] + gamma * acc
    return q


@dataclass(frozen=True)
class MDP:
    """The finite MDP of a problem on reduced states, in CSR form.

    Attributes:
        problem: the problem.
        space: reduced coordinates; ``states`` int64 (n, dim) sorted by key.
        sa_ptr: int64 (n+1,), state ``s`` owns state-action rows
            ``sa_ptr[s] .. sa_ptr[s+1]-1`` (orders ascending).
        sa_order: int64 (n_sa,), the order ``a`` (units) of each row.
        sa_cost: float64 (n_sa,), expected one-period cost ``c(s, a)`` ($).
        sa_clip: float64 (n_sa,), probability of clipping at the backlog bound.
        tr_ptr, tr_idx, tr_prob: successors of each row (CSR).
        seconds: build time.
    """

    problem: Problem
    space: StateSpace
    states: np.ndarray
    keys: np.ndarray
    sa_ptr: np.ndarray
    sa_order: np.ndarray
    sa_cost: np.ndarray
    sa_clip: np.ndarray
    tr_ptr: np.ndarray
    tr_idx: np.ndarray
    tr_prob: np.ndarray
    seconds: float

    @property
    def n_states(self) -> int:
        return int(self.states.shape[0])

    @property
    def n_state_actions(self) -> int:
        return int(self.sa_order.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the model's arrays (bytes)."""
        return int(sum(a.nbytes for a in (self.states, self.keys, self.sa_ptr, self.sa_order,
                                          self.sa_cost, self.sa_clip, self.tr_ptr, self.tr_idx,
                                          self.tr_prob)))

    def index(self, full_states: np.ndarray) -> np.ndarray:
        """Row index (into ``states``) of full states (n, d)."""
        coords = clip_backlog_rows(self.space.reduce(np.atleast_2d(full_states)), self.space.offsets[0])
        keys = self.space.encode(coords)
        idx = np.searchsorted(self.keys, keys)
        if np.any(idx >= self.n_states) or np.any(self.keys[np.minimum(idx, self.n_states - 1)] != keys):
            raise ValueError("state outside the bounded state space")
        return idx

    def q_values(self, values: np.ndarray, gamma: float) -> np.ndarray:
        """``Q(s, a) = c(s, a) + γ Σ P(s'|s, a) V(s')`` for every state-action row."""
        return _q_values(self.sa_cost, self.tr_ptr, self.tr_idx, self.tr_prob,
                         np.ascontiguousarray(values, dtype=np.float64), float(gamma))

    def action_values(self, full_state: np.ndarray, values: np.ndarray,
                      gamma: float) -> tuple[np.ndarray, np.ndarray]:
        """``(orders, Q)`` of every feasible order in one full state."""
        s = int(self.index(np.asarray(full_state)[None, :])[0])
        rows = slice(self.sa_ptr[s], self.sa_ptr[s + 1])
        q = self.q_values(values, gamma)
        return self.sa_order[rows].copy(), q[rows]


def build_mdp(problem: Problem, *, tail: float = TAIL, max_states: int = 20_000_000) -> MDP:
    """Enumerate reduced states and build the MDP (compiled, parallel over states)."""
    t0 = time.perf_counter()
    space = StateSpace(problem, reduced=True)
    states = space.enumerate(max_states=max_states)
    keys = space.encode(states)
    box = int(np.prod(space.sizes.astype(np.float64)))
    if box <= max(50_000_000, 8 * states.shape[0]):
        lut = np.full(box, -1, dtype=np.int64 if states.shape[0] >= 2**31 else np.int32)
        lut[keys] = np.arange(states.shape[0])
    else:  # sparse box: binary search instead of a lookup table
        lut = np.zeros(0, dtype=np.int32)
    pmfs = [problem.demand.pmf(w, tail=tail) for w in range(problem.period)]
    pmf = np.zeros((problem.period, max(len(p) for p in pmfs)))
    for w, p in enumerate(pmfs):
        pmf[w, : len(p)] = p
    supp, nsupp = demand_support(pmf)
    args = (states, keys, lut, space.offsets, space.strides, problem.lead_time, problem.rules,
            problem.period, problem.cost_params(), problem.bound, problem.max_order_units,
            problem.order_multiple, pmf, supp, nsupp)
    # exact count of state-action rows, and storage for successors per state
    # (lost sales: demands beyond the morning stock all lead to the same state)
    full = space.expand(states)
    amax = max_feasible_batch(full, problem.position_slots, problem.bound, problem.max_order_units,
                              problem.order_multiple)
    n_act = amax // problem.order_multiple + 1
    sa_ptr = np.zeros(states.shape[0] + 1, dtype=np.int64)
    np.cumsum(n_act, out=sa_ptr[1:])
    n_sa = int(sa_ptr[-1])
    idx_dtype = np.int32 if states.shape[0] < 2**31 else np.int64
    # successors of a row: at most one per demand value with positive mass in
    # the state's phase (sparse empirical pmfs of large series have ~50 of them)
    per = nsupp[states[:, -1]] if problem.seasonal else np.full(states.shape[0], nsupp[0],
                                                                   dtype=np.int64)
    if problem.lost_sales and not problem.perishable:
        per = np.minimum(per, np.maximum(states[:, 0], 0) + 2)
    big = n_sa * int(nsupp.max()) >= PARALLEL_MIN_TRANSITIONS
    status = -2
    for _attempt in range(2):
        tr_base = np.zeros(states.shape[0] + 1, dtype=np.int64)
        np.cumsum(n_act * per, out=tr_base[1:])
        need = n_sa * 40 + int(tr_base[-1]) * (np.dtype(idx_dtype).itemsize + 8)
        if need > DP_MEMORY_LIMIT:  # checked before allocating the transition arrays
            raise SpecError("problem.bound", problem.bound,
                            f"the DP needs about {need / 2**30:.3g} GiB ({n_sa:,} state-actions, "
                            f"{int(tr_base[-1]):,} transitions; limit {DP_MEMORY_LIMIT / 2**30:g} "
                            "GiB): lower the capacity or bound, or use --method dqn or a classic "
                            "policy evaluated by simulation")
        sa_order = np.empty(n_sa, dtype=np.int64)
        sa_cost = np.empty(n_sa)
        sa_clip = np.empty(n_sa)
        tr_start = np.empty(n_sa, dtype=np.int64)
        tr_cnt = np.empty(n_sa, dtype=np.int64)
        tr_idx = np.empty(int(tr_base[-1]), dtype=idx_dtype)
        tr_prob = np.empty(int(tr_base[-1]))
        build = _build_parallel if big else _build_serial
        status = build(*args, sa_ptr, tr_base, sa_order, sa_cost, sa_clip, tr_start, tr_cnt,
                       tr_idx, tr_prob)
        if status != -2:
            break
        # storage estimate too small (unusual dynamics): allow every demand value
        per = np.full(states.shape[0], pmf.shape[1], dtype=np.int64)
    if status < 0:
        raise RuntimeError("internal error: a successor fell outside the state space")
    tr_ptr = np.zeros(n_sa + 1, dtype=np.int64)
    np.cumsum(tr_cnt, out=tr_ptr[1:])
    out_idx = np.empty(int(tr_ptr[-1]), dtype=idx_dtype)
    out_prob = np.empty(int(tr_ptr[-1]))
    (_compact_parallel if big else _compact_serial)(tr_start, tr_cnt, tr_ptr, tr_idx, tr_prob,
                                                    out_idx, out_prob)
    tr_idx, tr_prob = out_idx, out_prob
    return MDP(problem=problem, space=space, states=states, keys=keys, sa_ptr=sa_ptr,
               sa_order=sa_order, sa_cost=sa_cost, sa_clip=sa_clip, tr_ptr=tr_ptr, tr_idx=tr_idx,
               tr_prob=tr_prob, seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------
# Solvers
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DPResult:
    """Result of :func:`solve_dp`.

    Attributes:
        policy: optimal (ε-optimal) policy as a table on reduced states.
        objective: ``"average"`` or ``"discounted"``.
        average_cost: long-run average cost per period of ``policy`` ($/period),
            from its stationary distribution.
        gain_bounds: ``(lower, upper)`` bracket of the optimal average cost from
            the last Bellman sweep (average objective; ``None`` otherwise).
        values: relative values ``h`` (average) or discounted costs ``V`` per
            reduced state ($).
        iterations: Bellman (improvement) sweeps performed.
        converged: whether the stopping criterion was met.
        bound_binding_mass: long-run probability that the artificial position
            bound ``B`` limits the order (0 with a real capacity); a positive
            value means ``B`` may be too small.
        evaluation: exact evaluation of ``policy``.
        engine: ``"explicit"`` (stored MDP) or ``"matrix-free"``
            (:mod:`replenish.solvers.dp_matrix_free`).
        action_bound: ``S̄`` when the matrix-free engine cut the orders by the
            proven bound, else ``None``.
        seconds: total wall time, including the MDP build.
        interrupted: the matrix-free sweeps were stopped by Ctrl-C (the policy is
            the last greedy one; ``gain_bounds`` the last bracket).
        mdp: the explicit MDP (reuse it for Q-values); built on first access
            when the matrix-free engine solved the problem.
    """

    policy: TablePolicy
    objective: Objective
    average_cost: float
    gain_bounds: tuple[float, float] | None
    values: np.ndarray = field(repr=False)
    iterations: int
    converged: bool
    bound_binding_mass: float
    evaluation: ExactEvaluation = field(repr=False)
    engine: str
    action_bound: int | None
    seconds: float
    built_mdp: MDP | None = field(default=None, repr=False)
    interrupted: bool = False

    @property
    def mdp(self) -> MDP:
        if self.built_mdp is None:
            object.__setattr__(self, "built_mdp", build_mdp(self.policy.problem))
        assert self.built_mdp is not None
        return self.built_mdp

    @property
    def gamma(self) -> float:
        """Discount used for :attr:`values` (1 for the average objective)."""
        return 1.0 if self.objective == "average" else self.policy.problem.discount

    def action_values(self, full_state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(orders, Q)`` in one state: the value of each candidate order."""
        return self.mdp.action_values(full_state, self.values, self.gamma)


def choose_engine(problem: Problem) -> str:
    """The DP engine ``"auto"`` picks: the stored MDP below :data:`MATRIX_FREE_MIN_STATES`
    states (its build is then cheap and its sweeps are the fastest), matrix-free above.
    A perishable product always gets the stored MDP (the matrix-free ranking is written
    for the folded state of a product that keeps)."""
    if problem.perishable:
        return "explicit"
    try:
        n = StateSpace(problem, reduced=True).count()
    except SpecError:
        return "matrix-free"
    return "matrix-free" if n >= MATRIX_FREE_MIN_STATES else "explicit"


def solve_dp(problem: Problem, *, objective: Objective = "average", tol: float = 1e-9,
             eval_sweeps: int = 3, tau: float | None = None, max_iter: int = 100_000,
             tail: float = TAIL, mdp: MDP | None = None, max_states: int = 20_000_000,
             engine: Engine = "auto", action_bound: Literal["auto", "none"] = "auto",
             progress: Callable[[int, float, float], None] | None = None) -> DPResult:
    """Optimal policy of ``problem`` by dynamic programming.

    Args:
        problem: problem with a known demand distribution.
        objective: ``"average"`` (long-run average cost) or ``"discounted"``
            (discount ``problem.discount``).
        tol: average: stop when the gain bracket is narrower than
            ``tol·max(1, |g|)``; discounted: ε = ``tol·max(1, ‖V‖∞)``.
        eval_sweeps: partial policy-evaluation sweeps between Bellman sweeps
            (0 = plain value iteration).  Measured on Zipkin's L = 4, p = 39
            instance: 0 → 37 Bellman sweeps, 1.8 s; 3 → 11 sweeps, 1.4 s; 20 → 8
            sweeps, 3.1 s (the default is 3).
        tau: aperiodicity factor ``τ`` in (0, 1] (default 0.5 when demand is
            seasonal, else 0.95).
        max_iter: cap on Bellman sweeps.
        tail: demand pmf truncation mass.
        mdp: a prebuilt :class:`MDP` of the same problem (implies ``engine="explicit"``).
        engine: ``"explicit"`` builds and stores the MDP, ``"matrix-free"``
            recomputes successors every sweep
            (:func:`~replenish.solvers.dp_matrix_free.solve_matrix_free`, with the
            proven order bound when ``action_bound="auto"``); ``"auto"``:
            :func:`choose_engine`.  Same algorithm, same optimum.
        progress: matrix-free engine: called after each Bellman sweep with
            ``(sweep, lower, upper)``.
    """
    t0 = time.perf_counter()
    if objective not in ("average", "discounted"):
        raise SpecError("objective", objective, "must be 'average' or 'discounted'")
    if engine not in ("auto", "explicit", "matrix-free"):
        raise SpecError("dp.engine", engine, "must be 'auto', 'explicit' or 'matrix-free'")
    if engine == "auto":
        engine = "explicit" if mdp is not None else choose_engine(problem)  # type: ignore[assignment]
    if engine == "matrix-free" and problem.perishable:
        raise SpecError("dp.engine", engine, "is not available for a perishable product "
                        "(problem.shelf_life); use 'explicit' or 'auto'")
    if engine == "matrix-free":
        return _solve_matrix_free(problem, objective=objective, tol=tol, eval_sweeps=eval_sweeps,
                                  tau=tau, max_iter=max_iter, tail=tail, max_states=max_states,
                                  action_bound=action_bound, progress=progress, t0=t0)
    if mdp is None:
        mdp = build_mdp(problem, tail=tail, max_states=max_states)
    n = mdp.n_states
    if tau is None:
        tau = 0.5 if problem.seasonal else 0.95
    if not 0 < tau <= 1:
        raise SpecError("tau", tau, "must be in (0, 1]")
    big = mdp.tr_idx.size >= PARALLEL_MIN_TRANSITIONS
    _bellman = _bellman_parallel if big else _bellman_serial
    _evaluate = _evaluate_parallel if big else _evaluate_serial
    args = (mdp.sa_ptr, mdp.sa_cost, mdp.tr_ptr, mdp.tr_idx, mdp.tr_prob)
    ev_args = (mdp.sa_cost, mdp.tr_ptr, mdp.tr_idx, mdp.tr_prob)
    V = np.zeros(n)
    new = np.empty(n)
    scratch = np.empty(n)
    arg = np.zeros(n, dtype=np.int64)
    converged = False
    bounds: tuple[float, float] | None = None
    it = 0
    if objective == "average":
        ref = 0
        for it in range(1, max_iter + 1):  # noqa: B007
            _bellman(*args, V, tau, new, arg)
            diff = new - tau * V  # (T̃h − h) of the transformed problem
            lo, hi = float(diff.min()), float(diff.max())
            bounds = (lo, hi)
            if hi - lo <= tol * max(1.0, abs(lo)):
                converged = True
                break
            V = new + (1.0 - tau) * V
            V -= V[ref]
            if eval_sweeps:
                _evaluate(*_extract(arg, *ev_args), V, tau, 1.0 - tau, eval_sweeps, ref, scratch)
        values = tau * V  # relative values h of the original chain (h = τ·V at the fixed point)
    else:
        gamma = problem.discount
        for it in range(1, max_iter + 1):  # noqa: B007
            _bellman(*args, V, gamma, new, arg)
            delta = float(np.max(np.abs(new - V)))
            eps = tol * max(1.0, float(np.max(np.abs(new))))
            V = new.copy()
            if delta < eps * (1 - gamma) / (2 * gamma):
                converged = True
                break
            if eval_sweeps:
                _evaluate(*_extract(arg, *ev_args), V, gamma, 0.0, eval_sweeps, -1, scratch)
        values = V
    orders = mdp.sa_order[arg]
    policy = TablePolicy(problem=problem, states=mdp.states, orders=orders, reduced=True,
                         label="dp")
    evaluation = evaluate_exact(problem, policy, tail=tail)
    return DPResult(policy=policy, objective=objective, average_cost=evaluation.average_cost,
                    gain_bounds=bounds, values=values, iterations=it, converged=converged,
                    bound_binding_mass=_binding_mass(problem, evaluation), evaluation=evaluation,
                    engine="explicit", action_bound=None, seconds=time.perf_counter() - t0,
                    built_mdp=mdp)


def _binding_mass(problem: Problem, evaluation: ExactEvaluation) -> float:
    """Long-run probability that the artificial position bound limits the order."""
    if problem.capacity_binds:  # a real capacity: binding is the problem's, not an artefact
        return 0.0
    ch = evaluation.chain
    k = problem.position_slots - (problem.fold if ch.space.reduced else 0)
    pos = ch.states[:, :k].sum(axis=1) + ch.orders
    at_bound = pos + problem.order_multiple > problem.bound
    if problem.max_order is not None:
        at_bound &= ch.orders < problem.max_order_units
    return float(evaluation.stationary[at_bound].sum())


def _solve_matrix_free(problem: Problem, *, objective: Objective, tol: float, eval_sweeps: int,
                       tau: float | None, max_iter: int, tail: float, max_states: int,
                       action_bound: Literal["auto", "none"],
                       progress: Callable[[int, float, float], None] | None,
                       t0: float) -> DPResult:
    """:func:`solve_dp` by the matrix-free engine, wrapped as a :class:`DPResult`."""
    from replenish.solvers.dp_matrix_free import check_memory, solve_matrix_free

    check_memory(problem, table=True)  # a one-line refusal before anything is allocated
    space = StateSpace(problem, reduced=True)
    n = space.count()
    if n > max_states:
        raise SpecError("problem.bound", problem.bound,
                        f"{n:,} states exceed the tabular limit of {max_states:,}; lower the bound "
                        "or capacity, or use DQN")
    r = solve_matrix_free(problem, objective=objective, tol=tol, eval_sweeps=eval_sweeps, tau=tau,
                          max_iter=max_iter, tail=tail, action_bound=action_bound, progress=progress)
    states = r.space.states()
    order = np.argsort(space.encode(states), kind="stable")  # the table's (key) order
    policy = TablePolicy(problem=problem, states=states[order], orders=r.orders[order],
                         reduced=True, label="dp")
    evaluation = evaluate_exact(problem, policy, tail=tail)
    return DPResult(policy=policy, objective=objective, average_cost=evaluation.average_cost,
                    gain_bounds=r.gain_bounds, values=r.values[order], iterations=r.iterations,
                    converged=r.converged, bound_binding_mass=_binding_mass(problem, evaluation),
                    evaluation=evaluation, engine="matrix-free", action_bound=r.action_bound,
                    seconds=time.perf_counter() - t0, interrupted=r.interrupted)


# ============================================================================
# The optimum used for gaps, and the "dp" method (CLI / TOML)
# ============================================================================
#: Largest reduced state space on which the DP optimum is computed for gaps.
DP_STATE_LIMIT = 3_000_000
#: Largest memory (bytes) the DP's state-action and transition arrays may take.
DP_MEMORY_LIMIT = 2 * 2**30


@lru_cache(maxsize=32)
def optimal_average_cost(problem: Problem) -> float | None:
    """DP-optimal long-run average cost, or ``None`` when the state space is too large.

    Cached per problem (problems are frozen and hashable): every method's gap
    reuses one solve.
    """
    try:
        n = StateSpace(problem, reduced=True).count()
    except SpecError:
        return None
    if n > DP_STATE_LIMIT:
        return None
    try:
        return solve_dp(problem, objective="average").average_cost
    except SpecError as exc:
        if exc.field != "problem.bound":
            raise
        return None  # the DP would need more memory than DP_MEMORY_LIMIT


#: Options of the ``[dp]`` table (keywords of :func:`solve_dp`).
DP_OPTIONS: dict[str, Any] = {"objective": str, "tol": (int, float), "eval_sweeps": int,
                              "tau": (int, float), "engine": str, "action_bound": str}


def dp_method(problem: Problem, *, options: dict[str, Any], seed: int,
              progress: bool) -> MethodOutput:
    """Optimal policy by DP (``[dp]`` table: objective, tol, eval_sweeps, tau, engine,
    action_bound)."""
    check_keys(options, DP_OPTIONS, "dp")
    engine = options.get("engine", "auto")
    bar = None
    if progress and (engine == "matrix-free" or (engine == "auto" and
                                                 choose_engine(problem) == "matrix-free")):
        from replenish.core.progress import progress_bar
        from replenish.solvers.dp_matrix_free import check_memory

        est = check_memory(problem, table=True)  # refused here, before anything is allocated
        bar = progress_bar(total=None, desc=f"dp (matrix-free, {est})", unit="sweep")

        def sweep(it: int, lo: float, hi: float) -> None:
            bar.set_postfix(gain=f"[{lo:.6g}, {hi:.6g}]")
            bar.update(1)

        options = {**options, "progress": sweep}
    try:
        r = solve_dp(problem, **options)
    finally:
        if bar is not None:
            bar.close()
    e = r.evaluation
    ev = Evaluation.from_exact(e)
    extras = {"objective": r.objective, "iterations": r.iterations, "converged": r.converged,
              "gain_bounds": list(r.gain_bounds) if r.gain_bounds else None,
              "interrupted": r.interrupted,
              "n_states": int(r.values.shape[0]), "engine": r.engine,
              "action_bound": r.action_bound,
              "bound": problem.bound, "bound_binding_mass": r.bound_binding_mass,
              "truncation_mass": e.truncation_mass}
    opt = r.average_cost if r.objective == "average" else None
    return MethodOutput(policy=r.policy, params={"objective": r.objective}, extras=extras,
                        evaluation=ev, optimal_average_cost=opt)
