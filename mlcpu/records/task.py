"""Plain records of work done: one task's result, and a value with the time it took.

A leaf module: it imports neither scikit-learn nor any strategy or engine, so reading a result
file (``mlcpu compare``, ``mlcpu report``) does not load the machinery that produced it.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, Self, TypeVar

from mlcpu.records.config import TaskConfig
from mlcpu.records.models import DEFAULT_MODEL

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Timed(Generic[T]):
    """A value and the wall-clock seconds it took to produce."""

    value: T
    seconds: float


def timer(func: Callable[P, T]) -> Callable[P, Timed[T]]:
    """Decorator: time a whole call with the wall clock.

    Wall time (``perf_counter``), not CPU time: CPU time of the caller misses the work its
    worker processes and threads do, which is exactly what a parallel strategy adds.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Timed[T]:
        start = time.perf_counter()
        value = func(*args, **kwargs)
        return Timed(value, time.perf_counter() - start)

    return wrapper


@dataclass
class TaskResult:
    """What one trained configuration produced, and where and when it ran.

    ``started`` and ``ended`` are ``time.perf_counter()`` readings: on Linux that clock is
    system-wide, so readings from worker processes compare with the parent's. Strategies turn
    them into ``start_s``/``end_s`` relative to their own start.
    """

    index: int
    config: TaskConfig
    accuracy: float | None
    seconds: float
    cpu: int | None
    pid: int
    started: float
    ended: float
    start_s: float = 0.0
    end_s: float = 0.0
    thread: int | None = None
    worker: str | None = None
    host: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    estimator: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def ended_here(
        cls, index: int, config: TaskConfig, started: float, cpu: int | None, **fields: Any
    ) -> Self:
        """The record of work this process and thread did from ``started`` until now."""
        ended = time.perf_counter()
        return cls(
            index=index,
            config=config,
            seconds=ended - started,
            cpu=cpu,
            pid=os.getpid(),
            started=started,
            ended=ended,
            thread=threading.get_native_id(),
            **fields,
        )

    @classmethod
    def unreported(
        cls,
        index: int,
        config: TaskConfig,
        *,
        started: float | None,
        pid: int | None,
        error: str,
        ended: float | None = None,
    ) -> Self:
        """The error record of a task whose worker died or was stopped before reporting back:
        no accuracy, no CPU; from its start (if it was seen) until ``ended`` (default now)."""
        ended = time.perf_counter() if ended is None else ended
        started = ended if started is None else started
        return cls(
            index=index,
            config=config,
            accuracy=None,
            seconds=ended - started,
            cpu=None,
            pid=pid or 0,
            started=started,
            ended=ended,
            error=error,
        )

    @property
    def n_estimators(self) -> int:
        return self.config.n_estimators

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "n_estimators": self.config.n_estimators,
            "accuracy": self.accuracy,
            "seconds": self.seconds,
            "cpu": self.cpu,
            "pid": self.pid,
            "start_s": self.start_s,
            "end_s": self.end_s,
        }
        if self.config.fold is not None:
            record["fold"] = self.config.fold.index
        if self.config.model != DEFAULT_MODEL or self.config.params or self.config.fold:
            record["config"] = self.config.as_dict()
        for key in ("worker", "host", "error"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        record.update(self.extra)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any], index: int) -> TaskResult:
        config_record = record.get("config")
        config = (
            TaskConfig.from_dict(config_record)
            if config_record
            else TaskConfig(record["n_estimators"])
        )
        known = {f for f in cls.__dataclass_fields__} | {"n_estimators", "config", "fold"}
        return cls(
            index=index,
            config=config,
            accuracy=record.get("accuracy"),
            seconds=record.get("seconds", 0.0),
            cpu=record.get("cpu"),
            pid=record.get("pid", 0),
            started=record.get("start_s", 0.0),
            ended=record.get("end_s", 0.0),
            start_s=record.get("start_s", 0.0),
            end_s=record.get("end_s", 0.0),
            worker=record.get("worker"),
            host=record.get("host"),
            error=record.get("error"),
            extra={k: v for k, v in record.items() if k not in known},
        )
