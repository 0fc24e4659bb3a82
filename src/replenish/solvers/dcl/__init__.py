"""Deep controlled learning (DCL): approximate policy iteration with a classifier policy.

The idea is from Temizöz, Imdahl, Dijkman, Lamghari-Idrissi & van Jaarsveld
(2025), *Deep controlled learning for inventory control*, European Journal of
Operational Research; this implementation is written from the idea, not from
their code.  Starting from the best capped base-stock policy ``π_0`` (Xin 2021;
exact search when the chain is tabulable), each generation ``g = 1, 2, ...``:

1. **sample** ``states`` states visited by ``π_{g−1}`` (independent paths, each
   after ``warmup`` periods from the empty state);
2. **label** each sampled state ``s``: the candidates are the grid actions
   ``a`` within ``± window`` of ``π_{g−1}(s)`` that are feasible; the cost of
   a candidate is estimated by ``rollouts`` simulations of ``1 + horizon``
   periods — the first with the order ``a``, then ``π_{g−1}`` — through the
   compiled dynamics (:func:`replenish.model.dynamics.step`, all rollouts of a
   batch advanced together, one batched ``act`` per period).  All candidates of
   a state are rolled out on the *same* demand paths (common random numbers),
   so their differences carry far less noise than their levels.  The label is
   the candidate with the lowest mean cost, **unless** the paired difference to
   ``π_{g−1}(s)``'s own cost is not significant: its mean must lie below
   ``−significance`` standard errors, else the label stays ``π_{g−1}(s)``
   (exact ties included).  Where the rollouts cannot tell the candidates apart,
   the policy is left as it is instead of being moved by noise;
3. **fit** a fresh MLP classifier (torch; the DQN's observation features with
   the demand-scaled position, :class:`replenish.policies.dqn.Observation`) by
   cross-entropy over the feasible actions; ``π_g(s)`` is its argmax over the
   feasible orders (a :class:`~replenish.policies.dqn.DQNPolicy` whose
   "values" are logits, labelled ``dcl``, saved as a ``.pt`` file that
   ``replenish evaluate`` reads with ``torch.load(weights_only=True)``);
4. **evaluate** ``π_g`` exactly (stationary distribution) when the chain is
   tabulable, else by simulation on fixed demand; the best generation is kept.

Average cost.  The objective is the long-run average cost ``g(π)``.  A rollout
of ``1 + H`` periods from ``s`` with first order ``a`` estimates
``Q_H(s, a) = c(s, a) + E[Σ_{t=1}^{H} c_t] ≈ (1 + H)·g + h(s, a)``: the
average cost times the horizon plus the relative (bias) value of the
post-decision state.  Every candidate of a state is rolled out over the same
``1 + H`` periods on the same demand, so the ``(1 + H)·g`` term is the same for
all of them and cancels in their comparison: the argmin of ``Q_H`` is the
argmin of the differential value, without estimating ``g``.  What remains is
the truncation: the paths of two candidates differ at time ``H`` only while
they have not coupled (under lost sales with common demand, paths with
different pipelines merge once the extra or missing units are sold or lost),
so ``horizon`` must exceed the time the effect of one order lasts — a few lead
times.

Budget.  ``generations``, ``states``, ``rollouts``, ``hidden`` and ``significance``
left unset follow the cost of a rollout (:meth:`DCLConfig.resolved`): where the current
policy is tabulated and the rollouts run in one compiled loop (chains of at most
``exact_states`` states, ``L <= 4`` on Zipkin's instances) 10 generations of 20,000
states, 256 rollouts per candidate, a 128×128 classifier and a label threshold of 0.25
standard errors (every generation is evaluated exactly and the best kept, so a label
switched on noise costs little; 1.0 left the long-tailed geometric instances at 0.27%,
0.5 at 0.12%);
else (every rollout period a forward pass of the network) 3 generations of 10,000
states, 128 rollouts, 64×64 and 1.0 standard error, the classifier's outputs trimmed
to its largest label (``trim_outputs``: the output layer, mask and argmax over the
whole order grid were most of a rollout period's cost) and the rollouts advanced 32k
rows at a time (the forward pass stays in cache).  Measured (``benchmarks/frontier.py``;
tables in ``benchmarks/RESULTS.md``): the first budget reaches exact gaps of
0–0.0165% on all 16 of Zipkin's Poisson instances (every seed run) and mean 0.0119%, max
0.077% on the 16 geometric ones (seed 0; 0.081% with seed 2 at ``L = 4, p = 39``), where
the second stopped at 0.02–0.4% at ``L = 3, 4``, in 3–8 CPU minutes per instance;
label precision (rollouts, the threshold) mattered more than generations.

The package, in reading order: :mod:`~replenish.solvers.dcl.config`
(:class:`DCLConfig`, no torch), :mod:`~replenish.solvers.dcl.rollouts`
(sampling, candidate windows, CRN rollouts, labels; numpy and numba, no torch),
:mod:`~replenish.solvers.dcl.trainer` (:class:`DCLTrainer`, :func:`train_dcl`,
:class:`DCLResult`, checkpoints), :mod:`~replenish.solvers.dcl.method`
(:func:`dcl_method`, the catalogue entry).

The names below other than :class:`DCLConfig` are imported on first use
(PEP 562), so ``import replenish.solvers.dcl`` does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replenish.core.lazy import lazy_exports
from replenish.solvers.dcl.config import DCLConfig

#: public name → submodule that defines it (imported on first access)
_EXPORTS: dict[str, str] = {
    **{name: "replenish.solvers.dcl.trainer" for name in (
        "CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "DCLResult", "DCLTrainer", "train_dcl")},
    "dcl_method": "replenish.solvers.dcl.method",
}

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "DCLConfig", "DCLResult", "DCLTrainer", "dcl_method",
           "train_dcl"]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from replenish.solvers.dcl.method import dcl_method
    from replenish.solvers.dcl.trainer import (
        CHECKPOINT_FORMAT,
        CHECKPOINT_NAME,
        DCLResult,
        DCLTrainer,
        train_dcl,
    )
