"""Options of tabular Q-learning: :class:`QLearningConfig` (the two variants, their defaults and
checks).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require, require_count
from replenish.model.spec import Problem

#: Variants of :func:`train_qlearning`.
VARIANTS = ("seed", "default")
#: Largest number of (state, action) cells a Q-table may have.
MAX_TABLE_CELLS = 10_000_000
#: Largest index box (product of coordinate ranges) for the state lookup table.
_MAX_LOOKUP_BOX = 50_000_000
#: Transitions per block of pre-drawn uniforms (memory: 16 bytes each).
_BLOCK_STEPS = 1 << 17

# Per-variant defaults; ``None`` in a field of QLearningConfig means "the
# variant's default" and fields a variant does not use stay ``None``.
_VARIANT_DEFAULTS: dict[str, dict[str, Any]] = {
    "seed": {"discount": 0.9, "learning_rate": 0.1, "epsilon": 0.1},
    "default": {"epsilon": 0.1, "warmup_fraction": 0.2, "step_size_scale": 10.0, "confidence": 3.0},
}
_VARIANT_FIELDS = {
    "seed": {"discount", "learning_rate", "epsilon"},
    "default": {"discount", "epsilon", "warmup_fraction", "step_size_scale", "confidence", "init_steps"},
}


# ============================================================================
# Configuration
# ============================================================================
@dataclass(frozen=True, kw_only=True)
class QLearningConfig:
    """Hyperparameters of :func:`train_qlearning` (validated, keyword-only).

    Fields left ``None`` take the variant's default; giving a field the variant
    does not use is an error.

    Attributes:
        variant: ``"seed"`` (the source algorithm) or ``"default"``.
        steps: transitions of training (periods simulated).
        episode_length: steps per episode; each episode starts in a uniformly
            random feasible full state.
        discount: ``γ`` of the learning target.  Seed: 0.9 (the source's);
            default: ``None`` = ``problem.discount``.
        learning_rate: seed only, the constant step ``α`` (default 0.1).
        epsilon: probability of a uniformly random feasible action (seed 0.1;
            default 0.1, after the warm-up).
        warmup_fraction: default only, fraction of the steps acting uniformly
            at random before the confidence-bounded exploration (0.2).
        step_size_scale: default only, ``c`` in ``α_n = 1/(1 + k(n − 1))``,
            ``k = min(1, c(1 − γ))`` (10: the sample average ``1/n`` when ``γ <= 0.9``).
        confidence: default only, ``κ``, width of the exploration set in
            standard errors (3).
        init_steps: default only, steps at the start that act uniformly at
            random without updating, to measure the cost rate ``ĝ`` of random
            ordering; every cell then starts at ``ĝ/(1 − γ)`` (``min(1000, steps/10)``;
            0 starts at 0).
        curve_points: points of the learning curve (exact evaluation of the
            greedy policy at evenly spaced episode boundaries; 0 = none).
    """

    variant: str = "default"
    steps: int = 1_000_000
    episode_length: int = 1000
    discount: float | None = None
    learning_rate: float | None = None
    epsilon: float | None = None
    warmup_fraction: float | None = None
    step_size_scale: float | None = None
    confidence: float | None = None
    init_steps: int | None = None
    curve_points: int = 20

    def __post_init__(self) -> None:
        require(self.variant in VARIANTS, "qlearning.variant", self.variant,
                f"must be one of {', '.join(VARIANTS)}")
        for name in ("steps", "episode_length"):
            require_count(getattr(self, name), f"qlearning.{name}")
        require(_is_int(self.curve_points) and 0 <= self.curve_points <= 10_000,
                "qlearning.curve_points", self.curve_points, "must be an integer in [0, 10000]")
        used = _VARIANT_FIELDS[self.variant]
        for name in ("discount", "learning_rate", "epsilon", "warmup_fraction", "step_size_scale",
                     "confidence", "init_steps"):
            if getattr(self, name) is not None and name not in used:
                raise SpecError(f"qlearning.{name}", getattr(self, name),
                                f"not used by variant '{self.variant}'")
        for name, value in _VARIANT_DEFAULTS[self.variant].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.variant == "default" and self.init_steps is None:
            object.__setattr__(self, "init_steps", min(1000, self.steps // 10))
        if self.discount is not None:
            _number("discount", self.discount, 0.0, 1.0, open_lo=True, open_hi=True)
        if self.learning_rate is not None:
            _number("learning_rate", self.learning_rate, 0.0, 1.0, open_lo=True)
        _number("epsilon", self.epsilon, 0.0, 1.0)
        if self.warmup_fraction is not None:
            _number("warmup_fraction", self.warmup_fraction, 0.0, 1.0)
        if self.step_size_scale is not None:
            _number("step_size_scale", self.step_size_scale, 0.0, 1e6, open_lo=True)
        if self.confidence is not None:
            _number("confidence", self.confidence, 0.0, 1e6)
        if self.init_steps is not None:
            require(_is_int(self.init_steps) and 0 <= self.init_steps < self.steps, "qlearning.init_steps",
                    self.init_steps, f"must be an integer in [0, steps = {self.steps})")

    @property
    def episodes(self) -> int:
        """Number of episodes (the last one is shorter if ``steps`` is not a multiple)."""
        return -(-self.steps // self.episode_length)

    def gamma(self, problem: Problem) -> float:
        """The discount used for ``problem``."""
        return float(self.discount if self.discount is not None else problem.discount)

    def to_dict(self) -> dict[str, Any]:
        """The fields (``None`` for fields the variant does not use)."""
        return asdict(self)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _number(name: str, v: Any, lo: float, hi: float, *, open_lo: bool = False,
            open_hi: bool = False) -> None:
    ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and math.isfinite(v) and (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
    require(ok, f"qlearning.{name}", v,
            f"must be a number in {'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}")
