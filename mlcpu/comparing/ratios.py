"""Paired-ratio statistics: a candidate/base ratio with a distribution-free confidence interval.

Used by the regression gate (paired ``log(candidate / base)`` timings, interleaved round by
round) and by the machine-ceiling measurement (paired together/alone ratios). Timing noise is
heavy-tailed (bursts from other processes), so the centre is the Hodges-Lehmann estimate and the
interval the Wilcoxon signed-rank one: their coverage holds for any symmetric distribution of
the paired log ratios, not only the normal. The gate looks at the data repeatedly and across
many benchmarks; ``family_alpha`` splits the error budget (Bonferroni) so the whole run holds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy.stats import norm

# Exact null distribution up to here; the normal approximation is within an index beyond.
_EXACT_MAX_N = 80
# The gate's decision points: start at 6 rounds (the fewest that give a 95% interval) and grow
# by ~1.4x (each rounded down), so the number of looks, and the Bonferroni cost, grows slowly.
LOOKS: tuple[int, ...] = (6, 8, 11, 15, 21, 29, 40, 56, 78, 109, 152)

Verdict = Literal["pass", "regression", "inconclusive"]


@dataclass(frozen=True)
class RatioInterval:
    """A ratio (candidate/base) with a two-sided confidence interval, from n paired log ratios."""

    estimate: float  # exp(Hodges-Lehmann estimate of the log ratios' centre)
    low: float  # exp(lower bound)
    high: float  # exp(upper bound)
    n: int
    level: float  # two-sided confidence level (nominal, 1 - alpha), e.g. 0.9995

    def to_dict(self) -> dict[str, float | int]:
        """Plain values, for JSON reports."""
        return asdict(self)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


@functools.cache
def _signed_rank_cdf(n: int) -> np.ndarray:
    """P(W+ <= w), w = 0..n(n+1)/2, under the null: each rank's sign is a fair coin.

    Dynamic programming over ranks on probabilities (halving at each step), so the values stay
    in [0, 1] and the small lower-tail probabilities keep full relative precision. Read-only,
    since it is cached and shared.
    """
    pmf = np.zeros(n * (n + 1) // 2 + 1)
    pmf[0] = 1.0
    for k in range(1, n + 1):
        shifted = np.zeros_like(pmf)
        shifted[k:] = pmf[:-k]
        pmf = 0.5 * (pmf + shifted)
    cdf = np.cumsum(pmf)
    cdf.flags.writeable = False
    return cdf


def _critical_exact(n: int, alpha: float) -> int:
    """Largest c with P(W+ <= c) <= alpha/2 (exact), or -1 if there is none."""
    return int(np.searchsorted(_signed_rank_cdf(n), alpha / 2.0, side="right")) - 1


def _critical_normal(n: int, alpha: float) -> int:
    """Largest c with P(W+ <= c) <= alpha/2 by the normal approximation (continuity corrected).

    The signed-rank statistic is bounded, so its tails are lighter than the normal's: the
    approximation errs on the conservative side in the far tail.
    """
    mean = n * (n + 1) / 4.0
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    c = math.floor(mean - 0.5 - sd * float(norm.isf(alpha / 2.0)))
    return max(-1, min(c, (n * (n + 1) // 2 - 1) // 2))


def _critical(n: int, alpha: float) -> int:
    """Walsh averages to drop at each end for a 1 - alpha interval; -1 if no interval exists."""
    if n < 1:
        return -1
    return _critical_exact(n, alpha) if n <= _EXACT_MAX_N else _critical_normal(n, alpha)


@functools.cache
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i <= j of the n(n+1)/2 Walsh averages."""
    i, j = np.triu_indices(n)
    i.flags.writeable = False
    j.flags.writeable = False
    return i, j


def ratio_interval(log_ratios: Sequence[float], alpha: float) -> RatioInterval | None:
    """Hodges-Lehmann estimate (median of the Walsh averages) with the distribution-free
    Wilcoxon signed-rank confidence interval at two-sided level 1 - alpha.

    Exact null distribution of the signed-rank statistic (dynamic programming) for n <= 80,
    normal approximation beyond. None when n is too small for any interval at this alpha
    (i.e. when even the widest interval, min..max Walsh average, has coverage < 1 - alpha).
    The interval is [A(c+1), A(M-c)] of the M sorted Walsh averages, where c is the largest
    value with P(W+ <= c) <= alpha/2, so its coverage is at least 1 - alpha.
    """
    _check_alpha(alpha)
    x = np.asarray(log_ratios, dtype=float)
    if x.ndim != 1:
        raise ValueError("log_ratios must be one-dimensional")
    if not np.all(np.isfinite(x)):
        raise ValueError("log_ratios must be finite")
    n = int(x.size)
    c = _critical(n, alpha)
    if c < 0:
        return None
    i, j = _pairs(n)
    walsh = (x[i] + x[j]) * 0.5
    m = walsh.size
    mid = ((m - 1) // 2, m // 2)
    part = np.partition(walsh, sorted({c, m - 1 - c, *mid}))
    centre = 0.5 * (part[mid[0]] + part[mid[1]])
    return RatioInterval(
        estimate=math.exp(centre),
        low=math.exp(part[c]),
        high=math.exp(part[m - 1 - c]),
        n=n,
        level=1.0 - alpha,
    )


def fewest_rounds(alpha: float) -> int:
    """Smallest n for which ratio_interval can return an interval at this alpha.

    Exactly: the widest interval has coverage 1 - 2**(1 - n), so n >= 1 + log2(1 / alpha).
    """
    _check_alpha(alpha)
    n = 1
    while _critical(n, alpha) < 0:
        n += 1
    return n


def family_alpha(alpha: float, benchmarks: int, looks: int) -> float:
    """Bonferroni: the per-interval alpha so that all intervals of all benchmarks at all looks
    hold together with probability >= 1 - alpha.

    Bonferroni needs no independence, which matters here: the looks at one benchmark share
    their rounds, and benchmarks share the machine's noise.
    """
    _check_alpha(alpha)
    if benchmarks < 1 or looks < 1:
        raise ValueError(f"need at least one benchmark and one look, got {benchmarks}, {looks}")
    return alpha / (benchmarks * looks)


def looks_up_to(max_rounds: int) -> tuple[int, ...]:
    """The LOOKS entries <= max_rounds: the gate's decision points under its own cap."""
    return tuple(look for look in LOOKS if look <= max_rounds)


def verdict(interval: RatioInterval | None, max_slowdown: float) -> Verdict:
    """max_slowdown: 0.05 means 5%.

    regression: the slowdown is significant (interval.low > 1) AND the estimate exceeds the
       limit (interval.estimate > 1 + max_slowdown) -- the same rule `mlcpu compare` applies:
       slower than the limit allows, not merely different.
    pass: interval.high <= 1 + max_slowdown (any slowdown is within the limit, with confidence).
    inconclusive: otherwise, or interval None.
    """
    if max_slowdown < 0:
        raise ValueError(f"max_slowdown must be >= 0, got {max_slowdown!r}")
    if interval is None:
        return "inconclusive"
    limit = 1.0 + max_slowdown
    if interval.low > 1.0 and interval.estimate > limit:
        return "regression"
    if interval.high <= limit:
        return "pass"
    return "inconclusive"


def minimum_detectable_slowdown(
    interval: RatioInterval, max_slowdown: float, power: float = 0.8
) -> float:
    """The smallest true slowdown (0.06 = 6%) this run would have flagged as a regression with
    probability `power`, at the noise and number of rounds it saw.

    The standard error is read off the interval (half-width of the log interval / the normal
    quantile of its level), and a regression needs the estimate both above log(1 + max_slowdown)
    and above the half-width, so
    MDE = exp(max(log(1+max_slowdown), half_width) + z_power * se) - 1.
    An inconclusive run reports this so "no regression found" says how large one could hide.
    """
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    if max_slowdown < 0:
        raise ValueError(f"max_slowdown must be >= 0, got {max_slowdown!r}")
    half_width = 0.5 * (math.log(interval.high) - math.log(interval.low))
    se = half_width / float(norm.isf((1.0 - interval.level) / 2.0))
    threshold = max(math.log1p(max_slowdown), half_width)
    return math.expm1(threshold + float(norm.ppf(power)) * se)
