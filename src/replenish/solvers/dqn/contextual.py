"""``dqn-context``: the DQN of :mod:`replenish.solvers.dqn` with future demand information.

The algorithm is the plain DQN's (:class:`~replenish.solvers.dqn.trainer.DQNTrainer`);
only the training demand and the observation change:

* **training problem** — a :class:`~replenish.model.demand.DatedDemand` over the
  *training window* only (days ``0 .. train_end − 1`` of the series): day ``t``'s pmf
  is the forecaster's one-day-ahead predictive pmf issued on the evening of day
  ``t − 1``.  Simulated years therefore draw demand from the forecaster's predictive
  distributions over the training window's contexts (promotions, holidays, weather,
  the level of recent sales), and the phase of the state is the day index (it wraps
  to day 0 after the window, as a :class:`DatedDemand` does).  The forecaster is
  fitted on the training window (:func:`~replenish.model.forecast.fit_forecaster`, on the
  horizons 1 .. 14 of the ``lookahead``'s forecaster: :data:`FORECAST_HORIZON`),
  and the training pmfs and tables are computed on the series cut at ``train_end``
  (so the last day's forecast does not read the known-ahead plan of the day after
  the window either): nothing after ``train_end`` enters training.
* **observation** — the one-hot phase is the *weekday* of the day index (not the
  day index: that would be hundreds of inputs), and the demand features
  ``(position − μ_t)/σ_t`` (and the post-decision step ``m·stride/σ_t``) use the
  mean ``μ_t`` and standard deviation ``σ_t`` of the demand over the ``L + 1`` days
  the order placed on the evening before day ``t`` covers, from the forecast issued
  *that evening* (:meth:`Forecaster.pmfs` ``(ctx, t − 1, L + 1)``: sum of the days'
  means, square root of the sum of their variances).  With ``L >= 1`` one more
  column, ``(position − prior_t)/σ_t`` with ``prior_t`` the mean forecast of the ``L``
  days before the order arrives (the expected stock left then): without it a
  promotion tomorrow and one on the arrival day look alike (same ``μ_t``), though
  under lost sales they need very different orders (measured on the synthetic
  promotion series of the tests: it is what makes the policy competitive).  The tables are built for the
  training window (training) and for the whole calendar (the returned policy);
  each entry uses only what is known on the evening before day ``t``.  In the
  training table, the last ``L`` days of the window, whose orders cover days after
  it, take the moments of the training problem's own pmfs (wrapping to day 0 like
  the simulated paths), so training reads nothing after the window.

Objective: discounted, ``γ = 0.9`` by default.  Under the average-cost objective
the relative value of a state accumulates the cost deviations of every later day of
the calendar (seasons, promotion runs), which the observation — weekday and the
next ``L + 1`` days' forecast — cannot see; the targets then carry a large level
error and training drifted (bakery 2/101: the evaluated cost rose from 84 to 151
$/day over the run).  Discounting limits the value to the next days, which the
observation does describe.

The returned :class:`~replenish.policies.dqn.DQNPolicy` acts on the calendar problem
(:func:`~replenish.solvers.contextual.calendar_problem`: phase = day index of the
series), so ``compare`` and :func:`~replenish.workflows.history.replay` run it like
``forecast-base-stock``.  It is saved in the plain DQN's ``.pt`` format: the
observation (with its per-day tables) and the calendar problem are in the JSON
metadata, so a loaded policy gives the same orders on that calendar.

Defaults (:data:`DEFAULTS`) are the settings measured best for the DQN on the
bakery series (``configs/bakery.toml``), plus a simulated evaluation of the
snapshots over one full pass of the training window and the discounted objective
(``γ = 0.9``); a ``[dqn-context]`` table overrides any of them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, check_keys, option_types
from replenish.model.context import Context
from replenish.model.demand import DatedDemand
from replenish.model.forecast import Forecaster
from replenish.model.spec import Problem
from replenish.policies.dqn import DQNPolicy, Observation
from replenish.solvers.base import MethodOutput
from replenish.solvers.contextual import (
    HORIZON,
    ContextData,
    calendar_problem,
    fit_method_forecaster,
    replay_training_window,
)
from replenish.solvers.dqn.config import DQNConfig
from replenish.solvers.dqn.trainer import train_dqn

#: ``[dqn-context]`` defaults: the ``[dqn]`` settings of ``configs/bakery.toml``, the snapshots
#: evaluated by simulation (a calendar problem's chain is not tabulated) and the discounted
#: objective with ``γ = 0.9`` (the relative values of the average-cost objective accumulate
#: the cost deviations of the whole calendar — seasons, promotions — which the observation
#: cannot see; see the module docstring).  Measured on bakery 2/101 (test 2018, seed noise
#: about ±2 %): test cost over forecast-base-stock +6.5 % with ``average``; +2.8 %, +5.9 %,
#: +6.2 % with ``γ = 0.9`` (two seeds, and seed 0 before a one-day change of the training
#: data); +5.8 %, +1.5 % with ``γ = 0.8``.
DEFAULTS: dict[str, Any] = {"steps": 60_000, "demand_features": True, "dueling": True,
                            "post_decision": True, "target_update": 1000, "cost_scale": "demand",
                            "lr_final": 1e-5, "eval_every": 2000, "eval_mode": "simulate",
                            "objective": "discounted", "gamma": 0.9}


#: horizons the forecaster is fitted on (the ``lookahead``'s default, so the two share one
#: forecaster).  The observation needs only ``L + 1`` days, but stacking the horizons 1 .. 14 in
#: one LightGBM model gives it 14 times the training rows, and its one-day forecast is sharper:
#: on the four series where ``dqn-context`` lost most to ``lookahead`` (bakery 71/110, 49/101,
#: 28/101, 2/101; origin 2018, K = 0) the one-day pinball ratio to the weekday model went from
#: 0.859, 0.880, 0.591, 0.719 (fitted on horizons 1 .. 2) to 0.794, 0.827, 0.581, 0.722, and
#: dqn-context's total test cost (seed 0) from 161,878 to 157,177 (1.051 → 1.021 of lookahead).
#: ``forecast-base-stock`` keeps its ``L + 1`` days: with 14 its total on the same series went
#: from 162,055 to 163,323 (better on two, worse on two).
FORECAST_HORIZON = HORIZON

Moments = tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]


def demand_moments(forecaster: Forecaster, ctx: Context, days: np.ndarray, span: int) -> Moments:
    """Mean and standard deviation (at least 1) of the demand of days ``t .. t + span − 1``
    for each ``t`` in ``days``, from the forecast issued on the evening of ``t − 1``, and the
    mean of its first ``span − 1`` days (before the order arrives)."""
    pm = forecaster.pmfs_many(ctx, np.asarray(days, dtype=np.int64) - 1, span)  # (n, span, M + 1)
    k = np.arange(pm.shape[2], dtype=np.float64)
    mu = pm @ k  # (n, span)
    var = pm @ (k * k) - mu * mu
    mean = mu.sum(axis=1)
    std = np.maximum(1.0, np.sqrt(np.maximum(var, 0.0).sum(axis=1)))
    prior = mu[:, :-1].sum(axis=1)
    return (tuple(float(x) for x in mean), tuple(float(x) for x in std),
            tuple(float(x) for x in prior))


def training_moments(forecaster: Forecaster, ctx: Context, train: Problem,
                     span: int) -> Moments:
    """:func:`demand_moments` of the training window's days ``0 .. n − 1`` (``n`` the period of
    ``train``, the :func:`training_problem`); the last ``span − 1`` days, whose forecast would
    cover days after the window, take the moments of ``train``'s own pmfs instead, which wrap
    to day 0 as the simulated paths do (nothing after the window is read)."""
    n = train.period
    first = max(0, n - span + 1)
    mean, std, prior = demand_moments(forecaster, ctx, np.arange(first), span)
    pm = np.asarray(train.demand.pmfs)  # type: ignore[attr-defined]
    k = np.arange(pm.shape[1], dtype=np.float64)
    mu = pm @ k
    var = np.maximum(pm @ (k * k) - mu * mu, 0.0)
    tail_m, tail_s, tail_p = [], [], []
    for t in range(first, n):
        days = [(t + j) % n for j in range(span)]
        tail_m.append(float(mu[days].sum()))
        tail_s.append(float(max(1.0, math.sqrt(var[days].sum()))))
        tail_p.append(float(mu[days[:-1]].sum()))
    return mean + tuple(tail_m), std + tuple(tail_s), prior + tuple(tail_p)


def training_problem(base: Problem, forecaster: Forecaster, ctx: Context, train_end: int) -> Problem:
    """``base`` with a :class:`DatedDemand` over days ``0 .. train_end − 1``: day ``t``'s pmf is
    the one-day-ahead forecast of the evening of ``t − 1`` (reads nothing after the window)."""
    pm = forecaster.pmfs_many(ctx, np.arange(-1, train_end - 1), 1)[:, 0]
    return base.replace(demand=DatedDemand(str(ctx.dates[0]), pm),
                        position_bound=base.bound if base.capacity is None else None)


def dqn_context_method(problem: Problem, *, options: dict[str, Any], seed: int, progress: bool = False,
                       context: ContextData | None = None) -> MethodOutput:
    """``dqn-context`` (module docstring; ``[dqn-context]``: :class:`DQNConfig` fields,
    defaults :data:`DEFAULTS`)."""
    if context is None:
        raise SpecError("method", "dqn-context", "needs future demand information: a history config "
                                                 "([demand] kind = 'history') with a [features] table")
    check_keys(options, option_types(DQNConfig), "dqn-context")
    opts = DEFAULTS | dict(options)
    if "hidden" in opts:
        opts["hidden"] = tuple(opts["hidden"])
    if "eval_horizon" not in options:  # one pass of the training window after the warm-up
        opts["eval_horizon"] = context.train_end + int(opts.get("eval_warmup", DQNConfig.eval_warmup))
    cfg = DQNConfig(**opts)
    ctx, te, L = context.context, context.train_end, problem.lead_time
    # the lookahead's forecaster (horizons 1 .. 14 stacked), though the observation reads only
    # the next L + 1 days: see FORECAST_HORIZON
    fc = fit_method_forecaster(problem, context, "dqn-context", max(L + 1, FORECAST_HORIZON), seed=int(seed))
    # training reads the series cut at the origin: no sales, and no known-ahead feature of the
    # day after the window (the forecast of day d reads the plan of d + 1), are visible
    ctx_train = Context(ctx.dates[:te], ctx.demand[:te], {k: v[:te] for k, v in ctx.columns.items()},
                        ctx.name)
    train_pr = training_problem(problem, fc, ctx_train, te)
    obs = Observation.from_problem(train_pr, reduced=cfg.reduced_obs, max_actions=cfg.max_actions,
                                   action_mode=cfg.action_mode)
    obs = dataclasses.replace(obs, onehot_period=7,
                              phase_offset=int((ctx.dates[0].astype(np.int64) + 3) % 7),
                              post_decision=cfg.post_decision)
    if cfg.demand_features or cfg.post_decision:
        mean, std, prior = training_moments(fc, ctx_train, train_pr, L + 1)
        obs = dataclasses.replace(obs, demand_mean=mean, demand_std=std,
                                  prior_mean=prior if L >= 1 else ())
    r = train_dqn(train_pr, config=cfg, seed=seed, progress=progress, observation=obs)

    # the policy on the calendar: the same network, tables over every day of the series
    cal = calendar_problem(problem, ctx)
    full = dataclasses.replace(obs, period=cal.period)  # phases are day indices of the calendar
    if obs.demand_mean:
        mean, std, prior = demand_moments(fc, ctx, np.arange(len(ctx)), L + 1)
        full = dataclasses.replace(full, demand_mean=mean, demand_std=std,
                                   prior_mean=prior if L >= 1 else ())
    policy = DQNPolicy(problem=cal, network=r.policy.network, observation=full, hidden=cfg.hidden,
                       dueling=cfg.dueling, label="dqn-context")
    extras = {"steps": r.steps, "updates": r.updates, "train_seconds": r.seconds,
              "best_eval_cost": r.best_eval_cost, "cost_scale": r.cost_scale,
              "actions": obs.n_actions, "action_stride": obs.stride,
              "forecaster": fc.choice, "forecaster_horizon": fc.horizon, "cv": fc.cv, "train_end": te,
              "evaluation": "training-window replay",
              "history": [dict(x) for x in r.history[-20:]]}
    return MethodOutput(policy, params=cfg.to_dict(),
                        evaluation=replay_training_window(policy, ctx.demand, te), extras=extras)
