"""Exceptions mlcpu raises, so callers can tell bad input from a failed run.

``InputError`` (a ``ValueError``) means the request itself was wrong: the command line maps it to
exit code 2. ``TaskError`` and its subclasses mean a training task failed while running: exit
code 1. Every message names what was wrong and what is allowed.

A leaf module: every other mlcpu module may import it, so it imports none of them (the records
in ``TaskError.completed`` are ``mlcpu.records.task.TaskResult``, typed here as ``Any``).
"""

from __future__ import annotations

from typing import Any


class MlcpuError(Exception):
    """Base class of every error mlcpu raises on purpose."""


class InputError(MlcpuError, ValueError):
    """The user asked for something invalid (unknown name, bad number, unusable file...)."""


class MissingExtraError(InputError, ImportError):
    """An optional part was requested whose dependencies are not installed."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {missing!r}, which is not installed; "
            f"install it with: pip install 'mlcpu[{extra}]'"
        )
        self.extra = extra


class RemoteTraceback(Exception):
    """Carries a worker's formatted traceback text; chained as ``__cause__`` (as loky does)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class TaskError(MlcpuError, RuntimeError):
    """A training task failed under some strategy.

    ``completed`` holds the results (``TaskResult``) that finished before the failure, so
    nothing already computed is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        strategy: str,
        config: Any = None,
        completed: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.strategy = strategy
        self.config = config
        self.completed: list[Any] = list(completed or [])


class TaskFailedError(TaskError):
    """The task raised an exception; its type, message and remote traceback are kept."""

    def __init__(
        self,
        message: str,
        *,
        strategy: str,
        config: Any = None,
        exc_type: str = "",
        exc_message: str = "",
        remote_traceback: str = "",
        completed: list[Any] | None = None,
    ) -> None:
        super().__init__(message, strategy=strategy, config=config, completed=completed)
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.remote_traceback = remote_traceback


class WorkerDiedError(TaskError):
    """The process running the task ended without returning (killed, crashed, out of memory)."""

    def __init__(
        self,
        message: str,
        *,
        strategy: str,
        config: Any = None,
        pid: int | None = None,
        signal_name: str | None = None,
        exitcode: int | None = None,
        completed: list[Any] | None = None,
    ) -> None:
        super().__init__(message, strategy=strategy, config=config, completed=completed)
        self.pid = pid
        self.signal_name = signal_name
        self.exitcode = exitcode


class TaskTimeoutError(TaskError, TimeoutError):
    """The task ran longer than the allowed ``task_timeout`` and was stopped."""

    def __init__(
        self,
        message: str,
        *,
        strategy: str,
        config: Any = None,
        timeout: float = 0.0,
        completed: list[Any] | None = None,
    ) -> None:
        super().__init__(message, strategy=strategy, config=config, completed=completed)
        self.timeout = timeout
