"""Judging one benchmark from its paired rounds: time by the interval of candidate / base,
accuracy by any drop beyond the limit.

Round ``i`` of the base and round ``i`` of the candidate ran next to each other in time, so
their ratio cancels what the machine was doing then; a run-against-run test would treat
rounds that share one run's machine state as independent, and its p-values are far too small.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcpu.comparing.ratios import (
    RatioInterval,
    minimum_detectable_slowdown,
    ratio_interval,
    verdict,
)
from mlcpu.gate.catalogue import Benchmark

PASS, REGRESSION, INCONCLUSIVE = "pass", "regression", "inconclusive"


@dataclass(kw_only=True)
class _Judged:
    """What a benchmark and a family share: the interval of their log ratios, judged at the
    planned looks against their limit, and the slowdown it could have detected."""

    interval: RatioInterval | None = None
    time_verdict: str = INCONCLUSIVE
    decided_at: int | None = None

    if TYPE_CHECKING:  # supplied by each kind; not dataclass fields

        @property
        def observations(self) -> list[float]: ...
        @property
        def rounds(self) -> int: ...
        @property
        def max_slowdown(self) -> float: ...

    @property
    def decided(self) -> bool:
        return self.decided_at is not None

    def look(self, alpha: float, final: bool = False) -> None:
        """Judge the time at a planned look (or the last one); decide only when it is clear."""
        self.interval = ratio_interval(self.observations, alpha)
        self.time_verdict = verdict(self.interval, self.max_slowdown)
        if self.time_verdict != INCONCLUSIVE or final:
            self.decided_at = self.rounds

    def minimum_detectable(self) -> float | None:
        if self.interval is None:
            return None
        return minimum_detectable_slowdown(self.interval, self.max_slowdown)

    def _interval_fields(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "rounds": self.rounds,
            "decided_at_round": self.decided_at,  # a family may keep a member running longer
            "ratio": interval.estimate if interval else None,
            "ratio_low": interval.low if interval else None,
            "ratio_high": interval.high if interval else None,
            "confidence": interval.level if interval else None,
            "max_slowdown": self.max_slowdown,
            "minimum_detectable_slowdown": self.minimum_detectable(),
        }


@dataclass
class Tally(_Judged):
    """Everything measured for one benchmark, and what it was judged."""

    benchmark: Benchmark
    max_slowdown: float
    max_accuracy_drop: float
    base_s: list[float] = field(default_factory=list)  # every timed run, in order
    candidate_s: list[float] = field(default_factory=list)
    observations: list[float] = field(default_factory=list)  # log ratio per round
    round_ids: list[int] = field(default_factory=list)  # which round each observation is from
    base_accuracy: dict[str, float | None] = field(default_factory=dict)
    candidate_accuracy: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.benchmark.name

    @property
    def rounds(self) -> int:
        return len(self.observations)

    @property
    def decided(self) -> bool:
        """Judged at a look, or failed on accuracy (deterministic: more rounds cannot help)."""
        return self.decided_at is not None or bool(self.accuracy_drops())

    def add_round(self, base: float, candidate: float, round_id: int = 0) -> None:
        """One round: a run a side, next to each other in time; observes log(candidate / base)."""
        self.base_s.append(base)
        self.candidate_s.append(candidate)
        self.observations.append(math.log(candidate / base))
        self.round_ids.append(round_id)

    def record_accuracy(self, side: str, accuracy: dict[str, float | None]) -> None:
        """The first round's accuracy is the side's; a later round that differs is noted."""
        known = self.base_accuracy if side == "base" else self.candidate_accuracy
        if not known:
            known.update(accuracy)
        elif accuracy != known:
            note = f"{side} accuracy changed between rounds ({known} then {accuracy})"
            if note not in self.notes:
                self.notes.append(note)

    def accuracy_drops(self) -> list[str]:
        """Configurations whose candidate accuracy is lower than base by more than the limit."""
        drops = []
        for size, before in self.base_accuracy.items():
            after = self.candidate_accuracy.get(size)
            if before is None or after is None:
                continue
            if before - after > self.max_accuracy_drop + 1e-12:
                drops.append(f"{size} trees {before:.4f} -> {after:.4f}")
        return drops

    @property
    def verdict(self) -> str:
        if self.accuracy_drops() or self.time_verdict == REGRESSION:
            return REGRESSION
        return self.time_verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fullname": self.benchmark.fullname,
            "group": self.benchmark.group,
            "family": self.benchmark.kind,
            "strategy": self.benchmark.strategy,
            "dataset": self.benchmark.dataset,
            **self._interval_fields(),
            "base_median_s": _median(self.base_s),
            "candidate_median_s": _median(self.candidate_s),
            "time_verdict": self.time_verdict,
            "accuracy_drops": self.accuracy_drops(),
            "max_accuracy_drop": self.max_accuracy_drop,
            "verdict": self.verdict,
            "base_accuracy": self.base_accuracy,
            "candidate_accuracy": self.candidate_accuracy,
            "base_s": self.base_s,
            "candidate_s": self.candidate_s,
            "log_ratios": self.observations,
            "notes": self.notes,
        }


@dataclass
class FamilyTally(_Judged):
    """A family of benchmarks judged together: every member's log ratio of every round in
    which all members ran, pooled into one signed-rank interval.

    The common regression (fitting itself got slower, e.g. a library upgrade) slows every
    member at once. One benchmark's rounds are few and noisy; pooled, a family of ten has ten
    times the observations, so a broad slowdown is decided in a few rounds where no single
    member could decide it. Pooling treats the members' ratios within a round as independent:
    each was measured at its own moment of the round (in shuffled order), and on the gate runs
    measured here the variance of a round's mean over members was the independent one's
    (ratio 0.5-2.6, noisy at 4-7 rounds). Members keep running until their family is decided,
    so every counted round holds the same benchmarks.
    """

    kind: str
    members: list[Tally]

    @property
    def name(self) -> str:
        return f"{self.kind}: all {len(self.members)} together"

    @property
    def max_slowdown(self) -> float:
        """If every member slowed by exactly its own limit, the pooled centre would sit at
        about their geometric mean."""
        logs = [math.log1p(m.max_slowdown) for m in self.members]
        return math.expm1(statistics.fmean(logs))

    def _complete_rounds(self) -> list[list[float]]:
        by_round: dict[int, list[float]] = {}
        for member in self.members:
            for round_id, value in zip(member.round_ids, member.observations, strict=True):
                by_round.setdefault(round_id, []).append(value)
        every = len(self.members)
        return [values for _, values in sorted(by_round.items()) if len(values) == every]

    @property
    def observations(self) -> list[float]:
        """All members' log ratios from the rounds in which every member was measured."""
        return [value for values in self._complete_rounds() for value in values]

    @property
    def rounds(self) -> int:
        return len(self._complete_rounds())

    @property
    def verdict(self) -> str:
        return self.time_verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.kind,
            "members": [m.name for m in self.members],
            **self._interval_fields(),
            "verdict": self.verdict,
        }


def families(tallies: list[Tally]) -> list[FamilyTally]:
    """One family per benchmark kind with at least two members (one would repeat its member)."""
    grouped: dict[str, list[Tally]] = {}
    for tally in tallies:
        grouped.setdefault(tally.benchmark.kind, []).append(tally)
    return [FamilyTally(kind, members) for kind, members in grouped.items() if len(members) > 1]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
