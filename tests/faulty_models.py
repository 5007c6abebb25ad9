"""Estimator factories that misbehave on purpose at one forest size, for fault tests.

Used through ``--model tests.faulty_models:NAME`` from the project root, so the real command
line, real pools and real worker processes are exercised; the fault is in the task.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from sklearn.ensemble import RandomForestClassifier

FAULTY_SIZE = int(os.environ.get("MLCPU_FAULTY_SIZE", "100"))
# When set, the wall-clock moment of the fault is written here, to time how fast it is reported.
FAULT_STAMP = os.environ.get("MLCPU_FAULT_STAMP")


class _Faulty(RandomForestClassifier):
    fault = "none"

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        if self.n_estimators == FAULTY_SIZE:
            if FAULT_STAMP:
                with open(FAULT_STAMP, "w") as fh:
                    fh.write(repr(time.time()))
            if self.fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif self.fault == "raise":
                raise ValueError(f"deliberate failure at {self.n_estimators} trees")
            elif self.fault == "hang":
                time.sleep(3600)
            elif self.fault == "exit":
                os._exit(3)
            elif self.fault == "raise_others_hang":
                raise ValueError(f"deliberate failure at {self.n_estimators} trees")
        elif self.fault == "raise_others_hang" and self.n_estimators > FAULTY_SIZE:
            time.sleep(3600)
        return super().fit(X, y, sample_weight)


class _Kill(_Faulty):
    fault = "kill"


class _Raise(_Faulty):
    fault = "raise"


class _Hang(_Faulty):
    fault = "hang"


class _Exit(_Faulty):
    fault = "exit"


class _RaiseOthersHang(_Faulty):
    fault = "raise_others_hang"


class _PauseWhenSent(_Faulty):
    """Trains normally; at FAULTY_SIZE, pickling the fitted forest (its result travelling back
    to the parent) writes the worker's pid to ``MLCPU_FAULT_SENDING`` and waits to be killed."""

    fault = "pause_when_sent"

    def __getstate__(self) -> Any:
        stamp = os.environ.get("MLCPU_FAULT_SENDING")
        if self.n_estimators == FAULTY_SIZE and stamp and hasattr(self, "estimators_"):
            with open(stamp + ".tmp", "w") as fh:
                fh.write(str(os.getpid()))
            os.replace(stamp + ".tmp", stamp)
            time.sleep(3600)
        return super().__getstate__()


def _factory(cls: type[_Faulty]) -> Any:
    def build(n_estimators: int, random_state: int, n_jobs: int = 1, **params: Any) -> Any:
        return cls(n_estimators=n_estimators, random_state=random_state, n_jobs=n_jobs, **params)

    build.__name__ = cls.fault
    return build


kill = _factory(_Kill)
raise_error = _factory(_Raise)
hang = _factory(_Hang)
exit_3 = _factory(_Exit)
pause_when_sent = _factory(_PauseWhenSent)
# Raises at FAULTY_SIZE trees, hangs for bigger forests: only fail-fast can end such a run.
raise_others_hang = _factory(_RaiseOthersHang)
