"""Demand models: the distribution of one period's demand ``D`` (units/period).

Every model offers two views of the same distribution:

* ``sample(rng, phases)`` draws demand with an explicit
  :class:`numpy.random.Generator` (the caller owns the RNG; nothing here seeds a
  global one);
* ``pmf(phase, tail=TAIL)`` returns the probability mass function on
  ``0 .. M`` for exact methods, truncated at the first ``M`` whose upper tail
  ``P(D > M)`` is at most ``tail``; that remaining mass is added to ``P(D = M)``
  so the pmf sums to one.  The error this causes in any expected cost is at
  most ``p * E[(D - M)^+]``, i.e. of the order of ``tail``.

Seasonal models have ``period > 1`` (7 for weekday models): their parameters
depend on the *phase* ``w = t mod period`` of the day whose demand is drawn
(for weekday models ``w = 0`` is Monday, ``6`` is Sunday), and the phase becomes
part of the state of the inventory problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from replenish.core.validate import SpecError, is_number, require

#: Default upper-tail mass dropped when a pmf is truncated for exact methods.
TAIL = 1e-12
#: Most points a single-period pmf may have (a longer support is refused before allocating).
SUPPORT_LIMIT = 5_000_000
#: Most points of a multi-period (lead-time) demand pmf.
MULTI_SUPPORT_LIMIT = 2_000_000
#: Weekday names used for phases of weekday-seasonal models (phase 0 = Monday).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@runtime_checkable
class DemandModel(Protocol):
    """Protocol of a (possibly seasonal) single-period demand distribution."""

    kind: ClassVar[str]

    @property
    def period(self) -> int:
        """Number of phases ``P`` (1 for stationary demand, 7 for weekday demand)."""
        ...

    def pmf(self, phase: int = 0, *, tail: float = TAIL) -> np.ndarray:
        """Probabilities ``P(D = k)`` for ``k = 0 .. M`` (float64, sums to 1)."""
        ...

    def mean_at(self, phase: int = 0) -> float:
        """Expected demand ``E[D]`` in phase ``phase`` (units/period)."""
        ...

    def sample(self, rng: np.random.Generator, phases: np.ndarray) -> np.ndarray:
        """Draw one demand per entry of ``phases`` (int64 array, same shape)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The ``[demand]`` TOML table that recreates this model."""
        ...


def _truncate(pmf_full: np.ndarray, sf: np.ndarray, tail: float) -> np.ndarray:
    """Cut ``pmf_full`` at the first index whose survival ``P(D > k) <= tail``."""
    idx = np.flatnonzero(sf <= tail)
    m = int(idx[0]) if idx.size else len(pmf_full) - 1
    out = np.array(pmf_full[: m + 1], dtype=np.float64)
    out[m] += max(0.0, 1.0 - out.sum())
    out /= out.sum()
    return out


@lru_cache(maxsize=256)
def _scipy_pmf(dist: str, args: tuple[float, ...], tail: float, field: str = "demand",
               value: float = 0.0) -> np.ndarray:
    """The truncated pmf of a ``scipy.stats`` distribution (scipy's quantile functions give
    the truncation point ``isf(tail)`` exactly; imported here because it costs ~1.5 s of
    start-up CPU that commands without parametric demand should not pay)."""
    from scipy import stats

    rv = getattr(stats, dist)(*args)
    hi = _support(dist, args, tail, field, value)
    k = np.arange(hi + 1)
    pmf = _truncate(rv.pmf(k), rv.sf(k), tail)
    pmf.setflags(write=False)
    return pmf


def _support(dist: str, args: tuple[float, ...], tail: float, field: str, value: float) -> int:
    """Largest demand ``M`` the truncated pmf holds; a support longer than
    :data:`SUPPORT_LIMIT` is refused (naming ``field = value``) before anything is allocated."""
    from scipy import stats

    x = float(getattr(stats, dist)(*args).isf(tail if tail > 0 else 1e-15))
    if not x <= SUPPORT_LIMIT:
        size = "unboundedly many" if not np.isfinite(x) else f"{x + 3:.4g}"
        raise SpecError(field, value, f"the demand pmf would need {size} points "
                                      f"(limit {SUPPORT_LIMIT}): demand too dispersed")
    return int(x) + 2


def _check_tail(tail: float) -> None:
    require(0 <= tail < 1e-3, "tail", tail, "tail mass must be in [0, 1e-3)")


@dataclass(frozen=True)
class Poisson:
    """Poisson demand, ``D ~ Poisson(λ)`` with ``λ = mean`` (units/period)."""

    mean: float = field(metadata={"symbol": "λ"})
    kind: ClassVar[str] = "poisson"

    def __post_init__(self) -> None:
        require(is_number(self.mean) and 0 < self.mean < 1e6, "demand.mean", self.mean,
                "must be a number in (0, 1e6)")

    @property
    def period(self) -> int:
        return 1

    def mean_at(self, phase: int = 0) -> float:
        return float(self.mean)

    def pmf(self, phase: int = 0, *, tail: float = TAIL) -> np.ndarray:
        _check_tail(tail)
        return _scipy_pmf("poisson", (float(self.mean),), tail, "demand.mean", self.mean)

    def sample(self, rng: np.random.Generator, phases: np.ndarray) -> np.ndarray:
        return rng.poisson(self.mean, size=np.shape(phases)).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": self.mean}


@dataclass(frozen=True)
class NegativeBinomial:
    """Negative binomial demand with mean ``μ`` and variance ``σ² > μ`` (units/period).

    Parametrised as ``NB(n, q)`` with ``n = μ² / (σ² − μ)`` and ``q = μ / σ²``
    (number of failures before the ``n``-th success), the usual over-dispersed
    count model for retail sales.
    """

    mean: float = field(metadata={"symbol": "μ"})
    variance: float = field(metadata={"symbol": "σ²"})
    kind: ClassVar[str] = "negative_binomial"

    def __post_init__(self) -> None:
        require(is_number(self.mean) and 0 < self.mean < 1e6, "demand.mean", self.mean,
                "must be a number in (0, 1e6)")
        require(is_number(self.variance) and self.variance > self.mean, "demand.variance",
                self.variance, "must exceed the mean (use kind = 'poisson' otherwise)")

    @property
    def period(self) -> int:
        return 1

    @property
    def _nq(self) -> tuple[float, float]:
        n = self.mean**2 / (self.variance - self.mean)
        return float(n), float(self.mean / self.variance)

    def mean_at(self, phase: int = 0) -> float:
        return float(self.mean)

    def pmf(self, phase: int = 0, *, tail: float = TAIL) -> np.ndarray:
        _check_tail(tail)
        return _scipy_pmf("nbinom", self._nq, tail, "demand.variance", self.variance)

    def sample(self, rng: np.random.Generator, phases: np.ndarray) -> np.ndarray:
        n, q = self._nq
        return rng.negative_binomial(n, q, size=np.shape(phases)).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": self.mean, "variance": self.variance}


def _as_pmf(values: Any, field_name: str) -> tuple[float, ...]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise SpecError(field_name, values, "must be a list of probabilities") from None
    require(arr.ndim == 1 and arr.size >= 1, field_name, values, "must be a non-empty list")
    require(bool(np.all(np.isfinite(arr)) and np.all(arr >= 0)), field_name, values,
            "probabilities must be finite and non-negative")
    require(abs(arr.sum() - 1.0) < 1e-6, field_name, values,
            f"probabilities must sum to 1 (they sum to {arr.sum():.6g})")
    return tuple(float(x) for x in arr / arr.sum())


def _sample_pmf(pmf: np.ndarray, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    cdf = np.cumsum(pmf)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


@dataclass(frozen=True)
class Empirical:
    """Demand with an explicit pmf: ``P(D = k) = probabilities[k]``, ``k = 0 .. M``."""

    probabilities: tuple[float, ...]
    kind: ClassVar[str] = "empirical"

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", _as_pmf(self.probabilities, "demand.probabilities"))

    @property
    def period(self) -> int:
        return 1

    def mean_at(self, phase: int = 0) -> float:
        return float(np.dot(np.arange(len(self.probabilities)), self.probabilities))

    def pmf(self, phase: int = 0, *, tail: float = TAIL) -> np.ndarray:
        return np.asarray(self.probabilities, dtype=np.float64)

    def sample(self, rng: np.random.Generator, phases: np.ndarray) -> np.ndarray:
        return _sample_pmf(self.pmf(), rng, np.shape(phases))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "probabilities": list(self.probabilities)}


@dataclass(frozen=True)
class WeekdayPoisson:
    """Weekday-seasonal Poisson demand: ``D_t ~ Poisson(λ_w)``, ``w = weekday(t)``.

    ``means`` holds seven means ``λ_Mon .. λ_Sun`` (units/day); a mean of 0 is a
    closed day.  The weekday becomes part of the state.
    """

    means: tuple[float, ...]
    kind: ClassVar[str] = "weekday_poisson"

    def __post_init__(self) -> None:
        m = self.means
        require(isinstance(m, (list, tuple)) and len(m) == 7, "demand.means", m,
                "must list 7 means, Monday to Sunday")
        require(all(is_number(x) and 0 <= x < 1e6 for x in m), "demand.means", m,
                "means must be numbers in [0, 1e6)")
        require(any(x > 0 for x in m), "demand.means", m, "at least one mean must be positive")
        object.__setattr__(self, "means", tuple(float(x) for x in m))

    @property
    def period(self) -> int:
        return 7

    def mean_at(self, phase: int = 0) -> float:
        return self.means[phase % 7]

    def pmf(self, phase: int = 0, *, tail: float = TAIL) -> np.ndarray:
        _check_tail(tail)
        lam = self.means[phase % 7]
        if lam == 0:
            return np.ones(1)
        return _scipy_pmf("poisson", (lam,), tail, "demand.means", lam)

    def sample(self, rng: np.random.Generator, phases: np.ndarray) -> np.ndarray:
        lam = np.asarray(self.means)[np.asarray(phases) % 7]
        return rng.poisson(lam).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "means": list(self.means)}


@dataclass(frozen=True)
class WeekdayEmpirical:
    """Weekday-seasonal demand with one explicit pmf per weekday (Monday first).

    ``pmfs[w][k] = P(D = k | weekday w)``; typically fitted from sales history.
    """

    pmfs: tuple[tuple[float, ...], ...]
    kind: ClassVar[str] = "weekday_empirical"

    def __post_init__(self) -> None:
        require(isinstance(self.pmfs, (list, tuple)) and len(self.pmfs) == 7, "demand.pmfs",
                self.pmfs, "must hold 7 pmfs, Monday to Sunday")
        object.__setattr__(self, "pmfs", tuple(_as_pmf(p, f"demand.pmfs[{i}]")
                                               for i, p in enumerate(self.pmfs)))

    @property
    def period(self) -> int:
        return 7

    def mean_at(self, phase: int = 0) -> float:
        p = self.pmfs[phase % 7]
        return float(np.dot(np.arange(len(p)), p))

    def pmf(self, phase: int = 0, *, tail: float = TAIL) -> np.ndarray:
        return np.asarray(self.pmfs[phase % 7], dtype=np.float64)

    def sample(self, rng: np.random.Generator, phases: np.ndarray) -> np.ndarray:
        phases = np.asarray(phases) % 7
        out = np.empty(phases.shape, dtype=np.int64)
        u = rng.random(phases.shape)
        for w in range(7):
            sel = phases == w
            if np.any(sel):
                cdf = np.cumsum(self.pmfs[w])
                cdf[-1] = 1.0
                out[sel] = np.searchsorted(cdf, u[sel], side="right")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "pmfs": [list(p) for p in self.pmfs]}


@dataclass(frozen=True, eq=False)
class DatedDemand:
    """Time-varying demand: one pmf per calendar day, ``P(D_t = k) = pmfs[t][k]``.

    Day ``t = 0`` is ``start`` (an ISO date); the phase of the inventory state is
    the day index ``t`` (``period = len(pmfs)``), so the one dynamics function
    advances it by one each period exactly as it advances the weekday of a weekday
    model.  This is the demand model of forecasts: a predictive pmf for each day an
    order covers (:mod:`replenish.model.forecast`), used by the simulator, the
    replay and the finite-horizon DP of the ``lookahead`` policy.  After the last
    day the phase wraps to day 0 (harmless for a replay or a finite horizon that
    ends there).

    Attributes:
        start: the date of day 0, ``"YYYY-MM-DD"``.
        pmfs: float64 (n_days, M + 1), each row a pmf on ``0 .. M`` (zero-padded).
    """

    start: str
    pmfs: np.ndarray
    kind: ClassVar[str] = "dated"

    def __post_init__(self) -> None:
        import datetime as _dt

        try:
            _dt.date.fromisoformat(str(self.start))
        except ValueError:
            raise SpecError("demand.start", self.start, "must be a date YYYY-MM-DD") from None
        if isinstance(self.pmfs, np.ndarray) and self.pmfs.ndim == 2:
            arr = np.asarray(self.pmfs, dtype=np.float64)
        else:
            require(isinstance(self.pmfs, (list, tuple)) and len(self.pmfs) >= 1, "demand.pmfs",
                    "…", "must be a non-empty list of pmfs, one per day")
            rows = [_as_pmf(p, f"demand.pmfs[{i}]") for i, p in enumerate(self.pmfs)]
            arr = np.zeros((len(rows), max(len(r) for r in rows)))
            for i, r in enumerate(rows):
                arr[i, : len(r)] = r
        require(arr.ndim == 2 and arr.shape[0] >= 1 and arr.shape[1] >= 1, "demand.pmfs", arr.shape,
                "must be (days, M + 1)")
        require(arr.size <= 50_000_000, "demand.pmfs", arr.shape, "too large (more than 5e7 values)")
        require(bool(np.all(np.isfinite(arr)) and np.all(arr >= 0)), "demand.pmfs", "values",
                "probabilities must be finite and non-negative")
        sums = arr.sum(axis=1)
        require(bool(np.all(np.abs(sums - 1.0) < 1e-6)), "demand.pmfs", float(sums[np.argmax(
            np.abs(sums - 1.0))]), "each day's probabilities must sum to 1")
        arr = arr / sums[:, None]
        arr.setflags(write=False)
        cdf = np.cumsum(arr, axis=1)  # sample's inverse cdf, computed once (it was a quarter of
        cdf[:, -1] = 1.0               # dqn-context's training time when redone per call)
        cdf.setflags(write=False)
        object.__setattr__(self, "start", str(self.start))
        object.__setattr__(self, "pmfs", arr)
        object.__setattr__(self, "_cdf", cdf)

    @property
    def period(self) -> int:
        return int(self.pmfs.shape[0])

    @property
    def first_day(self) -> np.datetime64:
        """Date of day 0 as ``datetime64[D]``."""
        return np.datetime64(self.start, "D")

    def phase_of(self, day: Any) -> int:
        """Day index of ``day`` (a date or ``datetime64``)."""
        return int((np.datetime64(day, "D") - self.first_day) // np.timedelta64(1, "D"))

    def mean_at(self, phase: int = 0) -> float:
        row = self.pmfs[phase % self.period]
        return float(np.dot(np.arange(row.size), row))

    def pmf(self, phase: int = 0, *, tail: float = TAIL) -> np.ndarray:
        row = self.pmfs[phase % self.period]
        nz = np.flatnonzero(row > 0)
        return np.asarray(row[: int(nz[-1]) + 1 if nz.size else 1], dtype=np.float64)

    def sample(self, rng: np.random.Generator, phases: np.ndarray) -> np.ndarray:
        phases = np.asarray(phases, dtype=np.int64) % self.period
        cdf = self._cdf  # type: ignore[attr-defined]
        u = rng.random(phases.shape)
        flat_p, flat_u = phases.reshape(-1), u.reshape(-1)
        out = np.empty(flat_p.size, dtype=np.int64)
        for t in np.unique(flat_p):
            sel = flat_p == t
            out[sel] = np.searchsorted(cdf[t], flat_u[sel], side="right")
        return out.reshape(phases.shape)

    def window(self, first: int, days: int) -> DatedDemand:
        """Days ``first .. first + days − 1`` as a new model (no wrap)."""
        require(0 <= first and days >= 1 and first + days <= self.period, "window", [first, days],
                f"outside the {self.period} days of the model")
        import datetime as _dt

        start = _dt.date.fromisoformat(self.start) + _dt.timedelta(days=first)
        return DatedDemand(start.isoformat(), self.pmfs[first: first + days])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start,
                "pmfs": [self.pmf(t).tolist() for t in range(self.period)]}


def phase_of_date(model: DemandModel, day: Any) -> int:
    """The state phase of the evening before ``day``'s demand: the day index of a
    :class:`DatedDemand`, the weekday (Monday = 0) of a weekday model, 0 otherwise."""
    if isinstance(model, DatedDemand):
        return model.phase_of(day) % model.period
    if model.period == 7:
        return int((np.datetime64(day, "D").astype(np.int64) + 3) % 7)
    return 0


#: Registry of demand kinds accepted in ``[demand] kind = ...``.
DEMAND_KINDS: dict[str, type] = {
    cls.kind: cls for cls in (Poisson, NegativeBinomial, Empirical, WeekdayPoisson, WeekdayEmpirical,
                               DatedDemand)
}
_FIELDS = {
    "poisson": {"mean": "mean"},
    "negative_binomial": {"mean": "mean", "variance": "variance"},
    "empirical": {"probabilities": "probabilities"},
    "weekday_poisson": {"means": "means"},
    "weekday_empirical": {"pmfs": "pmfs"},
    "dated": {"start": "start", "pmfs": "pmfs"},
}


def demand_from_dict(table: dict[str, Any]) -> DemandModel:
    """Build a demand model from a ``[demand]`` TOML table (validated)."""
    require(isinstance(table, dict), "demand", table, "must be a table")
    kind = table.get("kind")
    if not (isinstance(kind, str) and kind in DEMAND_KINDS):
        raise SpecError("demand.kind", kind,
                        f"unknown demand kind; expected one of {', '.join(sorted(DEMAND_KINDS))}")
    fields = _FIELDS[kind]
    for key in table:
        require(key == "kind" or key in fields, f"demand.{key}", table[key],
                f"unknown key for kind = '{kind}' (expected {', '.join(fields)})")
    for key in fields:
        require(key in table, f"demand.{key}", None, f"required for kind = '{kind}'")
    return DEMAND_KINDS[kind](**{attr: table[key] for key, attr in fields.items()})


def multi_period_pmf(model: DemandModel, periods: int, *, start_phase: int = 0,
                     tail: float = TAIL) -> np.ndarray:
    """pmf of total demand over ``periods`` consecutive periods from ``start_phase``."""
    pmfs = [model.pmf((start_phase + t) % model.period, tail=tail) for t in range(periods)]
    if sum(len(p) - 1 for p in pmfs) > MULTI_SUPPORT_LIMIT:  # refused before convolving
        raise SpecError("demand", model.to_dict(),
                        f"demand over {periods} periods spans more than {MULTI_SUPPORT_LIMIT} "
                        "units: too large for exact methods (shorten the lead time)")
    out = np.ones(1)
    for p in pmfs:
        if len(out) * len(p) > 20_000_000:  # direct convolution would take minutes
            from scipy.signal import fftconvolve

            out = np.clip(fftconvolve(out, p), 0.0, None)
        else:
            out = np.convolve(out, p)
        # keep the convolution short: drop the negligible upper tail
        sf = 1.0 - np.cumsum(out)
        out = _truncate(out, sf, tail)
    return out
