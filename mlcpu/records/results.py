"""Results of a run: per-strategy figures, derived ratios, and the ``mlcpu.run/1`` JSON form.

Plain records: reading a result file with this module imports no scikit-learn and no engine.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from mlcpu._version import __version__
from mlcpu.errors import InputError
from mlcpu.records import schemas, search
from mlcpu.records.ceiling import Ceiling
from mlcpu.records.task import TaskResult

SCHEMA = schemas.RUN
BASELINE = "sequential"


@dataclass
class StrategyResult:
    """One strategy's measurements: start-up once, then one list of tasks per repeat."""

    name: str
    label: str
    workers: int
    startup_s: float = 0.0
    runs: list[list[TaskResult]] = field(default_factory=list)
    runs_s: list[float] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    speedup: float | None = None
    speedup_with_startup: float | None = None
    efficiency: float | None = None
    of_ceiling: float | None = None  # speedup / the machine's measured ceiling (mlcpu.ceiling)
    of_ceiling_low: float | None = None  # speedup / the ceiling interval's high end
    of_ceiling_high: float | None = None  # speedup / the ceiling interval's low end

    @property
    def elapsed_s(self) -> float | None:
        """Median wall time over the repeats (None if no run finished)."""
        return statistics.median(self.runs_s) if self.runs_s else None

    @property
    def median_run(self) -> int | None:
        if not self.runs_s:
            return None
        ranked = sorted(range(len(self.runs_s)), key=lambda i: self.runs_s[i])
        return ranked[(len(ranked) - 1) // 2]

    @property
    def tasks(self) -> list[TaskResult]:
        """The tasks of the median run (or of the unfinished run, if none finished)."""
        index = self.median_run
        if index is not None and index < len(self.runs):
            return self.runs[index]
        return self.runs[-1] if self.runs else []

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "workers": self.workers,
            "elapsed_s": self.elapsed_s,
            "runs_s": self.runs_s,
            "startup_s": self.startup_s,
            "speedup": self.speedup,
            "speedup_with_startup": self.speedup_with_startup,
            "efficiency": self.efficiency,
            "of_ceiling": self.of_ceiling,
            "of_ceiling_low": self.of_ceiling_low,
            "of_ceiling_high": self.of_ceiling_high,
            "options": self.options,
            "tasks": [t.to_dict() for t in self.tasks],
            "runs": [
                {
                    "elapsed_s": self.runs_s[i] if i < len(self.runs_s) else None,
                    "tasks": [t.to_dict() for t in run],
                }
                for i, run in enumerate(self.runs)
            ],
            **self.extra,
        }
        if search.is_search(self.tasks):
            record["candidates"] = search.candidates(self.tasks)
        if self.error is not None:
            record["error"] = self.error
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> StrategyResult:
        runs = [
            [TaskResult.from_dict(t, i) for i, t in enumerate(run.get("tasks", []))]
            for run in record.get("runs", [])
        ]
        if not runs and record.get("tasks"):
            runs = [[TaskResult.from_dict(t, i) for i, t in enumerate(record["tasks"])]]
        known = set(cls.__dataclass_fields__) | {"elapsed_s", "tasks", "candidates"}
        return cls(
            name=record["name"],
            label=record.get("label", record["name"]),
            workers=record.get("workers", 1),
            startup_s=record.get("startup_s") or 0.0,
            runs=runs,
            runs_s=list(record.get("runs_s") or []),
            options=record.get("options") or {},
            extra={k: v for k, v in record.items() if k not in known},
            error=record.get("error"),
            speedup=record.get("speedup"),
            speedup_with_startup=record.get("speedup_with_startup"),
            efficiency=record.get("efficiency"),
            of_ceiling=record.get("of_ceiling"),
            of_ceiling_low=record.get("of_ceiling_low"),
            of_ceiling_high=record.get("of_ceiling_high"),
        )


@dataclass
class RunResults:
    """Everything one ``mlcpu run`` measured, in the order strategies were given."""

    machine: dict[str, Any]
    workload: dict[str, Any]
    strategies: list[StrategyResult] = field(default_factory=list)
    repeat: int = 1
    status: str = "running"
    error: str | None = None
    created: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    extra: dict[str, Any] = field(default_factory=dict)
    ceiling: Ceiling | None = None

    def strategy(self, name: str) -> StrategyResult | None:
        return next((s for s in self.strategies if s.name == name), None)

    def compute_ratios(self) -> None:
        """Speedup and efficiency against ``sequential`` measured in this same run."""
        base = self.strategy(BASELINE)
        reference = base.elapsed_s if base is not None else None
        for result in self.strategies:
            elapsed = result.elapsed_s
            if reference is None or elapsed is None or elapsed <= 0:
                result.speedup = result.efficiency = result.speedup_with_startup = None
                result.of_ceiling = result.of_ceiling_low = result.of_ceiling_high = None
                continue
            result.speedup = reference / elapsed
            result.efficiency = result.speedup / result.workers
            result.speedup_with_startup = reference / (elapsed + result.startup_s)
            limit = self.ceiling.for_workers(result.workers) if self.ceiling else None
            result.of_ceiling = result.speedup / limit if limit else None
            ends = self.ceiling.interval_for(result.workers) if self.ceiling else None
            result.of_ceiling_low, result.of_ceiling_high = (
                (result.speedup / ends[1], result.speedup / ends[0]) if ends else (None, None)
            )

    def failed_tasks(self) -> list[tuple[str, TaskResult]]:
        """(strategy, task) for every task recorded as failed (``keep_going`` runs)."""
        return [
            (result.name, task)
            for result in self.strategies
            for run in result.runs
            for task in run
            if task.error is not None
        ]

    def accuracy_mismatches(self) -> list[str]:
        """Configurations whose accuracy differs between strategies (should never happen)."""
        seen: dict[tuple[Any, ...], tuple[str, float]] = {}
        problems: list[str] = []
        for result in self.strategies:
            for run in result.runs:
                for task in run:
                    if task.accuracy is None:
                        continue
                    key = (task.config.n_estimators, *task.config.family)
                    first = seen.setdefault(key, (result.name, task.accuracy))
                    if not math.isclose(first[1], task.accuracy, rel_tol=0, abs_tol=1e-12):
                        problems.append(
                            f"{task.config.label}: {first[0]} {first[1]:.4f} vs "
                            f"{result.name} {task.accuracy:.4f}"
                        )
        return problems

    def to_dict(self) -> dict[str, Any]:
        self.compute_ratios()
        return {
            "schema": SCHEMA,
            "mlcpu_version": __version__,
            "created": self.created,
            "status": self.status,
            "error": self.error,
            "machine": self.machine,
            "workload": self.workload,
            "repeat": self.repeat,
            "accuracy_consistent": not self.accuracy_mismatches(),
            "ceiling": self.ceiling.to_dict() if self.ceiling is not None else None,
            "strategies": [s.to_dict() for s in self.strategies],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> RunResults:
        written = {"schema", "mlcpu_version", "accuracy_consistent"}  # by to_dict, not fields
        known = written | set(cls.__dataclass_fields__) - {"extra"}
        ceiling = document.get("ceiling")
        return cls(
            machine=document.get("machine", {}),
            workload=document.get("workload", {}),
            strategies=[StrategyResult.from_dict(s) for s in document.get("strategies", [])],
            repeat=document.get("repeat", 1),
            status=document.get("status", "ok"),
            error=document.get("error"),
            created=document.get("created", ""),
            extra={k: v for k, v in document.items() if k not in known},
            ceiling=Ceiling.from_dict(ceiling) if isinstance(ceiling, dict) else None,
        )


def load(path: str) -> RunResults:
    """Read an ``mlcpu run`` JSON file; a missing, truncated or foreign file is an InputError."""
    import json
    from pathlib import Path

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"results file {path!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read results file {path!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"results file {path!r} is not valid JSON (truncated or corrupt?): {exc}"
        ) from None
    if not schemas.is_run(document):
        raise InputError(f"{path!r} is not an mlcpu run results file (no {SCHEMA!r} schema)")
    try:
        return RunResults.from_dict(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"results file {path!r} is malformed: {exc!r}") from None
