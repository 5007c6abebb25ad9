"""A worker process SIGKILLed from outside in each phase of a pool's life, for every engine.

As an out-of-memory killer would do it: the process is found with psutil and killed, at start-up
(loky workers spend their first seconds importing scikit-learn), mid-task, between two runs of a
warm pool, while a finished task's result travels back, and just before the pool shuts down.
Each ends in one error naming the death (exit 1 from the command line), or, where no work was
lost (shutdown), in a clean finish; never a hang, a traceback or a process left behind.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from mlcpu import strategies
from mlcpu.errors import WorkerDiedError
from mlcpu.records.config import make_configs
from mlcpu.training.workload import Workload
from tests.conftest import FAULTY, ROOT, cli_env, is_interpreter_helper, worker_children
from tests.test_faults import PROCESS_STRATEGIES, _alive


def _workers_of(pid: int, *, once_the_tracker_shows: bool = False) -> list[psutil.Process]:
    """``pid``'s children but the resource tracker. mlcpu starts the tracker before any pool,
    and until it has exec'd it looks like a fork of the parent, as pool workers do: a test that
    kills the first worker it sees waits until the tracker shows itself."""
    found, tracker_seen = [], False
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if is_interpreter_helper(child):
                tracker_seen = True
            else:
                found.append(child)
        except psutil.Error:
            continue
    return found if tracker_seen or not once_the_tracker_shows else []


def _no_workers_left() -> bool:
    """No worker process of this test survives (a killed one may take a moment to go)."""
    deadline = time.monotonic() + 5
    while worker_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return worker_children() == []


def _kill(process: psutil.Process) -> None:
    os.kill(process.pid, signal.SIGKILL)


def _ends_with_one_error(out: str, err: str, returncode: int | None, strategy: str) -> str:
    assert returncode == 1, err
    assert "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"mlcpu: error: {strategy}: "), err
    assert "killed by SIGKILL" in line, line
    return line


@pytest.mark.parametrize("strategy", PROCESS_STRATEGIES)
def test_worker_killed_while_the_pool_starts(strategy):
    command = [
        sys.executable, "-m", "mlcpu", "run", "--quiet", "--no-ceiling", "--strategies", strategy,
        "--workers", "2", "--dataset", "synthetic", "--n-samples", "4000",
        "--estimators", "150,160",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    killed: list[psutil.Process] = []
    deadline = time.monotonic() + 60
    while not killed and time.monotonic() < deadline and process.poll() is None:
        workers = _workers_of(process.pid, once_the_tracker_shows=True)
        if workers:
            _kill(workers[0])
            killed = workers
        time.sleep(0.005)
    out, err = process.communicate(timeout=60)
    assert killed, "no worker was seen"
    if process.returncode == 0 and not err:
        # A fork pool may replace a worker killed while it forks before handing over the
        # pool; nothing is lost then (``test_worker_killed_in_the_warm_up`` pins the rest).
        print(f"\n{strategy}: the pool replaced the killed worker and the run finished")
    else:
        print(f"\n{strategy}: {_ends_with_one_error(out, err, process.returncode, strategy)}")
    assert _alive(killed) == []


def slow_warm_up(marker_dir: str, workers: int) -> int:
    """Stands in for ``mlcpu.training.units.warm_up`` (by reference, also in spawned workers)."""
    time.sleep(60)
    return os.getpid()


@pytest.mark.parametrize("strategy", PROCESS_STRATEGIES)
def test_worker_killed_in_the_warm_up(strategy, monkeypatch):
    from mlcpu.engines import pools as _backends

    monkeypatch.setattr(_backends, "warm_up", slow_warm_up)
    running = strategies.create(strategy, workers=2)
    running.expected_runs = 2  # auto starts its pool with itself only for runs that share it
    victims: list[psutil.Process] = []

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 60
        while not victims and time.monotonic() < deadline:
            found = worker_children()
            if found:
                time.sleep(0.3)  # into the warm-up (a loky worker is still importing)
                victims.append(found[0])
                _kill(found[0])
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    began = time.monotonic()
    with pytest.raises(WorkerDiedError, match="killed by SIGKILL while the pool was starting"):
        running.start()
    assert time.monotonic() - began < 50  # not the 60 s warm-up
    killer.join(5)
    running.close()
    assert _no_workers_left()


@pytest.mark.parametrize("strategy", PROCESS_STRATEGIES)
def test_worker_killed_mid_task(strategy):
    from tests.test_faults import long_run

    with long_run(strategy) as process:
        # Each task writes a start marker (pid, start time) where the supervisor reads it; a
        # marker can be read in the instant between its creation and its one write (empty).
        markers = f"{tempfile.gettempdir()}/mlcpu-tasks-{process.pid}-*/task-*"
        deadline = time.monotonic() + 60
        victim = None
        while victim is None and time.monotonic() < deadline:
            for marker in glob.glob(markers):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    victim = int(Path(marker).read_text().split()[0])
                    break
            time.sleep(0.01)
        assert victim is not None, "no task ever started"
        children = _workers_of(process.pid)
        assert children, "no worker of the pool was seen"
        os.kill(victim, signal.SIGKILL)
        out, err = process.communicate(timeout=30)
    line = _ends_with_one_error(out, err, process.returncode, strategy)
    assert f"(pid {victim}) running 30" in line, line
    time.sleep(0.2)
    assert _alive(children) == []


def _custom_workload(iris, *sizes: int, model: str = "raise_error") -> Workload:
    # A model given as module:factory goes to every engine's pool as whole configurations (and
    # ``auto`` uses its pool for several of them); it misbehaves only at 100 trees.
    return Workload(iris, make_configs(list(sizes), model=FAULTY + model), 0)


def _kill_one_idle_worker() -> psutil.Process:
    victim = worker_children()[0]
    _kill(victim)
    deadline = time.monotonic() + 10
    while _alive([victim]) and time.monotonic() < deadline:  # not reaped here: the pool's
        time.sleep(0.01)  # own process object must still learn its exit status
    return victim


@pytest.mark.parametrize("keep_going", [False, True], ids=["fail-fast", "keep-going"])
@pytest.mark.parametrize("strategy", PROCESS_STRATEGIES)
def test_worker_killed_between_two_runs_of_a_warm_pool(strategy, keep_going, iris):
    workload = _custom_workload(iris, 10, 30, 20)
    with strategies.create(strategy, workers=2, keep_going=keep_going) as running:
        first = running.run(workload)
        victim = _kill_one_idle_worker()
        if keep_going:  # nothing was lost: the next run goes on, on a fresh pool
            second = running.run(workload)
            assert [r.accuracy for r in second] == [r.accuracy for r in first]
        else:
            pattern = rf"{strategy}: a worker process \(pid {victim.pid}\) was killed by SIGKILL"
            with pytest.raises(WorkerDiedError, match=pattern + " between tasks"):
                running.run(workload)
    assert _no_workers_left()


@pytest.mark.parametrize("strategy", PROCESS_STRATEGIES)
def test_worker_killed_while_its_result_travels_back(strategy, iris, tmp_path, monkeypatch):
    stamp = tmp_path / "sending"
    monkeypatch.setenv("MLCPU_FAULT_SENDING", str(stamp))
    workload = _custom_workload(iris, 10, 100, model="pause_when_sent")
    killed: list[int] = []

    def kill_when_sending() -> None:
        deadline = time.monotonic() + 60
        while not stamp.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if stamp.exists():
            killed.append(int(stamp.read_text()))
            _kill(psutil.Process(killed[0]))

    killer = threading.Thread(target=kill_when_sending, daemon=True)
    # (the timeout only bounds the test if the kill never comes)
    with strategies.create(strategy, workers=2, task_timeout=30) as running:
        killer.start()
        began = time.monotonic()
        with pytest.raises(WorkerDiedError, match=r"running 100 estimators .* killed by SIGKILL"):
            running.run(workload, keep_estimators=True)
        assert killed
        print(f"\n{strategy}: reported {time.monotonic() - began:.2f} s after the run began")
    killer.join(5)
    assert _no_workers_left()


@pytest.mark.parametrize("strategy", PROCESS_STRATEGIES)
def test_worker_killed_as_the_pool_shuts_down(strategy, iris):
    running = strategies.create(strategy, workers=2)
    with running:
        results = running.run(_custom_workload(iris, 10, 30))
        _kill(worker_children()[0])  # the work is done: closing must still end cleanly
        began = time.monotonic()
    assert time.monotonic() - began < 5
    assert all(r.error is None for r in results)
    assert _no_workers_left()


def test_killed_resource_tracker_prints_no_traceback(tmp_path):
    """loky's resource tracker (it removes mlcpu's folders if mlcpu is killed) dies mid-run."""
    for strategy in ("multiprocessing", "joblib"):
        command = [
            sys.executable, "-m", "mlcpu", "run", "--quiet", "--no-ceiling",
            "--strategies", strategy, "--dataset", "iris", "--estimators", "20,30",
            "--json", str(tmp_path / "r.json"),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        killed = False
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline and process.poll() is None:
            for child in psutil.Process(process.pid).children():
                try:
                    if is_interpreter_helper(child):
                        _kill(child)
                        killed = True
                except psutil.Error:
                    continue
            time.sleep(0.005)
        _, err = process.communicate(timeout=60)
        assert killed
        assert process.returncode == 0, err
        assert "Traceback" not in err, err
        assert Path(tmp_path / "r.json").exists()
