"""The ceiling's record: what this machine delivered in parallel, or why it was not measured.

Measured by ``mlcpu.ceiling``; kept here, apart from the measuring, so reading a result file
imports none of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Ceiling:
    """The measured ceiling, or why there is none (``ratio`` None and ``skipped`` set).

    ``low``/``high`` bound ``ratio`` at confidence ``level``; records written before the ceiling
    had an interval load with them None.
    """

    ratio: float | None
    workers: int
    unit: str | None = None
    trees: int | None = None
    alone_s: list[float] = field(default_factory=list)
    together_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    method: str = (
        "one unit of training (the workload's largest configuration, fewer trees) alone on "
        "one worker and on every worker at once, in adjacent pairs (order alternating); "
        "ratio = Hodges-Lehmann estimate of the pairs' workers * alone / together, with its "
        "Wilcoxon signed-rank interval"
    )
    skipped: str | None = None
    low: float | None = None
    high: float | None = None
    level: float | None = None
    rounds: int | None = None
    stopped: str | None = None  # why measuring stopped: interval narrow enough, or a bound

    def for_workers(self, workers: int) -> float | None:
        """The ceiling for a strategy with ``workers`` workers (one worker: 1 by definition)."""
        if workers == 1:
            return 1.0
        return self.ratio if workers == self.workers else None

    def interval_for(self, workers: int) -> tuple[float, float] | None:
        """(low, high) of the ceiling for ``workers`` workers; None if it has no interval."""
        if workers == 1:
            return 1.0, 1.0
        if workers != self.workers or self.low is None or self.high is None:
            return None
        return self.low, self.high

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Ceiling:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in record.items() if k in known})


def skipped(reason: str, workers: int = 1) -> Ceiling:
    return Ceiling(ratio=None, workers=workers, skipped=reason)
