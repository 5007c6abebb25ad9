"""mlcpu.comparing.ratios: the signed-rank distribution, the Hodges-Lehmann interval's coverage,
and the regression gate's error rates, checked against enumeration, tables and simulation."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
from scipy.stats import binom, norm

from mlcpu.comparing import ratios
from mlcpu.comparing.ratios import (
    LOOKS,
    RatioInterval,
    family_alpha,
    fewest_rounds,
    looks_up_to,
    minimum_detectable_slowdown,
    ratio_interval,
    verdict,
)


def _walsh(x: list[float]) -> list[float]:
    """Walsh averages by hand, independent of the module's numpy indexing."""
    return sorted((x[i] + x[j]) / 2 for i in range(len(x)) for j in range(i, len(x)))


def _at_least(p: float, trials: int) -> float:
    """A fraction that a rate of p falls below only with probability 0.001."""
    return binom.ppf(0.001, trials, p) / trials


def _at_most(p: float, trials: int) -> float:
    """A fraction that a rate of p exceeds only with probability 0.001."""
    return binom.isf(0.001, trials, p) / trials


# --- the exact distribution ---------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 11))
def test_exact_distribution_matches_enumeration(n: int) -> None:
    sums = [
        sum(rank for rank, positive in zip(range(1, n + 1), signs, strict=True) if positive)
        for signs in itertools.product((False, True), repeat=n)
    ]
    pmf = np.bincount(sums, minlength=n * (n + 1) // 2 + 1) / 2**n
    np.testing.assert_allclose(ratios._signed_rank_cdf(n), np.cumsum(pmf), rtol=1e-12, atol=0)


@pytest.mark.parametrize(("n", "c05", "c01"), [(10, 8, 3), (12, 13, 7), (15, 25, 15), (20, 52, 37)])
def test_critical_values_match_published_tables(n: int, c05: int, c01: int) -> None:
    # Two-sided critical values of the signed-rank statistic (reject when W <= c).
    assert ratios._critical(n, 0.05) == c05
    assert ratios._critical(n, 0.01) == c01


@pytest.mark.parametrize("n", [80, 100, 152])
def test_normal_approximation_agrees_with_exact(n: int) -> None:
    m = n * (n + 1) // 2
    cdf = ratios._signed_rank_cdf(n)  # exact, computed here beyond the module's cut-off
    for alpha in (0.2, 0.1, 0.05):
        assert abs(ratios._critical_normal(n, alpha) - ratios._critical_exact(n, alpha)) <= 2
    # In the far tail (the gate's Bonferroni alphas) the normal's tail is heavier than the
    # bounded statistic's: the bounds are a little wider than exact, never narrower.
    for alpha in (0.05, 0.01, 1e-3, 1e-4):
        c_normal = ratios._critical_normal(n, alpha)
        assert c_normal <= ratios._critical_exact(n, alpha)
        assert ratios._critical_exact(n, alpha) - c_normal <= 0.01 * m
        assert 1 - 2 * cdf[c_normal] >= 1 - alpha


def test_distribution_is_cached_and_read_only() -> None:
    assert ratios._signed_rank_cdf(30) is ratios._signed_rank_cdf(30)
    with pytest.raises(ValueError, match="read-only"):
        ratios._signed_rank_cdf(30)[0] = 1.0


# --- known values ---------------------------------------------------------------------------


def test_estimate_is_median_of_walsh_averages() -> None:
    x = [0.1, -0.2, 0.4, 0.05, 0.3, -0.1, 0.25]
    interval = ratio_interval(x, 0.05)
    assert interval is not None
    assert interval.estimate == pytest.approx(math.exp(statistics.median(_walsh(x))), rel=1e-12)
    assert interval.n == 7
    assert interval.level == pytest.approx(0.95)
    # An even count of Walsh averages (n = 7 gives 28): the median is the mean of the middle two.
    assert len(_walsh(x)) % 2 == 0
    # Literal values: five zeros and one outlier; 15 of the 21 Walsh averages are 0.
    skewed = ratio_interval([0, 0, 0, 0, 0, 6], 0.05)
    assert skewed == RatioInterval(estimate=1.0, low=1.0, high=math.exp(6), n=6, level=0.95)
    symmetric = ratio_interval([0, 1, 2, 3, 4, 5], 0.05)
    assert symmetric is not None
    assert symmetric.estimate == pytest.approx(math.exp(2.5))


def test_interval_is_the_tabulated_walsh_average_pair() -> None:
    x = list(np.random.default_rng(3).normal(0.02, 0.05, 12))
    walsh = _walsh(x)
    interval = ratio_interval(x, 0.05)
    assert interval is not None
    # Table: n = 12, two-sided 0.05, c = 13: the bounds are the 14th smallest and largest.
    assert interval.low == pytest.approx(math.exp(walsh[13]), rel=1e-12)
    assert interval.high == pytest.approx(math.exp(walsh[len(walsh) - 14]), rel=1e-12)
    assert interval.low < interval.estimate < interval.high
    assert interval.to_dict() == {
        "estimate": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "n": 12,
        "level": interval.level,
    }


@pytest.mark.parametrize("alpha", [0.3, 0.05, 0.01, 1e-3, family_alpha(0.05, 30, 7)])
def test_no_interval_below_fewest_rounds(alpha: float) -> None:
    fewest = fewest_rounds(alpha)
    # The widest interval (min..max) has coverage 1 - 2**(1 - n).
    assert fewest == math.ceil(1 + math.log2(1 / alpha))
    x = list(np.random.default_rng(4).normal(0, 0.05, fewest))
    assert ratio_interval(x[:-1], alpha) is None
    interval = ratio_interval(x, alpha)
    assert interval is not None
    assert (interval.low, interval.high) == (math.exp(min(x)), math.exp(max(x)))
    assert ratio_interval([], alpha) is None


def test_fewest_rounds_of_the_gate() -> None:
    assert fewest_rounds(0.05) == 6 == LOOKS[0]
    assert looks_up_to(40) == (6, 8, 11, 15, 21, 29, 40)
    assert looks_up_to(5) == ()
    assert looks_up_to(10**6) == LOOKS
    assert all(1.3 <= b / a <= 1.45 for a, b in itertools.pairwise(LOOKS))
    assert family_alpha(0.05, 30, 7) == pytest.approx(0.05 / 210)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        ratio_interval([0.1] * 10, 0.0)
    with pytest.raises(ValueError, match="finite"):
        ratio_interval([0.1] * 9 + [math.nan], 0.05)
    with pytest.raises(ValueError, match="benchmark"):
        family_alpha(0.05, 0, 3)


# --- coverage ---------------------------------------------------------------------------------


def _normal(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    return rng.normal(0, 0.05, size)


def _student_t3(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    return 0.05 * rng.standard_t(3, size)


def _bursts(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """60% N(0, 0.03), 40% bursts of +-0.3 (random sign): symmetric, heavy, with ties."""
    burst = rng.random(size) < 0.4
    signs = rng.choice([-1.0, 1.0], size)
    return np.where(burst, 0.3 * signs, rng.normal(0, 0.03, size))


@pytest.mark.parametrize("noise", [_normal, _student_t3, _bursts])
def test_coverage_is_at_least_nominal(noise) -> None:
    rng = np.random.default_rng(5)
    samples, n, alpha, shift = 2000, 20, 0.05, math.log(1.07)
    data = shift + noise(rng, (samples, n))
    truth, slack = math.exp(shift), 1e-12  # slack: a bound on a tie, rounded either way
    covered = 0
    for row in data:
        interval = ratio_interval(row, alpha)
        assert interval is not None
        covered += interval.low * (1 - slack) <= truth <= interval.high * (1 + slack)
    coverage = covered / samples
    achieved = 1 - 2 * ratios._signed_rank_cdf(n)[ratios._critical(n, alpha)]
    assert achieved >= 1 - alpha
    assert coverage >= _at_least(achieved, samples)
    if noise is not _bursts:  # continuous: exact coverage, so not much above it either
        assert coverage <= _at_most(achieved, samples)


# --- the whole gate ------------------------------------------------------------------------


def _timing_noise(rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """Log timing noise: small jitter plus occasional one-sided slow bursts."""
    bursts = rng.exponential(0.2, size) * (rng.random(size) < 0.2)
    return rng.normal(0, 0.02, size) + bursts


def _gate(
    log_ratios: np.ndarray, alpha: float, max_slowdown: float, corrected: bool = True
) -> list[str]:
    """The gate's procedure on (benchmarks, max_rounds) paired log ratios: at each look every
    undecided benchmark gets its interval; pass and regression are final."""
    benchmarks, max_rounds = log_ratios.shape
    looks = looks_up_to(max_rounds)
    per_interval = family_alpha(alpha, benchmarks, len(looks)) if corrected else alpha
    verdicts = ["inconclusive"] * benchmarks
    for look in looks:
        for b in range(benchmarks):
            if verdicts[b] == "inconclusive":
                interval = ratio_interval(log_ratios[b, :look], per_interval)
                verdicts[b] = verdict(interval, max_slowdown)
    return verdicts


def _false_positive_rate(runs: int, alpha: float, seed: int, corrected: bool = True) -> float:
    rng = np.random.default_rng(seed)
    flagged = 0
    for _ in range(runs):
        base, candidate = _timing_noise(rng, (2, 30, 40))  # identical distributions
        # max_slowdown 0: any significant slowdown is flagged, the strictest case.
        flagged += "regression" in _gate(candidate - base, alpha, 0.0, corrected)
    return flagged / runs


def test_gate_false_positive_rate_is_within_alpha() -> None:
    runs = 300
    assert _false_positive_rate(runs, 0.05, seed=6) <= _at_most(0.05, runs)


def test_gate_without_correction_would_fail_the_check() -> None:
    # The check above has teeth: per-interval alpha 0.05 (no Bonferroni) flags most runs.
    assert _false_positive_rate(40, 0.05, seed=7, corrected=False) > 0.3


def test_gate_flags_a_real_slowdown_and_passes_no_change() -> None:
    rng = np.random.default_rng(8)
    slowed = [_gate(rng.normal(math.log(1.10), 0.02, (30, 40)), 0.05, 0.05) for _ in range(20)]
    flagged = sum(v == "regression" for run in slowed for v in run)
    assert flagged >= 0.99 * 600
    same = [_gate(rng.normal(0.0, 0.002, (30, 40)), 0.05, 0.05) for _ in range(20)]
    assert all(v == "pass" for run in same for v in run)
    # Within the limit but significantly slower (2% against a 5% limit): not a regression.
    within = _gate(rng.normal(math.log(1.02), 0.002, (30, 40)), 0.05, 0.05)
    assert all(v == "pass" for v in within)


def test_verdict_rules() -> None:
    def iv(estimate: float, low: float, high: float) -> RatioInterval:
        return RatioInterval(estimate, low, high, 20, 0.99)

    assert verdict(None, 0.05) == "inconclusive"
    assert verdict(iv(1.10, 1.06, 1.14), 0.05) == "regression"
    assert verdict(iv(1.04, 1.02, 1.20), 0.05) == "inconclusive"  # significant, estimate within
    assert verdict(iv(1.06, 0.98, 1.14), 0.05) == "inconclusive"  # over the limit, not significant
    assert verdict(iv(1.02, 1.01, 1.05), 0.05) == "pass"  # significant but within the limit
    assert verdict(iv(0.80, 0.70, 0.90), 0.0) == "pass"


# --- minimum detectable slowdown -------------------------------------------------------------


def test_mde_is_never_below_the_limit() -> None:
    rng = np.random.default_rng(9)
    for n in (8, 15, 40, 152):
        for sd in (0.0, 0.001, 0.05):
            interval = ratio_interval(rng.normal(0, sd, n), 0.01)
            assert interval is not None
            for max_slowdown in (0.0, 0.02, 0.1):
                for power in (0.5, 0.8, 0.99):
                    mde = minimum_detectable_slowdown(interval, max_slowdown, power)
                    assert mde >= max_slowdown - 1e-12


def test_mde_shrinks_with_more_rounds() -> None:
    def mde(n: int) -> float:
        x = 0.05 * norm.ppf((np.arange(n) + 0.5) / n)  # the same noise at every n
        interval = ratio_interval(x, 1e-3)
        assert interval is not None
        return minimum_detectable_slowdown(interval, 0.01)

    values = [mde(n) for n in LOOKS if n >= fewest_rounds(1e-3)]
    assert all(a > b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    ("n", "sd", "alpha", "max_slowdown"),
    [(29, 0.03, 1e-3, 0.0), (21, 0.05, 0.01, 0.05), (40, 0.01, 2.4e-4, 0.05)],
)
def test_mde_is_detected_at_the_stated_power(
    n: int, sd: float, alpha: float, max_slowdown: float
) -> None:
    rng = np.random.default_rng(10)
    seen = [ratio_interval(rng.normal(0, sd, n), alpha) for _ in range(50)]
    mde = float(np.median([minimum_detectable_slowdown(iv, max_slowdown) for iv in seen]))
    assert mde > max_slowdown
    runs = 300
    flagged = sum(
        verdict(ratio_interval(rng.normal(math.log1p(mde), sd, n), alpha), max_slowdown)
        == "regression"
        for _ in range(runs)
    )
    assert 0.6 <= flagged / runs <= 0.95


# --- families: every member's rounds pooled into one signed-rank interval -----------------


def _pooled_gate(log_ratios: np.ndarray, alpha: float, max_slowdown: float) -> str:
    """One family, (members, rounds) paired log ratios, judged pooled at every look."""
    looks = looks_up_to(log_ratios.shape[1])
    per_interval = 2 * family_alpha(alpha, 1, len(looks))
    for look in looks:
        decided = verdict(ratio_interval(log_ratios[:, :look].ravel(), per_interval), max_slowdown)
        if decided != "inconclusive":
            return decided
    return "inconclusive"


def test_pooled_family_false_positive_rate_is_within_alpha_with_looks() -> None:
    rng = np.random.default_rng(12)
    runs = 400
    base, candidate = _timing_noise(rng, (2, runs, 10, 40))
    flagged = sum(_pooled_gate(row, 0.05, 0.0) == "regression" for row in candidate - base)
    assert flagged / runs <= _at_most(0.05 / 2, runs)  # a regression is one-sided: alpha / 2


def test_pooled_family_catches_a_broad_slowdown_its_members_alone_cannot() -> None:
    rng = np.random.default_rng(13)
    members, rounds, alpha, limit = 10, 15, 0.05, 0.01
    base, candidate = _timing_noise(rng, (2, 40, members, rounds))
    per_run = candidate - base + math.log(1.03)
    by_family = sum(_pooled_gate(run, alpha / 2, limit) == "regression" for run in per_run)
    share = 2 * family_alpha(alpha / 2, members, len(looks_up_to(rounds)))
    by_member = sum(
        any(verdict(ratio_interval(m, share), limit) == "regression" for m in run)
        for run in per_run
    )
    assert by_family >= 36  # 90% of runs
    assert by_member <= by_family / 2
