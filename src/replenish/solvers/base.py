"""What every method returns: :class:`MethodOutput` (the solvers' common result).

A method is a function ``fn(problem, *, options, seed, progress) -> MethodOutput``;
:mod:`replenish.solvers.catalogue` lists them and evaluates their policies on
the common footing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from replenish.evaluation.evaluate import Evaluation
from replenish.model.spec import Problem
from replenish.policies.base import Policy


@dataclass(frozen=True)
class LearnerOptions:
    """A learner's ``[table]`` split into its config object and its run switches.

    Attributes:
        config: the config dataclass (``DQNConfig``, ``DCLConfig``).
        logdir, checkpoint_dir: folders (``None``: none); ``resume``: continue a checkpoint.
    """

    config: Any
    logdir: str | None
    checkpoint_dir: str | None
    resume: bool


def learner_options(options: dict[str, Any], config_cls: type, run_keys: dict[str, Any],
                    table: str, *, variant_field: str | None = None) -> LearnerOptions:
    """Check a learner's ``[table]`` (its config's fields plus ``run_keys``; one-line
    :class:`~replenish.core.validate.SpecError`), move ``variant`` to ``variant_field`` when
    given, turn ``hidden`` into a tuple and build the config."""
    from replenish.core.validate import check_keys, option_types

    check_keys(options, option_types(config_cls) | run_keys, table)
    opts = dict(options)
    run = {k: opts.pop(k) for k in list(opts) if k in run_keys}
    if variant_field is not None and "variant" in run:
        opts[variant_field] = run.pop("variant")
    if "hidden" in opts:
        opts["hidden"] = tuple(opts["hidden"])
    return LearnerOptions(config_cls(**opts), run.get("logdir"), run.get("checkpoint_dir"),
                          bool(run.get("resume", False)))


@dataclass(frozen=True)
class MethodOutput:
    """What a method returns.

    Attributes:
        policy: the policy found.
        params: JSON-serialisable parameters (``{"level": 7}``, hyperparameters).
        extras: anything else worth reporting (learning curves, iterations...),
            JSON-serialisable.
        evaluation: an evaluation the method already computed exactly (skips
            re-evaluation), or ``None``.
        optimal_average_cost: the DP optimum if the method computed it.
    """

    policy: Policy
    params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    optimal_average_cost: float | None = None


def exact_evaluation_fits(problem: Problem, *, reduced: bool, limit: int) -> bool:
    """True when the ``reduced`` (or full) state space of ``problem`` has at most ``limit`` states:
    the learners' ``eval_mode = "auto"`` test.  A space too large even to index (long lead
    times, :class:`~replenish.model.statespace.StateSpace` refuses it) does not fit."""
    from replenish.core.validate import SpecError
    from replenish.model.statespace import StateSpace

    try:
        return StateSpace(problem, reduced=reduced).count() <= limit
    except SpecError:
        return False


class MethodFn(Protocol):
    """The signature of every method function."""

    def __call__(self, problem: Problem, *, options: dict[str, Any], seed: int,
                 progress: bool) -> MethodOutput: ...


def run_trainer(make: Any, *, config: Any, config_type: type, seed: Any, resume: bool,
                checkpoint_dir: Any) -> Any:
    """The common start of a learner's ``train_*`` function: validate ``config`` (an
    instance of ``config_type``), ``seed`` and ``resume``, run ``make(int(seed))`` (the
    trainer), restore its checkpoint when resuming and train, with torch limited to
    ``config.threads`` threads (restored afterwards)."""
    import torch

    from replenish.core.validate import require, require_count

    require(isinstance(config, config_type), "config", config, f"must be a {config_type.__name__}")
    require_count(seed, "seed", 0)
    if resume:
        require(checkpoint_dir is not None, "resume", resume, "needs a checkpoint folder (--out)")
    old_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        trainer = make(int(seed))
        if resume:
            trainer.restore()
        return trainer.train()
    finally:
        torch.set_num_threads(old_threads)


class HiddenLayersIO:
    """``to_dict``/``from_dict`` of a learner's frozen config dataclass whose ``hidden``
    layer sizes are a tuple (a list in JSON and TOML); shared by ``DQNConfig`` and
    ``DCLConfig``."""

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = asdict(self)  # type: ignore[call-overload]
        if d["hidden"] is not None:  # None: a budget resolved by the learner (DCLConfig)
            d["hidden"] = list(d["hidden"])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        data = dict(data)
        if "hidden" in data and isinstance(data["hidden"], list):
            data["hidden"] = tuple(data["hidden"])
        return cls(**data)
