"""Exact evaluation of a stationary policy through its Markov chain.

Given a problem with a known demand distribution and any policy, the states
reachable from a start state are found breadth-first (calling the policy on
whole layers at once and, for every demand value, the one compiled
:func:`~replenish.model.dynamics.transition`, its successor reduced and
truncated by :func:`~replenish.model.dynamics.reduce_state` and
:func:`~replenish.model.dynamics.clip_backlog`), the transition matrix ``P``
and expected one-period costs ``c`` are assembled, and the long-run
average cost is ``g = π·c`` with ``π`` the stationary distribution (``π P = π``,
``Σπ = 1``), obtained by a sparse direct solve on the closed class.  Periodic chains (weekday demand) need no
special treatment: the stationary equations have a unique solution on an
irreducible class whatever its period.  If several closed classes are
reachable, ``g`` is their gains weighted by the absorption probabilities from
the start state (Puterman 1994, §8.3).

Exactness: demand pmfs are truncated at ``tail`` (default ``1e-12``) upper-tail
mass; under backorders the net inventory (``α + β_1`` on reduced states) is
truncated at ``−backlog_bound`` (:func:`~replenish.model.dynamics.clip_backlog`)
and the stationary probability of such clipping is reported as
``truncation_mass``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_limits

from replenish.core.validate import SpecError
from replenish.model.demand import TAIL
from replenish.model.dynamics import COST_COLUMNS, clip_backlog_rows, clip_orders, kernels, total_cost
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.policies.base import Policy

_k = kernels()
transition, reduce_state, clip_backlog = _k.transition, _k.reduce_state, _k.clip_backlog

@dataclass(frozen=True)
class PolicyChain:
    """The Markov chain of a policy on the states reachable from a start state.

    Attributes:
        space: coordinates used (reduced when the policy allows it).
        states: int64 (n, dim) reachable states, sorted by key.
        orders: int64 (n,) the policy's order in each state.
        P: (n, n) sparse transition matrix (CSR).
        costs: float64 (n, 5) expected holding, stockout, ordering, revenue, waste.
        demand, served, short, on_hand, expired: float64 (n,) expected demand,
            units served, units short, end-of-day on-hand stock and units expired.
        stockout: float64 (n,) probability that some demand is not served.
        clipped: float64 (n,) probability of clipping at the backlog bound.
        start: index of the start state.
    """

    space: StateSpace
    states: np.ndarray
    orders: np.ndarray
    P: sp.csr_matrix
    costs: np.ndarray
    demand: np.ndarray
    served: np.ndarray
    short: np.ndarray
    on_hand: np.ndarray
    stockout: np.ndarray
    clipped: np.ndarray
    start: int
    expired: np.ndarray


#: Columns of the per-state accumulator of :func:`_layer`.
_ACC = (*COST_COLUMNS, "demand", "served", "short", "on_hand", "stockout", "clipped", "expired")


@dataclass(frozen=True)
class ExactEvaluation:
    """Long-run average performance of a policy, computed exactly.

    Attributes:
        average_cost: ``g`` ($/period), long-run average cost.
        breakdown: $/period by component: holding, stockout, ordering, revenue,
            waste (``g = holding + stockout + ordering − revenue + waste``).
        fill_rate: fraction of demand served from stock on the day.
        stockout_probability: long-run fraction of days with unmet demand.
        average_on_hand: average end-of-day on-hand stock (units).
        waste_rate: units expired per unit ordered, in the long run (0 for a
            product that keeps).
        n_states: number of reachable states.
        truncation_mass: long-run probability of clipping at the backlog bound.
        chain: the underlying :class:`PolicyChain`.
        stationary: float64 (n,) limiting distribution from the start state.
    """

    average_cost: float
    breakdown: dict[str, float]
    fill_rate: float
    stockout_probability: float
    average_on_hand: float
    n_states: int
    truncation_mass: float
    chain: PolicyChain = field(repr=False)
    stationary: np.ndarray = field(repr=False)
    waste_rate: float = 0.0


def _demand_table(problem: Problem, tail: float) -> np.ndarray:
    """pmfs (P, M+1) of each phase, zero-padded to a common length."""
    pmfs = [problem.demand.pmf(w, tail=tail) for w in range(problem.period)]
    M = max(len(p) for p in pmfs)
    out = np.zeros((problem.period, M))
    for w, p in enumerate(pmfs):
        out[w, : len(p)] = p
    return out


def demand_support(pmf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per phase, the demand values with positive mass, ascending.

    Empirical pmfs of large series are sparse (~50 values spread over
    thousands), so the compiled loops visit only these.  Returns ``(supp,
    nsupp)``: int64 (P, max count) values, zero-padded, and int64 (P,) counts.
    """
    nsupp = (pmf > 0).sum(axis=1).astype(np.int64)
    supp = np.zeros((pmf.shape[0], max(1, int(nsupp.max()))), dtype=np.int64)
    for w in range(pmf.shape[0]):
        supp[w, : nsupp[w]] = np.flatnonzero(pmf[w] > 0)
    return supp, nsupp


def _phase(problem: Problem, full: np.ndarray) -> np.ndarray:
    if problem.seasonal:
        return full[:, -1]
    return np.zeros(full.shape[0], dtype=np.int64)



@nb.njit(cache=True)
def _layer(full, orders, phase, pmf, supp, nsupp, lead_time, rules, period, cost, fold, n_stock,
           offsets, strides, rows, keys, probs, acc):  # pragma: no cover
    """Successors of one BFS layer: every state × every demand value of its phase.

    Calls the one :func:`~replenish.model.dynamics.transition` on the full
    states ``full`` (representatives when ``reduced``), reduces the successor
    (:func:`~replenish.model.dynamics.reduce_state`) when ``reduced`` and
    truncates it at the lowest represented net inventory
    (:func:`~replenish.model.dynamics.clip_backlog`); writes (row, successor
    key, probability) triples, merging consecutive equal successors, and
    accumulates the expected costs and flows of each row in ``acc`` (n, 12,
    columns :data:`_ACC`).  ``fold`` is ``Problem.fold`` on reduced
    coordinates, else 0 (then ``reduce_state`` leaves a state as it is);
    ``n_stock`` the number of on-hand entries.  Returns the number of triples
    written.
    """
    n, d = full.shape
    out = np.empty(d, dtype=np.int64)
    dim = offsets.shape[0]
    low = offsets[0]
    t = 0
    for i in range(n):
        w = phase[i]
        last = -1
        for j in range(nsupp[w]):
            dem = supp[w, j]
            pd = pmf[w, dem]
            hc, sc, oc, rc, wc, served, short, expired = transition(
                full[i], orders[i], dem, lead_time, rules, period, cost, out)
            on_hand = max(out[0], 0)  # α, before the reduction folds it into β_1
            for c in range(1, n_stock):
                on_hand += out[c]
            r = reduce_state(out, fold)  # the successor in the chain's coordinates is out[r:]
            out[r], clipped = clip_backlog(out[r], low)
            key = 0
            for c in range(dim):
                key += (out[r + c] - offsets[c]) * strides[c]
            acc[i, 0] += pd * hc
            acc[i, 1] += pd * sc
            acc[i, 2] += pd * oc
            acc[i, 3] += pd * rc
            acc[i, 4] += pd * wc
            acc[i, 5] += pd * dem
            acc[i, 6] += pd * served
            acc[i, 7] += pd * short
            acc[i, 8] += pd * on_hand
            acc[i, 9] += pd * (1.0 if short > 0 else 0.0)
            acc[i, 10] += pd * (1.0 if clipped else 0.0)
            acc[i, 11] += pd * expired
            if key == last:
                probs[t - 1] += pd
                continue
            rows[t] = i
            keys[t] = key
            probs[t] = pd
            last = key
            t += 1
    return t


#: Most transitions (state × demand value pairs) a chain may hold: 100 million take about
#: 2.4 GB while built; past it :func:`build_chain` refuses before allocating.
CHAIN_TRANSITION_LIMIT = 100_000_000


def build_chain(problem: Problem, policy: Policy, *, start: np.ndarray | None = None,
                tail: float = TAIL, max_states: int = 5_000_000) -> PolicyChain:
    """Markov chain of ``policy`` on ``problem`` from ``start`` (default: empty)."""
    space = StateSpace(problem, reduced=policy.uses_reduced_state)
    pmf = _demand_table(problem, tail)
    start_full = problem.start_state() if start is None else np.asarray(start, dtype=np.int64)
    frontier = clip_backlog_rows(space.reduce(start_full[None, :]), space.offsets[0])
    known = space.encode(frontier)
    start_key = known[0]
    parts: list[tuple] = []
    supp, nsupp = demand_support(pmf)
    fold = problem.fold if space.reduced else 0
    total = 0  # transitions so far
    while frontier.shape[0]:
        full = np.ascontiguousarray(space.expand(frontier))
        orders = np.ascontiguousarray(clip_orders(problem, full, policy.act(full)))
        phase = np.ascontiguousarray(_phase(problem, full))
        src = space.encode(frontier)
        k = full.shape[0]
        cap = k * supp.shape[1]
        if total + cap > CHAIN_TRANSITION_LIMIT:  # checked before allocating (24 bytes a transition)
            raise SpecError("problem.bound", problem.bound,
                            f"the chain needs more than {CHAIN_TRANSITION_LIMIT:,} transitions "
                            f"({known.size:,}+ states x {supp.shape[1]:,} demand values); exact "
                            "evaluation is not practical, evaluate by simulation")
        acc = np.zeros((k, len(_ACC)))
        rows = np.empty(cap, dtype=np.int64)
        nk = np.empty(cap, dtype=np.int64)
        pr = np.empty(cap)
        t = _layer(full, orders, phase, pmf, supp, nsupp, problem.lead_time, problem.rules,
                   problem.period, problem.cost_params(), fold, problem.stock_slots,
                   space.offsets, space.strides, rows, nk, pr, acc)
        nk, pr = nk[:t], pr[:t]
        total += t
        parts.append((src, orders, acc, src[rows[:t]], nk, pr))
        new = np.unique(nk)
        new = new[~np.isin(new, known, assume_unique=True)]
        known = np.union1d(known, new)
        if known.size > max_states:
            raise SpecError("problem.bound", problem.bound,
                            f"more than {max_states:,} reachable states; exact evaluation is "
                            "not practical, evaluate by simulation")
        frontier = space.decode(new)
    keys = np.concatenate([p[0] for p in parts])
    order = np.argsort(keys)
    keys = keys[order]
    orders = np.concatenate([p[1] for p in parts])[order]
    acc = np.concatenate([p[2] for p in parts])[order]
    rows = np.searchsorted(keys, np.concatenate([p[3] for p in parts]))
    cols = np.searchsorted(keys, np.concatenate([p[4] for p in parts]))
    vals = np.concatenate([p[5] for p in parts])
    n = keys.size
    P = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    P.sum_duplicates()
    return PolicyChain(space=space, states=space.decode(keys), orders=orders, P=P,
                       costs=acc[:, :5], demand=acc[:, 5], served=acc[:, 6], short=acc[:, 7],
                       on_hand=acc[:, 8], stockout=acc[:, 9], clipped=acc[:, 10],
                       start=int(np.searchsorted(keys, start_key)), expired=acc[:, 11])


def _stationary_on_class(P: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
    """Stationary distribution of the irreducible sub-chain ``idx`` of ``P``."""
    n = idx.size
    if n == 1:
        return np.ones(1)
    # dense solve of the stationary equations with one replaced by Σπ = 1;
    # BLAS limited to one thread: on a loaded 2-core machine a threaded solve of
    # a few hundred states is a thousand times slower
    Q = P[idx][:, idx].toarray()
    A = Q.T - np.eye(n)
    A[0, :] = 1.0
    b = np.zeros(n)
    b[0] = 1.0
    with threadpool_limits(limits=1, user_api="blas"):
        pi = np.maximum(np.linalg.solve(A, b), 0.0)
    return pi / pi.sum()


def limiting_distribution(P: sp.csr_matrix, start: int, *, tol: float = 1e-14,
                          max_iter: int = 200_000) -> np.ndarray:
    """Cesàro-limit distribution of the chain ``P`` started in ``start``.

    Small chains (at most 2,000 states) are solved directly on their closed
    classes.  Larger ones use power iteration on the lazy chain
    ``(I + P)/2``, which has the same stationary distributions, converges for
    periodic chains, and from ``start`` reaches the absorption-weighted mixture
    when several closed classes are reachable; sparse LU on multi-dimensional
    inventory chains suffers heavy fill-in, while these chains mix in tens to
    hundreds of steps.
    """
    if P.shape[0] > 2000:
        PT = P.T.tocsr()
        pi = np.zeros(P.shape[0])
        pi[start] = 1.0
        # an L1 change below the rounding noise of an n-term update is unreachable
        tol = max(tol, 8e-16 * P.shape[0])
        for _ in range(max_iter):
            new = 0.5 * (pi + PT @ pi)
            if np.abs(new - pi).sum() < tol:
                return new / new.sum()
            pi = new
        raise RuntimeError(f"stationary distribution did not converge in {max_iter} steps")
    return _direct_limit(P, start)


def _direct_limit(P: sp.csr_matrix, start: int) -> np.ndarray:
    n = P.shape[0]
    ncomp, labels = connected_components(P, directed=True, connection="strong")
    # closed classes: components with no edge leaving them
    coo = P.tocoo()
    leaves = labels[coo.row] != labels[coo.col]
    open_comp = np.zeros(ncomp, dtype=bool)
    open_comp[labels[coo.row[leaves & (coo.data > 0)]]] = True
    closed = np.flatnonzero(~open_comp)
    pi = np.zeros(n)
    if closed.size == 1:
        idx = np.flatnonzero(labels == closed[0])
        pi[idx] = _stationary_on_class(P, idx)
        return pi
    # several closed classes: weight each by its absorption probability from start
    in_closed = np.isin(labels, closed)
    trans = np.flatnonzero(~in_closed)
    absorb = np.zeros(closed.size)
    if in_closed[start]:
        absorb[np.searchsorted(closed, labels[start])] = 1.0
    else:
        pos = {c: i for i, c in enumerate(closed)}
        Q = P[trans][:, trans].tocsc()
        R = P[trans].tocsc()
        Rc = np.zeros((trans.size, closed.size))
        Rcoo = R.tocoo()
        for r, c, v in zip(Rcoo.row, Rcoo.col, Rcoo.data, strict=True):
            if in_closed[c]:
                Rc[r, pos[labels[c]]] += v
        Bm = spla.spsolve(sp.identity(trans.size, format="csc") - Q, Rc)
        Bm = np.atleast_2d(Bm).reshape(trans.size, closed.size)
        absorb = Bm[np.searchsorted(trans, start)]
    for j, c in enumerate(closed):
        if absorb[j] > 0:
            idx = np.flatnonzero(labels == c)
            pi[idx] = absorb[j] * _stationary_on_class(P, idx)
    return pi / pi.sum()


def evaluate_exact(problem: Problem, policy: Policy, *, start: np.ndarray | None = None,
                   tail: float = TAIL, max_states: int = 5_000_000) -> ExactEvaluation:
    """Long-run average cost of ``policy`` from its stationary distribution.

    Args:
        problem: problem with a known demand distribution.
        policy: any policy; evaluated on reduced states when
            ``policy.uses_reduced_state``.
        start: full start state (default: empty, phase 0); matters only if
            several closed classes are reachable.
        tail: demand pmf truncation mass.
        max_states: refuse (with :class:`SpecError`) chains larger than this.
    """
    chain = build_chain(problem, policy, start=start, tail=tail, max_states=max_states)
    pi = limiting_distribution(chain.P, chain.start)
    resid = np.abs(pi @ chain.P - pi).sum()
    # an L1 residual of rounding size grows with the number of states (1e-9 at 1,000;
    # a base-stock chain of Zipkin's L = 5 instance, 1.1M states, solves to 1.07e-9):
    # the check is there for failed solves, which leave residuals of order 1e-3 and more
    if not resid < 1e-12 * max(pi.size, 1000):
        raise RuntimeError(f"stationary solve inaccurate (residual {resid:.2e})")
    comp = pi @ chain.costs
    breakdown = dict(zip(COST_COLUMNS, (float(x) for x in comp), strict=True))
    g = total_cost(comp)
    dem = float(pi @ chain.demand)
    ordered = float(pi @ chain.orders)
    return ExactEvaluation(
        average_cost=float(g), breakdown=breakdown,
        fill_rate=float(pi @ chain.served) / dem if dem > 0 else 1.0,
        stockout_probability=float(pi @ chain.stockout),
        average_on_hand=float(pi @ chain.on_hand), n_states=int(chain.states.shape[0]),
        truncation_mass=float(pi @ chain.clipped), chain=chain, stationary=pi,
        waste_rate=float(pi @ chain.expired) / ordered if ordered > 0 else 0.0)
