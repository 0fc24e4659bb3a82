"""``replenish tune``: Optuna studies over the learners' hyperparameters, with pruning.

``replenish tune CONFIG --method qlearning|dqn [--trials N] [--storage URL]``
searches the hyperparameters of a learner on the config's problem with Optuna
(Akiba et al. 2019, *Optuna: a next-generation hyperparameter optimization
framework*, KDD): the TPE sampler (Bergstra et al. 2011, *Algorithms for
hyper-parameter optimization*, NeurIPS) proposes hyperparameters and the
median pruner stops trials whose intermediate evaluations are worse than the
median of earlier trials at the same point (after 4 finished trials; for DQN
not before half of a run: its early evaluations fall in the ε-greedy
exploration phase and say little about the final policy).

Objective (minimised).  The trial's policy is evaluated like every method
(:func:`replenish.methods.solve`: exact long-run average cost when the chain is
tabulable, else simulation).  When the DP optimum ``g*`` is computable the
objective is the relative gap ``(g − g*)/|g*|``, else the average cost $/period.
For a ``[demand] kind = "history"`` config this is the cost under the model
fitted on the **training window**: the test window is never used for tuning.
With ``repeats = R`` the trial trains ``R`` times (seeds ``seed, seed + 1,
...``) and the objective is the mean.

Intermediate evaluations (what the pruner sees):

* ``dqn`` — through the ``callback`` hook of
  :func:`replenish.solvers.dqn.train_dqn`: every ``report_every`` transitions
  the greedy policy of the current network is evaluated the same way
  (exactly when tabulable) and reported at step ``r·steps + t`` (repeat ``r``,
  transition ``t``); a pruned trial stops training at once.
* ``qlearning`` — :func:`replenish.solvers.qlearning.train_qlearning` has no
  hook to stop mid-run, so the intermediate values are the running mean of the
  objective after each repeat (reported at step ``(r + 1)·steps``): with
  ``repeats >= 2`` a poor configuration is stopped after its first run.

The first trial of a new study is the method's defaults (enqueued), so the
study reports how much tuning gains over them at the same training budget
(``default_value`` vs ``best_value``).

Storage.  The study lives in ``--storage`` (any SQLAlchemy URL, e.g.
``postgresql://user@host/db``, which lets several machines work on one study)
or by default in the SQLite file ``OUT/tune.db``; studies are created with
``load_if_exists``, so rerunning the same command resumes: ``--trials N`` is the
number of finished (complete or pruned) trials the study should reach, and
only the missing ones run.  A trial interrupted by a crash stays ``RUNNING``
in the storage and does not count; the storage's heartbeat (every 60 s) lets
the next start mark it failed once it is 180 s stale, and re-queue the
defaults trial if that was the one lost.  A trial of a dead process on this
machine (its host and process id are recorded) is marked failed at once; with
the sampler seeded before each trial from the number of finished trials, the
rerun's sampler proposes that trial's point again, so a run killed and rerun
ends with the same finished trials, best parameters and values as an
uninterrupted run.  (The killed trial's parameters are not queued instead: a
kill while the objective draws them leaves only some of them recorded, and a
queued partial point makes the sampler draw the rest from a different stream.)

Output (``--out``, default ``tune-output``): ``tune.db``, ``best-METHOD.toml``
(the best parameters as a TOML snippet to paste into the config, with the
study's figures in comments) and ``tune-METHOD.json`` (trials and summary).

Search spaces: the catalogue's ``tune_space`` of each method (:func:`search_space`); the
first trial of a new study is the method's defaults (:func:`default_params`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.io import atomic_write, json_default, pid_alive
from replenish.core.validate import MissingDependency, SpecError, require, require_count
from replenish.model.spec import Problem

#: Keys of the ``[tune]`` table.
TUNE_KEYS: dict[str, type | tuple[type, ...]] = {
    "method": str, "trials": int, "steps": int, "repeats": int, "report_every": int, "seed": int,
    "storage": str, "study": str, "timeout": (int, float)}


def qlearning_space(trial: Any) -> dict[str, Any]:
    """Search space of Q-learning's default variant (:class:`QLearningConfig`)."""
    return {"variant": "default",
            "epsilon": trial.suggest_float("epsilon", 0.02, 0.5),
            "warmup_fraction": trial.suggest_float("warmup_fraction", 0.0, 0.5),
            "step_size_scale": trial.suggest_float("step_size_scale", 1.0, 30.0, log=True),
            "confidence": trial.suggest_float("confidence", 0.5, 6.0),
            "episode_length": trial.suggest_categorical("episode_length", [100, 1000, 10000])}


def dqn_space(trial: Any) -> dict[str, Any]:
    """Search space of DQN (:class:`~replenish.solvers.dqn.DQNConfig`); ``hidden`` is searched as
    the strings ``"64,64"`` etc. (Optuna's categorical choices must be scalars)."""
    hidden = trial.suggest_categorical("hidden", ["32,32", "64,64", "128,128", "64,64,64"])
    return {"lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
            "n_step": trial.suggest_categorical("n_step", [1, 2, 3, 5]),
            "hidden": [int(h) for h in hidden.split(",")],
            "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
            "target_update": trial.suggest_categorical("target_update", [100, 250, 1000]),
            "eps_fraction": trial.suggest_float("eps_fraction", 0.1, 0.6),
            "gain_rate": trial.suggest_float("gain_rate", 1e-3, 5e-2, log=True),
            "dueling": trial.suggest_categorical("dueling", [False, True]),
            "cost_scale": trial.suggest_categorical("cost_scale", ["warmup", "demand"])}


def tunable() -> tuple[str, ...]:
    """Methods with a search space in the catalogue."""
    from replenish.solvers.catalogue import METHODS

    return tuple(m.name for m in METHODS.values() if m.tune_space is not None)


def search_space(method: str) -> Callable[[Any], dict[str, Any]]:
    """The catalogue's search space of ``method`` (``trial → options``)."""
    from replenish.solvers.catalogue import method_spec

    spec = method_spec(method)
    require(spec.tune_space is not None, "--method", method, f"must be one of {', '.join(tunable())}")
    return spec.load_tune_space()


class _Recorder:
    """A stand-in for an Optuna trial that records each parameter's domain."""

    def __init__(self) -> None:
        self.domains: dict[str, tuple[str, Any]] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.domains[name] = ("float", (low, high))
        return low

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        self.domains[name] = ("categorical", list(choices))
        return choices[0]


def default_params(method: str) -> dict[str, Any]:
    """The method's default options as the search space's parameters.

    Read from the options dataclass itself (``QLearningConfig()``, ``DQNConfig()``),
    so the first trial of a new study is exactly what a user gets without tuning;
    a default outside the space raises (a test runs this for every tunable method).
    """
    from replenish.solvers.catalogue import method_spec

    rec = _Recorder()
    search_space(method)(rec)
    defaults = method_spec(method).load_options()()
    out: dict[str, Any] = {}
    for name, (kind, domain) in rec.domains.items():
        value = getattr(defaults, name)
        if isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        elif value is None and name == "cost_scale":
            value = "warmup"  # None means the warm-up scale
        ok = (domain[0] <= value <= domain[1]) if kind == "float" else value in domain
        if not ok:
            raise AssertionError(f"{method}: default {name} = {value!r} is outside the search space {domain}")
        out[name] = value
    return out


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependency("tune", "Optuna", "tune") from None
    return optuna


# ----------------------------------------------------------------------------
# objective
# ----------------------------------------------------------------------------
def _objective_value(cost: float, optimum: float | None) -> float:
    from replenish.evaluation.evaluate import relative_gap

    gap = relative_gap(cost, optimum)
    return float(cost if gap is None else gap)


def _evaluate(problem: Problem, policy: Any, seed: int) -> float:
    from replenish.evaluation.evaluate import evaluate

    return float(evaluate(problem, policy, rng=np.random.default_rng(seed)).average_cost)


class _Pruned(Exception):
    pass


def _run_trial(trial: Any, problem: Problem, method: str, base: dict[str, Any], *, steps: int | None,
               repeats: int, report_every: int | None, seed: int, optimum: float | None) -> float:
    """Train ``repeats`` times with the trial's parameters; report, prune, return the mean objective."""
    from replenish.solvers.catalogue import solve

    options = {**base, **search_space(method)(trial)}
    if steps is not None:
        options["steps"] = steps
    for k in ("logdir", "checkpoint_dir", "resume"):
        options.pop(k, None)
    values: list[float] = []
    for r in range(repeats):
        if method == "dqn":
            value = _dqn_repeat(trial, problem, options, seed + r, r, report_every, optimum)
        else:
            res = solve(problem, method, options=dict(options), seed=seed + r, with_optimum=False)
            value = _objective_value(res.average_cost, optimum)
        values.append(value)
        mean = float(np.mean(values))
        step = (r + 1) * _steps_of(method, options)
        trial.report(mean, step)
        trial.set_user_attr(f"value_seed_{seed + r}", value)
        if r + 1 < repeats and trial.should_prune():
            raise _optuna().TrialPruned(f"after {r + 1} of {repeats} runs: {mean:.6g}")
    return float(np.mean(values))


def _steps_of(method: str, options: dict[str, Any]) -> int:
    if "steps" in options:
        return int(options["steps"])
    if method == "dqn":
        from replenish.solvers.dqn import DQNConfig

        return DQNConfig().steps
    from replenish.solvers.qlearning import QLearningConfig

    return QLearningConfig().steps


def _dqn_repeat(trial: Any, problem: Problem, options: dict[str, Any], seed: int, r: int,
                report_every: int | None, optimum: float | None) -> float:
    """One DQN training with intermediate evaluations through ``train_dqn``'s ``callback`` hook."""
    from replenish.core.validate import check_keys, option_types
    from replenish.policies.dqn import DQNPolicy, Observation
    from replenish.solvers.dqn import DQNConfig, train_dqn

    opts = dict(options)
    if "variant" in opts:
        opts["objective"] = opts.pop("variant")
    check_keys(opts, option_types(DQNConfig), "dqn")
    if "hidden" in opts:
        opts["hidden"] = tuple(opts["hidden"])
    cfg = DQNConfig(**opts)
    every = report_every or max(1, cfg.steps // 5)
    offset = r * cfg.steps
    obs = Observation.from_problem(problem, reduced=cfg.reduced_obs, max_actions=cfg.max_actions,
                                   action_mode=cfg.action_mode)
    last = [0]
    pruned: list[tuple[int, float]] = []

    def callback(info: dict[str, Any]) -> bool | None:
        t = int(info["step"])
        crossed = t // every > last[0] // every
        last[0] = t
        if not crossed or t >= cfg.steps or t < cfg.learning_starts:
            return None
        net = copy.deepcopy(info["network"]).eval()
        policy = DQNPolicy(problem=problem, network=net, observation=obs, hidden=cfg.hidden,
                           dueling=cfg.dueling)
        value = _objective_value(_evaluate(problem, policy, seed), optimum)
        trial.report(value, offset + t)
        # no pruning in the first half of any run (ε-greedy exploration; the pruner's warm-up
        # covers only the first run)
        if t >= cfg.steps // 2 and trial.should_prune():
            pruned.append((t, value))
            return False  # ends training normally; the trial is then marked pruned
        return None

    res = train_dqn(problem, config=cfg, seed=seed, callback=callback)
    if pruned:
        t, value = pruned[0]
        raise _optuna().TrialPruned(f"at step {offset + t}: {value:.6g}")
    return _objective_value(_evaluate(problem, res.policy, seed), optimum)


# ----------------------------------------------------------------------------
# the study
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TuneResult:
    """The outcome of :func:`tune`.

    Attributes:
        method: the tuned method.
        study_name: the study's name in the storage.
        storage: the storage URL.
        objective: ``"gap"`` (relative gap to the DP optimum) or ``"average_cost"``.
        optimum: the DP optimum ($/period) when computable.
        n_complete, n_pruned, n_failed: trials by state (the whole study).
        ran: trials run by this call.
        best_value: the best objective; ``best_params``: its method options.
        default_value: the objective of the defaults (first trial), if it finished.
        trials: ``{"number", "state", "value", "params"}`` per trial.
        snippet: the TOML snippet of the best parameters.
        seconds: wall time of this call.
    """

    method: str
    study_name: str
    storage: str
    objective: str
    optimum: float | None
    n_complete: int
    n_pruned: int
    n_failed: int
    ran: int
    best_value: float | None
    best_params: dict[str, Any]
    default_value: float | None
    trials: list[dict[str, Any]] = field(repr=False)
    snippet: str = field(repr=False)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "study": self.study_name, "storage": self.storage,
                "objective": self.objective, "optimum": self.optimum, "n_complete": self.n_complete,
                "n_pruned": self.n_pruned, "n_failed": self.n_failed, "ran": self.ran,
                "best_value": self.best_value, "best_params": self.best_params,
                "default_value": self.default_value, "seconds": self.seconds, "trials": self.trials}


def best_options(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Method options (``[method]`` table) from Optuna parameters."""
    out = dict(params)
    if method == "dqn" and isinstance(out.get("hidden"), str):
        out["hidden"] = [int(h) for h in out["hidden"].split(",")]
    return out


def toml_snippet(method: str, options: dict[str, Any], comments: list[str]) -> str:
    """A ``[method]`` TOML table (formatted by hand: numbers, booleans, strings, lists)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return repr(float(f"{v:.6g}"))
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise SpecError(f"{method}.options", v, "cannot be written as TOML")

    lines = [f"# {c}" for c in comments] + [f"[{method}]"]
    lines += [f"{k} = {value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _fail_killed(study: Any) -> None:
    """Mark the ``RUNNING`` trials of dead processes on this machine failed.  The reseeded
    sampler proposes their points again and :func:`tune` re-queues a lost defaults trial, so
    a rerun after a kill evaluates the same points as an uninterrupted run (module docstring)."""
    import optuna

    TS = optuna.trial.TrialState
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TS.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or pid_alive(pid):
            continue
        with contextlib.suppress(Exception):  # finished or failed by another process meanwhile
            study._storage.set_trial_state_values(t._trial_id, state=TS.FAIL)


def _create_default_storage(optuna: Any, db: Path, name: str) -> None:
    """Create ``db`` (an SQLite study store holding the empty study ``name``) atomically.

    Optuna creates its tables and their unique indexes in separate statements; a kill between
    them leaves a store without the index on study names, where a rerun can register the study
    twice and then fail on every lookup. Built in a temporary file and renamed into place, the
    store is either absent or whole.
    """
    tmp = db.with_name(f"{db.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rdb = optuna.storages.RDBStorage(f"sqlite:///{tmp.resolve()}")
            optuna.create_study(study_name=name, storage=rdb, direction="minimize")
        rdb.engine.dispose()
        os.replace(tmp, db)
    except BaseException:  # an interrupt or error: leave no half-built file beside the outputs
        tmp.unlink(missing_ok=True)
        raise


def tune(problem: Problem, method: str, *, out: str | Path, trials: int = 20,
         storage: str | None = None, study_name: str | None = None,
         base_options: dict[str, Any] | None = None,
         steps: int | None = None, repeats: int = 1, report_every: int | None = None, seed: int = 0,
         timeout: float | None = None, progress: bool = False) -> TuneResult:
    """Run (or resume) an Optuna study of ``method`` on ``problem`` until it has ``trials`` finished trials.

    Args:
        problem: the problem (for a history config: the model fitted on the training window).
        method: ``"qlearning"`` or ``"dqn"``.
        out: folder for ``tune.db`` (default storage), the TOML snippet and the JSON.
        trials: finished (complete or pruned) trials the study should reach.
        storage: SQLAlchemy URL (default ``sqlite:///OUT/tune.db``).
        study_name: default ``"{problem.name}-{method}"``.
        base_options: fixed method options (the config's ``[method]`` table).
        steps: training steps per run (overrides ``base_options``).
        repeats: training runs (seeds ``seed ..``) per trial; the objective is their mean.
        report_every: DQN transitions between intermediate evaluations (default steps/5).
        seed: seeds the sampler and the training runs (all trials use the same seeds,
            so trials differ by their hyperparameters only).
        timeout: stop starting trials after this many seconds.
        progress: a progress bar over trials on a terminal, else a line every 10% of them.
    """
    optuna = _optuna()
    from replenish.solvers.dp import optimal_average_cost

    require(method in tunable(), "--method", method, f"must be one of {', '.join(tunable())}")
    require_count(trials, "--trials")
    require_count(repeats, "tune.repeats")
    if steps is not None:
        require_count(steps, "--steps")
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "tune.db"
    url = storage or f"sqlite:///{db.resolve()}"
    name = study_name or f"{problem.name}-{method}"
    if storage is None and not db.exists():
        _create_default_storage(optuna, db, name)
    base = dict(base_options or {})
    if method == "qlearning":
        base.setdefault("curve_points", 0)  # the learning curve is not needed for tuning
    optimum = optimal_average_cost(problem)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the heartbeat is "experimental" in Optuna
            rdb = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
    except Exception as exc:  # bad URL, missing driver, unreachable server
        raise SpecError("--storage", url, f"cannot open ({type(exc).__name__}: {exc})".splitlines()[0]) \
            from None
    run_steps = steps if steps is not None else _steps_of(method, base)
    # DQN: no pruning before half the run (the first evaluations fall in the ε-greedy exploration
    # phase and say little about the end); Q-learning reports after whole runs only
    warmup = run_steps // 2 if method == "dqn" else 0
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=warmup)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=rdb, pruner=pruner, direction="minimize",
                                load_if_exists=True)
    # the sampler is seeded afresh before each trial from the number of finished trials, so a run
    # resumed after a kill proposes what an uninterrupted run would, the killed trial's point too
    def reseed(study: Any, trial: Any = None) -> None:
        n = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED)))
        study.sampler = optuna.samplers.TPESampler(seed=seed + n)

    reseed(study)
    meta = {"method": method, "problem": problem.to_dict(), "steps": steps, "repeats": repeats,
            "seed": seed, "base_options": base}
    old = study.user_attrs.get("setup")
    if old is None:
        study.set_user_attr("setup", json.loads(json.dumps(meta, default=json_default)))
    elif json.dumps(old, sort_keys=True) != json.dumps(json.loads(json.dumps(meta, default=json_default)),
                                                         sort_keys=True):
        raise SpecError("--study", name, "exists in the storage with another setup (problem, method, "
                                         "steps, repeats, seed or options); use another study name")
    TS = optuna.trial.TrialState
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)  # trials of a killed run, after the grace period
    _fail_killed(study)  # trials of a killed run on this machine, at once
    live = (TS.COMPLETE, TS.PRUNED, TS.WAITING, TS.RUNNING)
    if not any(t.user_attrs.get("defaults") for t in study.get_trials(deepcopy=False, states=live)):
        # the defaults run first (again, if a killed run lost them)
        # host and pid from the start (the objective sets its runner's): a kill before the
        # objective runs must not leave a RUNNING defaults trial that no rerun re-queues
        study.enqueue_trial(default_params(method), user_attrs={
            "defaults": True, "host": socket.gethostname(), "pid": os.getpid()})

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=(TS.COMPLETE, TS.PRUNED)))

    todo = max(0, trials - finished())
    ran = 0
    if todo:
        def objective(trial: Any) -> float:
            trial.set_user_attr("host", socket.gethostname())
            trial.set_user_attr("pid", os.getpid())
            return _run_trial(trial, problem, method, base, steps=steps, repeats=repeats,
                              report_every=report_every, seed=seed, optimum=optimum)

        n_before = finished()
        callbacks: list[Any] = [reseed]
        bar = None
        if progress:  # a bar on a terminal, a line every 10% of the trials otherwise
            from replenish.core.progress import progress_bar

            bar = progress_bar(total=todo, desc=f"tune {method}", unit="trial")

            def tick(study: Any, trial: Any) -> None:
                bar.update(1)

            callbacks.append(tick)
        try:
            study.optimize(objective, n_trials=todo, timeout=timeout, catch=(SpecError,),
                           callbacks=callbacks, gc_after_trial=True)
        finally:
            if bar is not None:
                bar.close()
        ran = finished() - n_before
    all_trials = study.get_trials(deepcopy=False)
    done = [t for t in all_trials if t.state == TS.COMPLETE]
    best = min(done, key=lambda t: t.value) if done else None
    default = next((t for t in all_trials if t.user_attrs.get("defaults") and t.state == TS.COMPLETE), None)
    objective_name = "gap" if optimum is not None else "average_cost"
    best_params = best_options(method, best.params) if best is not None else {}

    def fmt(v: float | None) -> str:
        if v is None:
            return "—"
        return f"{100 * v:+.3f}% gap" if objective_name == "gap" else f"{v:.4f} $/period"

    comments = [f"replenish tune: study {name!r} ({url}), {len(done)} complete / "
                f"{sum(t.state == TS.PRUNED for t in all_trials)} pruned trials",
                f"problem {problem.name}, steps {steps if steps is not None else 'default'}, "
                f"repeats {repeats}, seed {seed}",
                f"best trial #{best.number if best else '—'}: {fmt(best.value if best else None)}; "
                f"defaults: {fmt(default.value if default else None)}"]
    snippet = toml_snippet(method, {**{k: v for k, v in base.items() if k != "curve_points"},
                                    **({"steps": steps} if steps is not None else {}), **best_params},
                           comments) if best is not None else ""
    trial_rows = [{"number": t.number, "state": t.state.name, "value": t.value,
                   "params": best_options(method, t.params), "defaults": bool(t.user_attrs.get("defaults")),
                   "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())}}
                  for t in all_trials]
    res = TuneResult(method=method, study_name=name, storage=url, objective=objective_name,
                     optimum=optimum, n_complete=len(done),
                     n_pruned=sum(t.state == TS.PRUNED for t in all_trials),
                     n_failed=sum(t.state == TS.FAIL for t in all_trials), ran=ran,
                     best_value=None if best is None else float(best.value), best_params=best_params,
                     default_value=None if default is None else float(default.value), trials=trial_rows,
                     snippet=snippet, seconds=time.perf_counter() - t0)

    if snippet:
        atomic_write(out / f"best-{method}.toml", snippet)
    atomic_write(out / f"tune-{method}.json", json.dumps(res.to_json(), indent=1, default=json_default))
    return res
