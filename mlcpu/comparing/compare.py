"""The regression gate: is CURRENT slower or less accurate than BASELINE, beyond noise?

A benchmark fails on time when its median is slower than the baseline's by more than its limit
(``--max-slowdown``, default 10%) **and** its timings are significantly slower than the
baseline's timings times (1 + limit): a one-sided Mann-Whitney U test on the raw timings
(pytest-benchmark's ``--benchmark-save-data``, or every ``--repeat`` of ``mlcpu run``),
p < ``alpha`` (default 0.01). Without raw timings, Welch's t-test from the saved mean, standard
deviation and rounds stands in; with a single round no test is possible and the limit alone
decides (failing closed). It fails on accuracy when its accuracy (or any per-configuration
accuracy) dropped by more than ``--max-accuracy-drop`` (default 0).

A benchmark that is in the baseline only fails (it was removed, or it errored and
pytest-benchmark left it out of the file) unless ``allow_missing``; one in CURRENT only is
reported as new and passes. Files that cannot be compared (another Python, another core count,
another CPU unless normalized, another benchmark profile or workload) raise ``InputError``.
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcpu.comparing.benchfiles import REFERENCE_STRATEGY, Measurement, TimingFile
from mlcpu.comparing.thresholds import Rules
from mlcpu.errors import InputError

DEFAULT_MAX_SLOWDOWN = 0.10
DEFAULT_MAX_ACCURACY_DROP = 0.0
DEFAULT_ALPHA = 0.01
NORMALIZE_CHOICES = ("none", REFERENCE_STRATEGY)
# Accuracy is a ratio of small integers: differences below this are float noise, not a drop.
_ACCURACY_EPS = 1e-9
# Machine facts that must match; the CPU model may differ once times are normalized.
_MACHINE_KEYS = ("python", "python_implementation", "system", "machine", "usable_cpus")

OK, SLOWER, NOISE, FASTER, ACCURACY, MISSING, NEW, REFERENCE, UNNORMALIZED = (
    "ok",
    "SLOWER",
    "slower, not significant",
    "faster",
    "ACCURACY DROP",
    "MISSING",
    "new",
    "reference",
    "not normalized",
)
FAILING = frozenset({SLOWER, ACCURACY, MISSING})


@dataclass(frozen=True)
class Settings:
    max_slowdown: Rules = field(default_factory=lambda: Rules((), DEFAULT_MAX_SLOWDOWN))
    max_accuracy_drop: Rules = field(default_factory=lambda: Rules((), DEFAULT_MAX_ACCURACY_DROP))
    alpha: float = DEFAULT_ALPHA
    normalize: str = "none"
    allow_missing: bool = False
    ignore_machine: bool = False


@dataclass
class Row:
    """One benchmark's verdict: the figures shown in the table and why it passed or failed."""

    key: str
    name: str
    group: str | None
    before: Measurement | None
    after: Measurement | None
    change: float | None = None
    p_value: float | None = None
    test: str = ""
    limit: float | None = None
    accuracy_drop: float | None = None
    accuracy_limit: float | None = None
    verdicts: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(v in FAILING for v in self.verdicts)

    @property
    def verdict(self) -> str:
        return ", ".join(self.verdicts) or OK


@dataclass
class Report:
    baseline: TimingFile
    current: TimingFile
    settings: Settings
    rows: list[Row]
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if row.failed]

    @property
    def passed(self) -> bool:
        return not self.failures


def check_comparable(baseline: TimingFile, current: TimingFile, settings: Settings) -> list[str]:
    """Raise ``InputError`` when the two files must not be compared; return warnings."""
    if baseline.kind != current.kind:
        raise InputError(
            f"cannot compare a {baseline.kind} file ({baseline.path!r}) with a {current.kind} "
            f"file ({current.path!r})"
        )
    notes: list[str] = []
    if baseline.suite != current.suite:
        what = "benchmark profile" if baseline.kind == "pytest-benchmark" else "workload"
        difference = _difference(baseline.suite, current.suite)
        raise InputError(f"the files were made with a different {what}: {difference}")
    keys = list(_MACHINE_KEYS)
    if settings.normalize == "none":
        keys.append("cpu_model")
    different = {
        key: (baseline.machine.get(key), current.machine.get(key))
        for key in keys
        if baseline.machine.get(key) != current.machine.get(key)
    }
    if different:
        text = "; ".join(f"{k} {a!r} vs {b!r}" for k, (a, b) in different.items())
        if not settings.ignore_machine:
            hint = (
                " (use --normalize sequential to compare across CPU models)"
                if set(different) == {"cpu_model"}
                else ""
            )
            raise InputError(
                f"the files come from different machines: {text}{hint}; "
                "--ignore-machine compares anyway"
            )
        notes.append(f"machines differ ({text}); compared anyway (--ignore-machine)")
    if not baseline.raw_data or not current.raw_data:
        notes.append(
            "raw timings missing (save with --benchmark-save-data): significance from Welch's "
            "t-test on the saved mean and standard deviation"
        )
    return notes


def _difference(a: dict[str, object], b: dict[str, object]) -> str:
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return "; ".join(f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in keys)


def normalized(timings: TimingFile) -> tuple[dict[str, Measurement], set[str]]:
    """Every time divided by its family's sequential median (in the same file).

    Returns the normalized measurements and the keys that have no sequential reference.
    """
    references = {
        m.family: m.median
        for m in timings.measurements.values()
        if m.strategy == REFERENCE_STRATEGY and m.family is not None
    }
    result: dict[str, Measurement] = {}
    missing: set[str] = set()
    for key, measurement in timings.measurements.items():
        reference = references.get(measurement.family) if measurement.family is not None else None
        if reference is None or reference <= 0:
            missing.add(key)
            result[key] = measurement
        else:
            result[key] = measurement.scaled(reference)
    return result, missing


def slower_p_value(
    before: Measurement, after: Measurement, allowed: float = 0.0
) -> tuple[float | None, str]:
    """One-sided p-value that ``after`` is slower than ``before`` times ``1 + allowed``.

    Testing against the allowed slowdown rather than against no change asks "is it slower
    than the limit allows?": rounds of one run are correlated (a shared machine drifts
    between runs more than within one), so a test against zero change finds "significant"
    differences between two runs of the same code far more often than alpha says.
    """
    from scipy import stats

    limit = before.scaled(1 / (1 + allowed))
    if len(limit.samples) > 1 and len(after.samples) > 1:
        result = stats.mannwhitneyu(after.samples, limit.samples, alternative="greater")
        return float(result.pvalue), "U"
    if limit.rounds > 1 and after.rounds > 1:
        if limit.stddev == 0 and after.stddev == 0:
            return (0.0 if after.mean > limit.mean else 1.0), "t"
        result = stats.ttest_ind_from_stats(
            after.mean,
            after.stddev,
            after.rounds,
            limit.mean,
            limit.stddev,
            limit.rounds,
            equal_var=False,
            alternative="greater",
        )
        return float(result.pvalue), "t"
    return None, "n=1"


def compare(baseline: TimingFile, current: TimingFile, settings: Settings) -> Report:
    notes = check_comparable(baseline, current, settings)
    before_all, after_all = baseline.measurements, current.measurements
    unnormalized: set[str] = set()
    if settings.normalize == REFERENCE_STRATEGY:
        before_all, missing_before = normalized(baseline)
        after_all, missing_after = normalized(current)
        unnormalized = missing_before | missing_after
    shared = [k for k in before_all if k in after_all]
    if not shared:
        raise InputError(
            f"{baseline.path!r} and {current.path!r} have no benchmark in common; "
            "nothing to compare"
        )
    rows = [
        _row(key, before_all.get(key), after_all.get(key))
        for key in dict.fromkeys([*before_all, *after_all])
    ]
    for row in rows:
        _judge(row, settings, unnormalized)
    powerless = [row.name for row in rows if _cannot_be_significant(row, settings.alpha)]
    if powerless:
        notes.append(
            f"{len(powerless)} benchmark(s) have too few timings for any p < {settings.alpha:g} "
            f"(e.g. {powerless[0]}); they can only pass: save more rounds or repeats"
        )
    return Report(baseline, current, settings, rows, notes)


def _cannot_be_significant(row: Row, alpha: float) -> bool:
    """The smallest one-sided Mann-Whitney p for n and m timings is 1 / C(n + m, n)."""
    if row.test != "U" or row.before is None or row.after is None:
        return False
    n, m = len(row.before.samples), len(row.after.samples)
    return 1 / math.comb(n + m, n) >= alpha


def _row(key: str, before: Measurement | None, after: Measurement | None) -> Row:
    shown = after or before
    assert shown is not None
    return Row(key=key, name=shown.name, group=shown.group, before=before, after=after)


def _judge(row: Row, settings: Settings, unnormalized: set[str]) -> None:
    before, after = row.before, row.after
    if after is None:
        row.verdicts.append(MISSING if not settings.allow_missing else "missing (allowed)")
        return
    if before is None:
        row.verdicts.append(NEW)
        return
    row.limit = settings.max_slowdown.limit(row.name)
    if settings.normalize != "none" and row.key in unnormalized:
        row.verdicts.append(UNNORMALIZED)
    elif settings.normalize != "none" and after.strategy == REFERENCE_STRATEGY:
        row.verdicts.append(REFERENCE)
    elif before.median > 0:
        row.change = after.median / before.median - 1
        row.p_value, row.test = slower_p_value(before, after, row.limit)
        significant = row.p_value is None or row.p_value < settings.alpha
        if row.change > row.limit:
            row.verdicts.append(SLOWER if significant else NOISE)
        elif row.change < -row.limit:
            faster_p, _ = slower_p_value(after, before, row.limit)
            if faster_p is not None and faster_p < settings.alpha:
                row.verdicts.append(FASTER)
    _judge_accuracy(row, settings)


def _judge_accuracy(row: Row, settings: Settings) -> None:
    before, after = row.before, row.after
    assert before is not None
    assert after is not None
    drops: list[float] = []
    if before.accuracy is not None:
        if after.accuracy is None:
            row.verdicts.append(ACCURACY)
            return
        drops.append(before.accuracy - after.accuracy)
    drops.extend(
        before.accuracies[k] - after.accuracies[k]
        for k in before.accuracies
        if k in after.accuracies
    )
    if not drops:
        return
    row.accuracy_drop = max(drops)
    row.accuracy_limit = settings.max_accuracy_drop.limit(row.name)
    if row.accuracy_drop > row.accuracy_limit + _ACCURACY_EPS:
        row.verdicts.append(ACCURACY)


def failure_lines(report: Report) -> list[str]:
    """One sentence per failing benchmark, saying which limit it broke."""
    lines = []
    for row in report.failures:
        reasons: list[str] = []
        if MISSING in row.verdicts:
            reasons.append(
                "is in the baseline but not in the current file (removed, or it errored and "
                "pytest-benchmark left it out); --allow-missing accepts this"
            )
        if SLOWER in row.verdicts and row.change is not None and row.limit is not None:
            evidence = (
                f"slower than the limit allows: p={row.p_value:.3g} < {report.settings.alpha:g}, "
                f"{_test_name(row.test)}"
                if row.p_value is not None
                else "a single round each, so no significance test is possible"
            )
            reasons.append(f"is {row.change:+.1%} slower (limit {row.limit:.0%}; {evidence})")
        if ACCURACY in row.verdicts:
            if row.accuracy_drop is None:
                reasons.append("lost its accuracy figure")
            else:
                reasons.append(
                    f"lost {row.accuracy_drop:.4f} accuracy (limit {row.accuracy_limit:g})"
                )
        lines.append(f"{row.name} " + " and ".join(reasons))
    return lines


def _test_name(test: str) -> str:
    return {"U": "Mann-Whitney U", "t": "Welch's t-test"}.get(test, test)


def natural_key(text: str | None) -> list[Any]:
    """Sort ``10 trees`` before ``100 trees``; group names are otherwise sorted as text."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text or "")]


def summary_counts(rows: Sequence[Row]) -> dict[str, int]:
    return dict(collections.Counter(v for row in rows for v in row.verdicts or [OK]))
