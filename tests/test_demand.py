"""Demand models against closed forms, brute-force sums and sampling statistics.

Independent facts: the Poisson pmf ``e^{-λ} λ^k / k!``, the negative binomial
pmf ``Γ(k + n) / (Γ(n) k!) q^n (1 − q)^k`` with ``n = μ²/(σ² − μ)`` and
``q = μ/σ²`` (written out with ``math``), the sum of independent Poissons is
Poisson, a sum of independent variables has the convolution of their pmfs,
and sample means fall within a few standard errors of the true mean.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from replenish import Empirical, NegativeBinomial, Poisson, SpecError, WeekdayEmpirical, WeekdayPoisson
from replenish.model.demand import TAIL, WEEKDAYS, demand_from_dict, multi_period_pmf


def poisson_pmf(lam: float, k: int) -> float:
    return math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))


def nbinom_pmf(mean: float, var: float, k: int) -> float:
    n = mean**2 / (var - mean)
    q = mean / var
    return math.exp(math.lgamma(k + n) - math.lgamma(n) - math.lgamma(k + 1)
                    + n * math.log(q) + k * math.log1p(-q))


def moments(pmf: np.ndarray) -> tuple[float, float, float]:
    k = np.arange(len(pmf))
    mean = float(pmf @ k)
    return float(pmf.sum()), mean, float(pmf @ (k - mean) ** 2)


# ------------------------------------------------------------------ Poisson
@pytest.mark.parametrize("lam", [0.3, 1.0, 4.0, 17.5, 60.0])
def test_poisson_pmf_closed_form(lam):
    pmf = Poisson(lam).pmf()
    M = len(pmf) - 1
    closed = np.array([poisson_pmf(lam, k) for k in range(M + 1)])
    # every entry but the last is the plain pmf; the last also holds the tail P(D > M)
    np.testing.assert_allclose(pmf[:-1], closed[:-1], rtol=1e-9, atol=1e-300)
    tail = sum(poisson_pmf(lam, k) for k in range(M + 1, M + 400))
    assert tail <= TAIL * (1 + 1e-6)
    assert pmf[-1] == pytest.approx(closed[-1] + tail, rel=1e-6, abs=1e-13)
    # M is the *first* cut with tail <= TAIL: one unit earlier the tail is still too big
    assert tail + closed[-1] > TAIL
    total, mean, var = moments(pmf)
    assert total == pytest.approx(1.0, abs=1e-14)
    assert mean == pytest.approx(lam, rel=1e-9)
    assert var == pytest.approx(lam, rel=1e-8)
    assert Poisson(lam).mean_at() == lam


@pytest.mark.parametrize("tail", [1e-4, 1e-6, 1e-9])
def test_poisson_custom_tail(tail):
    lam = 5.0
    pmf = Poisson(lam).pmf(tail=tail)
    M = len(pmf) - 1
    sf = lambda m: 1.0 - sum(poisson_pmf(lam, k) for k in range(m + 1))  # noqa: E731
    assert sf(M) <= tail < sf(M - 1)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-14)
    assert len(Poisson(lam).pmf(tail=tail)) <= len(Poisson(lam).pmf())


@pytest.mark.parametrize("bad", [0.1, 1e-3, -1e-9])
def test_tail_out_of_range(bad):
    with pytest.raises(SpecError) as exc:
        Poisson(2).pmf(tail=bad)
    assert str(exc.value).startswith(f"tail = {bad!r}:")


# ------------------------------------------------------- negative binomial
@pytest.mark.parametrize("mean, var", [(2.0, 3.0), (4.0, 12.0), (10.0, 11.0), (0.5, 4.0)])
def test_negative_binomial_closed_form(mean, var):
    pmf = NegativeBinomial(mean, var).pmf()
    M = len(pmf) - 1
    closed = np.array([nbinom_pmf(mean, var, k) for k in range(M + 1)])
    np.testing.assert_allclose(pmf[:-1], closed[:-1], rtol=1e-8, atol=1e-300)
    tail = sum(nbinom_pmf(mean, var, k) for k in range(M + 1, 20 * M + 2000))
    assert tail <= TAIL * (1 + 1e-6)
    assert tail + closed[-1] > TAIL
    total, m, v = moments(pmf)
    assert total == pytest.approx(1.0, abs=1e-14)
    assert m == pytest.approx(mean, rel=1e-8)
    assert v == pytest.approx(var, rel=1e-7)


def test_negative_binomial_sample_moments():
    rng = np.random.default_rng(12)
    n = 200_000
    x = NegativeBinomial(3.0, 7.5).sample(rng, np.zeros(n, dtype=np.int64))
    assert x.dtype == np.int64 and x.shape == (n,)
    assert abs(x.mean() - 3.0) < 4 * math.sqrt(7.5 / n)
    # sample variance: its standard error is ~ sqrt((μ4 − σ⁴)/n); 5 % is > 10 of them here
    assert x.var(ddof=1) == pytest.approx(7.5, rel=0.05)


# ------------------------------------------------------------------ sampling
@pytest.mark.parametrize("model, mean, var", [
    (Poisson(4), 4.0, 4.0),
    (Poisson(0.2), 0.2, 0.2),
    (Empirical((0.2, 0.5, 0.0, 0.3)), 1.4, 0.2 * 1.96 + 0.5 * 0.16 + 0.3 * 2.56),
])
def test_sample_reproducible_and_mean_within_ci(model, mean, var):
    n = 100_000
    phases = np.zeros((50, n // 50), dtype=np.int64)
    a = model.sample(np.random.default_rng(7), phases)
    b = model.sample(np.random.default_rng(7), phases)
    c = model.sample(np.random.default_rng(8), phases)
    assert a.shape == phases.shape and a.dtype == np.int64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean() - mean) < 4 * math.sqrt(var / n)
    assert a.min() >= 0


def test_empirical_sample_frequencies():
    probs = (0.1, 0.0, 0.6, 0.3)
    n = 120_000
    x = Empirical(probs).sample(np.random.default_rng(3), np.zeros(n, dtype=np.int64))
    freq = np.bincount(x, minlength=4) / n
    assert freq[1] == 0  # a value of probability zero is never drawn
    for k, p in enumerate(probs):
        assert abs(freq[k] - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12


def test_sampling_uses_only_the_given_generator():
    np.random.seed(0)
    a = Poisson(3).sample(np.random.default_rng(1), np.zeros(100, dtype=np.int64))
    np.random.seed(99)
    b = Poisson(3).sample(np.random.default_rng(1), np.zeros(100, dtype=np.int64))
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ empirical pmfs
def test_empirical_from_counts():
    counts = np.array([3, 0, 5, 2])  # e.g. 10 observed days
    model = Empirical(counts / counts.sum())
    np.testing.assert_allclose(model.pmf(), [0.3, 0.0, 0.5, 0.2], rtol=0, atol=1e-15)
    assert model.mean_at() == pytest.approx((0 * 3 + 2 * 5 + 3 * 2) / 10, abs=1e-15)
    assert model.period == 1
    # raw counts are not probabilities: the error names the field and the sum
    with pytest.raises(SpecError) as exc:
        Empirical(tuple(int(c) for c in counts))
    msg = str(exc.value)
    assert msg.startswith("demand.probabilities = (3, 0, 5, 2):") and "sum to 10" in msg


def test_empirical_renormalises_within_tolerance():
    m = Empirical((0.25, 0.75 + 5e-7))
    assert sum(m.probabilities) == pytest.approx(1.0, abs=1e-15)
    assert m.probabilities[0] == pytest.approx(0.25 / (1 + 5e-7), rel=1e-12)


# --------------------------------------------------------------- weekdays
def test_weekday_poisson_phases_monday_first():
    means = (1.0, 2.0, 3.0, 4.0, 5.0, 6.5, 0.0)
    model = WeekdayPoisson(means)
    assert WEEKDAYS[0] == "Mon" and WEEKDAYS[6] == "Sun"
    assert model.period == 7
    for w, lam in enumerate(means):
        assert model.mean_at(w) == lam
        assert model.mean_at(w + 7) == lam  # phases wrap weekly
        pmf = model.pmf(w)
        if lam == 0:
            np.testing.assert_array_equal(pmf, [1.0])  # closed on Sunday
            continue
        closed = [poisson_pmf(lam, k) for k in range(len(pmf) - 1)]
        np.testing.assert_allclose(pmf[:-1], closed, rtol=1e-9, atol=1e-300)


def test_weekday_poisson_sample_by_phase():
    means = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 0.0)
    model = WeekdayPoisson(means)
    n = 20_000
    phases = np.tile(np.arange(7), n).reshape(n, 7)
    x = model.sample(np.random.default_rng(5), phases)
    assert x.shape == (n, 7)
    for w, lam in enumerate(means):
        col = x[phases == w]
        if lam == 0:
            assert np.all(col == 0)
        else:
            assert abs(col.mean() - lam) < 4 * math.sqrt(lam / col.size)
    # phases beyond 6 wrap: phase 13 is Sunday (closed), phase 12 is Saturday
    y = model.sample(np.random.default_rng(1), np.array([13] * 1000))
    assert np.all(y == 0)
    z = model.sample(np.random.default_rng(1), np.array([12] * 4000))
    assert abs(z.mean() - 16.0) < 4 * math.sqrt(16.0 / 4000)


def weekday_empirical() -> WeekdayEmpirical:
    pmfs = []
    for w in range(7):
        p = np.zeros(w + 2)
        p[0] = 0.5
        p[-1] = 0.5  # weekday w: demand 0 or w + 1, each with probability 1/2
        pmfs.append(tuple(p))
    return WeekdayEmpirical(tuple(pmfs))


def test_weekday_empirical_phases_and_sampling():
    model = weekday_empirical()
    for w in range(7):
        assert model.mean_at(w) == pytest.approx((w + 1) / 2)
        assert len(model.pmf(w)) == w + 2
    n = 5000
    phases = np.random.default_rng(0).integers(0, 14, size=(n, 3))
    x = model.sample(np.random.default_rng(9), phases)
    w = phases % 7
    # only 0 or w + 1 can occur, each about half the time
    assert np.all((x == 0) | (x == w + 1))
    frac = (x > 0).mean()
    assert abs(frac - 0.5) < 4 * math.sqrt(0.25 / x.size)


# ------------------------------------------------------------- convolution
def test_multi_period_pmf_is_convolution():
    a = Empirical((0.2, 0.3, 0.5))
    expected = np.convolve(np.convolve(a.pmf(), a.pmf()), a.pmf())
    got = multi_period_pmf(a, 3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(multi_period_pmf(a, 1), a.pmf(), atol=1e-15)
    np.testing.assert_array_equal(multi_period_pmf(a, 0), [1.0])


def test_multi_period_pmf_weekday_wraps_from_start_phase():
    model = weekday_empirical()
    # Saturday (5), Sunday (6), Monday (0)
    expected = np.convolve(np.convolve(model.pmf(5), model.pmf(6)), model.pmf(0))
    got = multi_period_pmf(model, 3, start_phase=5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    assert len(got) == 7 + 8 + 2 - 2
    assert float(got @ np.arange(len(got))) == pytest.approx(3.0 + 3.5 + 0.5)


@pytest.mark.parametrize("lam, periods", [(2.0, 3), (0.7, 5), (4.0, 2)])
def test_multi_period_poisson_is_poisson(lam, periods):
    got = multi_period_pmf(Poisson(lam), periods)
    total = lam * periods
    closed = np.array([poisson_pmf(total, k) for k in range(len(got) + 400)])
    padded = np.zeros_like(closed)
    padded[: len(got)] = got
    # each of the ``periods`` truncations moves at most TAIL of mass: an L1 error <= 2·periods·TAIL
    assert np.abs(padded - closed).sum() <= 2 * periods * TAIL + 1e-14
    np.testing.assert_allclose(got[:10], closed[:10], rtol=1e-9)
    assert got.sum() == pytest.approx(1.0, abs=1e-14)


# ------------------------------------------------------------- dict round trip
@pytest.mark.parametrize("model", [
    Poisson(4), NegativeBinomial(2.0, 5.0), Empirical((0.5, 0.5)),
    WeekdayPoisson((1, 2, 3, 4, 5, 6, 0)), weekday_empirical(),
])
def test_to_dict_round_trip(model):
    back = demand_from_dict(model.to_dict())
    assert type(back) is type(model)
    for w in range(model.period):
        np.testing.assert_array_equal(back.pmf(w), model.pmf(w))


@pytest.mark.parametrize("table, field, value", [
    ({"kind": "gaussian", "mean": 4}, "demand.kind", "gaussian"),
    ({"mean": 4}, "demand.kind", None),
    ({"kind": "poisson"}, "demand.mean", None),
    ({"kind": "poisson", "mean": 0}, "demand.mean", 0),
    ({"kind": "poisson", "mean": "4"}, "demand.mean", "4"),
    ({"kind": "poisson", "mean": 4, "variance": 9}, "demand.variance", 9),
    ({"kind": "negative_binomial", "mean": 4, "variance": 4}, "demand.variance", 4),
    ({"kind": "negative_binomial", "mean": 4}, "demand.variance", None),
    ({"kind": "empirical", "probabilities": [0.5, 0.6]}, "demand.probabilities", [0.5, 0.6]),
    ({"kind": "weekday_poisson", "means": [1, 2, 3]}, "demand.means", [1, 2, 3]),
    ({"kind": "weekday_empirical", "pmfs": [[1.0]] * 6 + [[0.5, 0.4]]}, "demand.pmfs[6]", [0.5, 0.4]),
    ([1, 2], "demand", [1, 2]),
])
def test_demand_from_dict_errors_name_field_and_value(table, field, value):
    with pytest.raises(SpecError) as exc:
        demand_from_dict(table)
    msg = str(exc.value)
    assert msg.startswith(f"{field} = {value!r}: ")
    assert "\n" not in msg
    assert exc.value.field == field and exc.value.value == value
