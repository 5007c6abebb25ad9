"""The supervisor against a real loky pool whose news arrives in an awkward order.

When a loky worker dies, loky fails every task of the pool, one callback at a time. On a busy
machine some of those failures reach the supervisor only after it has restarted the pool; CI
once saw that turn into restart after restart (each new pool broken by the old pool's late
news) until the run was killed. These tests hold that ordering fixed instead of hoping for it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mlcpu._shared_data import SharedDataset
from mlcpu._worker import Job
from mlcpu.strategies._backends import LokyBackend
from mlcpu.strategies._supervisor import DoneCallback, JobFunction, Supervisor
from mlcpu.training import TaskResult
from mlcpu.workload import make_configs
from tests.conftest import FAULTY

# Long enough for the supervisor to restart the pool first, shorter than its culprit grace.
LATE_S = 0.4


class LateNewsLoky(LokyBackend):
    """A real loky pool whose broken-pool errors reach the supervisor late, except the first.

    Nothing is faked: the workers, the kill and loky's errors are real; only the moment each
    error is handed on is chosen, as a loaded machine may choose it.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.starts = 0
        self.late: list[threading.Timer] = []

    def start(self) -> None:
        self.starts += 1
        super().start()

    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        def relay(outcome: Any, error: BaseException | None) -> None:
            if isinstance(error, self.broken_errors) and job.index != 0:
                timer = threading.Timer(LATE_S, done, (outcome, error))
                self.late.append(timer)
                timer.start()
            else:
                done(outcome, error)

        super().submit(fn, job, relay)


def _run(backend: LokyBackend, jobs: list[Job], keep_going: bool) -> list[TaskResult]:
    """Run the supervisor in a thread, so a livelock fails the test instead of hanging it."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["results"] = Supervisor(
                "joblib", backend, keep_going=keep_going, task_timeout=None, emit=lambda r: r
            ).run(jobs)
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), f"supervisor still running after 60 s ({backend.starts} starts)"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["results"]


@pytest.fixture
def killing_jobs(iris):
    """Four jobs on two workers; the 100-tree one kills its worker (tests/faulty_models.py)."""
    with SharedDataset(iris) as dataset:
        configs = make_configs([200, 100, 50, 10], model=FAULTY + "kill")
        yield [Job(i, config, dataset, 0) for i, config in enumerate(configs)]


def test_late_errors_of_a_broken_pool_do_not_break_the_next_one(killing_jobs):
    backend = LateNewsLoky(2)
    backend.start()
    try:
        results = _run(backend, killing_jobs, keep_going=True)
    finally:
        for timer in backend.late:
            timer.join()
        backend.terminate()
    by_size = {r.config.n_estimators: r for r in results}
    assert "killed by SIGKILL" in (by_size[100].error or "")
    for n in (200, 50, 10):
        assert by_size[n].error is None, by_size[n].error
        assert by_size[n].accuracy is not None
        assert by_size[n].accuracy > 0.8
    # One start, one restart after the kill; every late error was recognised as old news.
    assert backend.starts == 2


def test_fail_fast_with_late_errors_names_the_killed_task(killing_jobs):
    from mlcpu.errors import WorkerDiedError

    backend = LateNewsLoky(2)
    backend.start()
    try:
        with pytest.raises(WorkerDiedError, match=r"running 100 estimators .* killed by SIGKILL"):
            _run(backend, killing_jobs, keep_going=False)
    finally:
        for timer in backend.late:
            timer.join()
        backend.terminate()
    assert backend.starts == 1
