"""Every private part of another library that mlcpu reads (``mlcpu.host.thirdparty``), pinned
against the installed versions: if an upgrade removes one, these fail, not a run that hangs."""

from __future__ import annotations

import multiprocessing
import os
import platform
import subprocess
import sys
import time

import numpy as np
import pytest
from joblib.externals import loky

from mlcpu.host import thirdparty as _thirdparty
from mlcpu.host.thirdparty import InternalsChanged


def _square(x: int) -> int:
    return x * x


def test_pool_processes_are_the_pools_workers():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        workers = _thirdparty.pool_processes(pool)
        assert len(workers) == 2
        assert all(w.pid and w.sentinel is not None and w.is_alive() for w in workers)
        pids = set(pool.map(_pid, range(8)))
        assert pids <= {w.pid for w in workers}


def _pid(_: object) -> int:
    return os.getpid()


def test_loky_processes_and_queued_work():
    executor = loky.ProcessPoolExecutor(max_workers=1)
    try:
        assert executor.submit(_square, 3).result(timeout=60) == 9
        workers = _thirdparty.loky_processes(executor)
        assert len(workers) == 1
        assert workers[0].is_alive()
        _thirdparty.loky_forget_queued(executor)  # the queue exists and can be emptied
    finally:
        executor.shutdown(wait=True, kill_workers=True)


def test_forkserver_is_seen_and_stopped():
    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform")
    started_here = not _thirdparty.forkserver_running()
    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        assert pool.apply(_square, (4,)) == 16
    assert _thirdparty.forkserver_running()
    if started_here:
        _thirdparty.stop_forkserver()
        assert not _thirdparty.forkserver_running()


def test_resource_tracker_pid_is_its_process(tmp_path):
    folder = tmp_path / "tracked"
    folder.mkdir()
    _thirdparty.track(str(folder), "folder")
    try:
        pid = _thirdparty.tracker_pid()
        assert isinstance(pid, int)
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            assert b"resource_tracker" in fh.read()
    finally:
        _thirdparty.untrack(str(folder), "folder")


KILLED_AT_LAUNCH = """
import os, signal, sys, tempfile
from joblib.externals.loky.backend import resource_tracker
tracker = resource_tracker._resource_tracker
launch = tracker._launch
def launch_and_kill():  # as an out-of-memory killer might: the new tracker dies at once
    launch()
    os.kill(tracker._pid, signal.SIGKILL)
    os.waitpid(tracker._pid, 0)
    tracker._launch = launch
    print(tracker._pid)
tracker._launch = launch_and_kill
folder = tempfile.mkdtemp(dir=sys.argv[2])
print(folder, flush=True)
if sys.argv[1] == "mlcpu":
    from mlcpu.host import thirdparty
    thirdparty.track(folder, "folder")
    print(thirdparty.tracker_pid(), flush=True)
else:
    resource_tracker.register(folder, "folder")
os._exit(0)  # ends as if killed: what removes the folder now is the tracker, if any
"""


@pytest.mark.parametrize("caller", ["mlcpu", "loky"])
def test_a_tracker_killed_as_it_starts_is_replaced(caller, tmp_path):
    """loky writes its first message to a tracker it has just started unguarded: one killed
    in between raises BrokenPipeError from loky (the control: if an upgrade guards that write,
    it fails and the workaround in ``track`` can go); mlcpu starts another, which removes the
    folder once the process is gone."""
    done = subprocess.run(
        [sys.executable, "-c", KILLED_AT_LAUNCH, caller, str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    folder, killed, *rest = done.stdout.split()
    if caller == "loky":
        assert done.returncode == 1
        assert "BrokenPipeError" in done.stderr, done.stderr
        assert os.path.isdir(folder)
        return
    assert done.returncode == 0, done.stderr
    assert rest, done.stderr
    assert int(rest[0]) != int(killed)
    deadline = time.monotonic() + 30
    while os.path.isdir(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.isdir(folder), "the replacement tracker did not remove the folder"


def test_a_missing_internal_names_the_library_and_its_version():
    version = platform.python_version()
    with pytest.raises(
        InternalsChanged, match=rf"Python {version}'s multiprocessing changed: .*_pool"
    ):
        _thirdparty.pool_processes(object())
    import joblib

    with pytest.raises(InternalsChanged, match=rf"joblib {joblib.__version__} .*_processes"):
        _thirdparty.loky_processes(object())
    with pytest.raises(InternalsChanged, match=r"_work_ids"):
        _thirdparty.loky_forget_queued(object())


def test_a_pool_whose_workers_cannot_be_seen_is_refused(monkeypatch):
    from mlcpu import strategies
    from tests.conftest import worker_children

    real = _thirdparty.pool_processes

    def hidden(pool: object) -> list:
        return real(object())  # as if Pool._pool were gone

    monkeypatch.setattr(_thirdparty, "pool_processes", hidden)
    running = strategies.create("multiprocessing", workers=1)
    with pytest.raises(InternalsChanged, match="_pool"):
        running.start()
    running.close()
    assert worker_children() == []


def test_tree_probabilities_match_the_forests_own_predict_proba(iris):
    from sklearn.ensemble import RandomForestClassifier

    from mlcpu.plans.prefixes import tree_probabilities

    forest = RandomForestClassifier(n_estimators=7, random_state=0).fit(iris.X_train, iris.y_train)
    per_tree = tree_probabilities(forest, iris.X_test)
    assert per_tree.shape == (7, len(iris.X_test), 3)
    total = np.zeros(per_tree.shape[1:])
    for tree in per_tree:
        total += tree
    assert np.array_equal(total / 7, forest.predict_proba(iris.X_test))
    with pytest.raises(ValueError, match="features"):
        tree_probabilities(forest, iris.X_test[:, :2])


LEAK = (
    "from joblib.externals.loky.backend import resource_tracker as tracker\n"
    "tracker.register('/mlcpu-test-leaked-semaphore', 'semlock')\n"
)


@pytest.mark.parametrize("quieted", [True, False])
def test_a_trackers_leak_warnings_stay_off_our_stderr(quieted):
    """A worker killed mid-start leaves semaphores its tracker then warns about at exit, on our
    stderr, after mlcpu's one-line error. The control (mlcpu not imported) shows the warning."""
    prefix = "from mlcpu.host import thirdparty; thirdparty.recover_tracker()\n" if quieted else ""
    done = subprocess.run(
        [sys.executable, "-c", prefix + LEAK], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert ("leaked semlock" in done.stderr) is not quieted, done.stderr


def test_the_reusable_executor_is_found_and_stopped():
    from joblib import Parallel, delayed
    from joblib.externals.loky import reusable_executor

    Parallel(n_jobs=2)(delayed(_square)(i) for i in range(4))
    executor = reusable_executor._executor
    assert executor is not None
    workers = list(_thirdparty.loky_processes(executor))
    assert workers
    _thirdparty.stop_reusable_executor()
    assert all(not w.is_alive() for w in workers)
    assert reusable_executor._executor is executor  # stopped, not replaced by a new one
    _thirdparty.stop_reusable_executor()  # a stopped one: nothing to do
