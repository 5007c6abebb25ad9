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
from typing import Any

from mlcpu.gate.catalogue import Benchmark
from mlcpu.ratios import RatioInterval, minimum_detectable_slowdown, ratio_interval, verdict

PASS, REGRESSION, INCONCLUSIVE = "pass", "regression", "inconclusive"


@dataclass
class Tally:
    """Everything measured for one benchmark, and what it was judged."""

    benchmark: Benchmark
    max_slowdown: float
    max_accuracy_drop: float
    base_s: list[float] = field(default_factory=list)  # every timed run, in order
    candidate_s: list[float] = field(default_factory=list)
    observations: list[float] = field(default_factory=list)  # log ratio per round
    base_accuracy: dict[str, float | None] = field(default_factory=dict)
    candidate_accuracy: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    interval: RatioInterval | None = None
    time_verdict: str = INCONCLUSIVE
    decided_at: int | None = None

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

    def add_round(self, base: list[float], candidate: list[float]) -> None:
        """One round: each side's runs of it, taken next to each other (ABBA).

        The observation is the ratio of the two sides' fastest runs: other work on the machine
        only ever slows a run down, so a burst that hits one of a side's runs is dropped rather
        than read as a difference between the trees.
        """
        self.base_s.extend(base)
        self.candidate_s.extend(candidate)
        self.observations.append(math.log(min(candidate) / min(base)))

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

    def look(self, alpha: float, final: bool = False) -> None:
        """Judge the time at a planned look (or the last one); decide only when it is clear."""
        self.interval = ratio_interval(self.observations, alpha)
        self.time_verdict = verdict(self.interval, self.max_slowdown)
        if self.time_verdict != INCONCLUSIVE or final:
            self.decided_at = self.rounds

    @property
    def verdict(self) -> str:
        if self.accuracy_drops() or self.time_verdict == REGRESSION:
            return REGRESSION
        return self.time_verdict

    def minimum_detectable(self) -> float | None:
        if self.interval is None:
            return None
        return minimum_detectable_slowdown(self.interval, self.max_slowdown)

    def to_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "name": self.name,
            "fullname": self.benchmark.fullname,
            "group": self.benchmark.group,
            "family": self.benchmark.kind,
            "strategy": self.benchmark.strategy,
            "dataset": self.benchmark.dataset,
            "rounds": self.rounds,
            "base_median_s": _median(self.base_s),
            "candidate_median_s": _median(self.candidate_s),
            "ratio": interval.estimate if interval else None,
            "ratio_low": interval.low if interval else None,
            "ratio_high": interval.high if interval else None,
            "confidence": interval.level if interval else None,
            "max_slowdown": self.max_slowdown,
            "minimum_detectable_slowdown": self.minimum_detectable(),
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


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
