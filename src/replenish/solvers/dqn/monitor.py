"""What a DQN run shows while it trains: TensorBoard scalars and a progress bar.

:class:`Monitor` keeps the trainer (:mod:`replenish.solvers.dqn.trainer`) free
of logging code.  Both outputs are optional (``logdir = None``, ``progress =
False``) and neither touches a random stream, so monitoring never changes what
is learned.  Scalars written to ``logdir``:

* ``eval/average_cost``, ``eval/best_average_cost``, ``eval/gap`` at each
  evaluation of the greedy policy;
* ``train/loss``, ``train/mean_q`` (reward units: $ / cost scale),
  ``train/gain`` (``−ρ`` in $/period, average objective only),
  ``train/cost`` ($/period: the mean cost of the transitions collected, under the
  ε-greedy behaviour policy), ``train/epsilon``, ``train/learning_rate`` and
  ``train/steps_per_second``, averaged over at least 1000 transitions;

``train/gain`` is the average-cost estimate ``−ρ`` of differential Q-learning, a
learning variable in $/period that follows the cost of the policy being learned, not
that policy's evaluated cost: on the bike shop (20k steps, seed 0) it ended at 16.43
$/period for a greedy policy costing 16.26 (the optimum is 16.18).  (Before ``ρ``'s
TD error was taken against the target network it fed on the values' growth and rose
to 52 $/period in such a run.)
Read the policy's cost from ``eval/average_cost`` (greedy policy) or ``train/cost``
(behaviour policy, exploration included).
* the configuration as text and, at the end, the hyperparameters with the best
  evaluated cost (and gap) for TensorBoard's HParams view.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np


class Monitor:
    """TensorBoard writer (``logdir``) and tqdm bar (``progress``) of one training run.

    Args:
        logdir: TensorBoard folder, or ``None`` for no scalars.
        progress: show a progress bar of ``total`` transitions, starting at ``step``.
        title: the bar's label.
        config: JSON-able description of the run, written once as text.
        total: transitions the run will have collected at the end.
        step: transitions already collected (``> 0`` after a resume).
    """

    #: transitions between two points of the training scalars
    LOG_EVERY = 1000

    def __init__(self, *, logdir: str | Path | None, progress: bool, title: str, config: dict[str, Any],
                 total: int, step: int) -> None:
        self.writer = None
        if logdir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(logdir))
            self.writer.add_text("config", "```\n" + json.dumps(config, indent=1) + "\n```", step)
        self.bar = None
        if progress:
            from replenish.core.progress import progress_bar

            self.bar = progress_bar(total=total, initial=step, desc=title, unit="step")
        self.stats: list[tuple[float, float, float]] = []  # (loss, mean Q, ρ) per gradient step
        self.costs: list[float] = []  # mean cost of each vector step's transitions ($/period)
        self.last_log = step
        self.t_log = time.perf_counter()

    def evaluation(self, step: int, *, cost: float, best: float, gap: float | None) -> None:
        """An evaluation of the greedy policy (costs in $/period)."""
        if self.writer is not None:
            self.writer.add_scalar("eval/average_cost", cost, step)
            self.writer.add_scalar("eval/best_average_cost", best, step)
            if gap is not None:
                self.writer.add_scalar("eval/gap", gap, step)
        if self.bar is not None:
            self.bar.set_postfix(cost=f"{cost:.3f}", best=f"{best:.3f}")

    def training(self, step: int, *, stats: list[tuple[float, float, float]], n_transitions: int,
                 epsilon: float, gain: float | None, learning_rate: float,
                 cost: float | None = None) -> None:
        """One vector step of ``n_transitions`` transitions and its gradient steps' ``stats``
        (``(loss, mean Q, ρ)`` each); ``gain``: ``−ρ`` ($/period) or ``None``; ``cost``: the
        mean cost of the step's transitions ($/period)."""
        if self.writer is not None:
            self.stats.extend(stats)
            if cost is not None:
                self.costs.append(cost)
            if self.stats and step - self.last_log >= self.LOG_EVERY:
                arr = np.asarray(self.stats)
                self.writer.add_scalar("train/loss", arr[:, 0].mean(), step)
                self.writer.add_scalar("train/mean_q", arr[:, 1].mean(), step)
                if gain is not None:
                    self.writer.add_scalar("train/gain", gain, step)
                if self.costs:
                    self.writer.add_scalar("train/cost", float(np.mean(self.costs)), step)
                    self.costs.clear()
                self.writer.add_scalar("train/epsilon", epsilon, step)
                self.writer.add_scalar("train/learning_rate", learning_rate, step)
                self.writer.add_scalar("train/steps_per_second",
                                       (step - self.last_log) / max(time.perf_counter() - self.t_log, 1e-9),
                                       step)
                self.stats.clear()
                self.last_log = step
                self.t_log = time.perf_counter()
            elif len(self.stats) > 10_000:
                self.stats.clear()
                self.costs.clear()
        if self.bar is not None:
            self.bar.update(n_transitions)

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        """The run's ``hparams`` (lists, tuples and ``None`` written as text) with their
        final ``metrics``, for TensorBoard's HParams view."""
        if self.writer is not None:
            hp = {k: (str(v) if isinstance(v, (list, tuple)) or v is None else v) for k, v in hparams.items()}
            self.writer.add_hparams(hp, metrics, run_name="hparams")

    def close(self) -> None:
        """Close the bar and the writer."""
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
