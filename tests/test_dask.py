"""The dask strategy with the real engine: an embedded LocalCluster, and real ``dask`` processes.

The conformance suite (test_strategies.py) covers results, failures and keep-going; these tests
cover what only Dask has: where tasks ran, how the data travels, task order, worker deaths,
timeouts, signals, a missing extra, and a cluster started with the ``dask`` command line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import dask
import distributed
import psutil
import pytest
from dask.utils import parse_bytes

import mlcpu.strategies as registry
from mlcpu.data.datasets import load_dataset
from mlcpu.data.shared import SharedDataset
from mlcpu.engines.dask_address import SCHEDULER_ENV, configured_scheduler, scheduler_address
from mlcpu.errors import InputError
from mlcpu.records.config import make_configs
from mlcpu.training.workload import Workload
from tests.conftest import FAULTY, ROOT, cli_env, run_cli, worker_children
from tests.test_faults import _alive

DASK_CLI = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def dask_strategy():
    with registry.create("dask", workers=2) as started:
        yield started
    assert worker_children() == [], "the embedded cluster left worker processes behind"


# -- the embedded cluster ----------------------------------------------------------------------
def test_each_task_records_its_worker_host_and_pid(dask_strategy, iris_workload):
    pids = dask_strategy.client.run(os.getpid)
    assert len(pids) == dask_strategy.workers == 2
    results = dask_strategy.run(iris_workload)
    for record in results:
        assert record.worker in pids
        assert record.pid == pids[record.worker]
        assert record.host == socket.gethostname()
        assert record.to_dict()["worker"] == record.worker
    assert dask_strategy.describe() == {
        "cluster": "embedded",
        "scheduler": None,
        "threads": 2,
        "allowed_failures": 0,
    }


def test_largest_configurations_start_first(dask_strategy, iris):
    results = dask_strategy.run(Workload(iris, make_configs([5, 10, 40, 20, 30]), 0))
    by_start = sorted(results, key=lambda r: r.start_s)
    # Two worker threads: the two largest start at once, each next one when a thread frees up.
    assert {r.n_estimators for r in by_start[:2]} == {40, 30}
    assert [r.n_estimators for r in by_start[2:]] == [20, 10, 5]
    first_end = min(r.end_s for r in by_start[:2])
    assert all(r.start_s >= first_end for r in by_start[2:])


def test_forest_work_stays_inside_its_task(dask_strategy, iris_workload):
    """No nested fan-out: each forest is one Dask task, never the forest's own joblib work."""
    with distributed.get_task_stream(client=dask_strategy.client) as stream:
        dask_strategy.run(iris_workload)
    keys = [str(task["key"]) for task in stream.data]
    assert len(keys) == len(iris_workload.configs), keys
    assert all(key.startswith("mlcpu-train-") for key in keys), keys


def test_the_dataset_travels_once_not_in_every_task(dask_strategy):
    big = load_dataset("synthetic", n_samples=150_000, n_features=20, seed=1)
    threshold = parse_bytes(dask.config.get("distributed.admin.large-graph-warning-threshold"))
    assert big.nbytes > threshold
    configs = make_configs([1, 2], params={"max_depth": 2})
    # The runner memory-maps the data for process strategies: that dataset pickles as a local
    # folder path, so the strategy must scatter a copy that carries the arrays.
    with SharedDataset(big) as shared, warnings.catch_warnings():
        warnings.simplefilter("error")
        results = dask_strategy.run(Workload(shared, configs, 0))
    assert all(r.ok and r.accuracy > 0.5 for r in results)
    # The control: the same data embedded in a task is a large graph, which Dask warns about.
    with pytest.warns(UserWarning, match="Sending large graph"):
        future = dask_strategy.client.submit(getattr, big, "n_train")
    assert future.result() == big.n_train
    future.release()


# -- faults through the real command line (embedded cluster) -----------------------------------
def _faulty_run(path: Path, fault: str, estimators: str, *options: str):
    """``mlcpu run --strategies dask`` with a model that misbehaves at 100 trees."""
    return run_cli(
        "run",
        *("--strategies", "dask", "--model", FAULTY + fault, "--estimators", estimators),
        *options,
        *("--json", str(path)),
        timeout=90,
    )


def test_dead_worker_is_reported_with_its_configuration(tmp_path):
    path = tmp_path / "r.json"
    done = _faulty_run(path, "kill", "10,100,20")
    assert done.returncode == 1, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("mlcpu: error: dask: the Dask worker tcp://127.0.0.1:"), error
    assert "running 100 estimators" in error
    assert "Dask's allowed-failures is 0, so it was not retried" in error
    document = json.loads(path.read_text())
    assert document["status"] == "failed"
    assert document["strategies"][0]["options"]["allowed_failures"] == 0


def test_keep_going_records_the_dead_worker_and_finishes_the_rest(tmp_path):
    path = tmp_path / "r.json"
    done = _faulty_run(path, "kill", "200,100,50,10", "--keep-going")
    assert done.returncode == 1
    tasks = {t["n_estimators"]: t for t in json.loads(path.read_text())["strategies"][0]["tasks"]}
    assert "running 100 estimators" in tasks[100]["error"]
    assert "died" in tasks[100]["error"]
    assert tasks[100]["accuracy"] is None
    for n in (200, 50, 10):
        assert "error" not in tasks[n], tasks[n]
        assert tasks[n]["accuracy"] > 0.8
        assert tasks[n]["worker"].startswith("tcp://127.0.0.1:")


@pytest.mark.parametrize("keep_going", [False, True])
def test_task_timeout_stops_the_task_and_names_it(keep_going, tmp_path):
    path = tmp_path / "r.json"
    keep = ["--keep-going"] if keep_going else []
    done = _faulty_run(path, "hang", "10,100,20", "--task-timeout", "1.5", *keep)
    assert done.returncode == 1
    assert "dask: 100 estimators" in done.stderr
    assert "ran longer than the task timeout of 1.5 s" in done.stderr
    tasks = {t["n_estimators"]: t for t in json.loads(path.read_text())["strategies"][0]["tasks"]}
    if keep_going:
        assert "was restarted" in tasks[100]["error"]
        assert tasks[10]["accuracy"] > 0.8
        assert tasks[20]["accuracy"] > 0.8
    else:
        assert "was stopped with the cluster" in done.stderr
        assert 100 not in tasks


# Ctrl-C, SIGTERM and a SIGKILLed parent: tests/test_faults.py runs its signal tests on dask too.


# -- without the extra, and bad addresses -------------------------------------------------------
def test_missing_extra_names_the_extra_and_exits_2():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["distributed"] = None  # as if mlcpu[dask] were not installed
        import mlcpu.strategies as registry
        from mlcpu.commands._args import strategy_list
        assert "dask" in registry.names(), registry.names()
        assert not registry.available("dask")
        assert "dask" not in strategy_list("all")
        from mlcpu.cli import main
        sys.exit(main(["run", "--strategies", "dask"]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "mlcpu: error: the dask strategy needs the optional dependency 'distributed', which is "
        "not installed; install it with: pip install 'mlcpu[dask]'"
    )


def test_dask_is_part_of_all_when_installed():
    from mlcpu.commands._args import strategy_list

    assert registry.available("dask")
    assert "dask" in strategy_list("all")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("scheduler.example:8786", "tcp://scheduler.example:8786"),
        ("tls://[::1]:8786", "tls://[::1]:8786"),
    ],
)
def test_scheduler_address_forms(text, expected):
    assert scheduler_address(text) == expected


@pytest.mark.parametrize("text", ["", "host", "host:", "host:0", "host:70000", "udp://h:1", ":80"])
def test_bad_scheduler_address_is_refused(text):
    with pytest.raises(InputError, match=r"--scheduler expects tcp://HOST:PORT .*, got"):
        scheduler_address(text)


def test_scheduler_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, "127.0.0.1:8786")
    assert configured_scheduler(None) == "tcp://127.0.0.1:8786"
    assert configured_scheduler("10.1.1.1:1") == "tcp://10.1.1.1:1"
    monkeypatch.setenv(SCHEDULER_ENV, "nonsense")
    with pytest.raises(InputError, match=rf"{SCHEDULER_ENV} expects tcp://HOST:PORT"):
        configured_scheduler(None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "dask", "--scheduler", "nowhere"], "--scheduler expects tcp://HOST:PORT"),
        (["--scheduler", "127.0.0.1:8786"], "--scheduler applies to the dask strategy only"),
    ],
)
def test_bad_scheduler_option_exits_2_with_one_line(args, message):
    done = run_cli("run", *args, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert message in done.stderr


def test_unreachable_scheduler_exits_2_with_one_line():
    done = run_cli("run", "--strategies", "dask", "--scheduler", f"127.0.0.1:{_free_port()}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:" in done.stderr


# -- a real cluster started with the `dask` command line ----------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn_dask(log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """A ``dask`` CLI process in its own session, so teardown can stop its whole tree."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(DASK_CLI), *args],
            cwd=ROOT,
            env=cli_env(**env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _tree(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        root = psutil.Process(process.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    tree = [p for process in processes for p in _tree(process)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in processes:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 15
        while _alive(tree) and time.monotonic() < deadline:
            for process in processes:
                process.poll()
            time.sleep(0.1)
        if not _alive(tree):
            break
    for process in processes:
        process.wait(timeout=5)
    assert _alive(tree) == [], "a dask process outlived the test"


def _busy_worker_pids(pids: dict[str, int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(psutil.Process(pid).cpu_percent(interval=0.2) > 10 for pid in pids.values()):
            return
    pytest.fail("the workers never started training")


@pytest.mark.slow
def test_a_real_scheduler_and_two_workers(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    # The retry policy the README tells cluster users to set on their scheduler.
    policy = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    processes = [
        _spawn_dask(
            tmp_path / "scheduler.log",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
            **policy,
        )
    ]
    try:
        for name in ("w1", "w2"):
            processes.append(
                _spawn_dask(
                    tmp_path / f"{name}.log",
                    "worker",
                    address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--death-timeout",
                    "60",
                )
            )
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)

            # Both workers receive tasks, and the JSON says which ran what.
            path = tmp_path / "run.json"
            done = run_cli(
                "run", "--strategies", "dask", "--scheduler", address, "--json", str(path)
            )
            assert done.returncode == 0, done.stderr
            record = json.loads(path.read_text())["strategies"][0]
            assert record["label"] == f"dask ({address})"
            assert record["workers"] == 2
            assert record["options"]["cluster"] == "external"
            assert record["options"]["allowed_failures"] == 0
            assert {t["worker"] for t in record["tasks"]} == set(pids)
            assert all(t["pid"] == pids[t["worker"]] for t in record["tasks"])

            # A worker killed mid-run: its configuration is named, the run fails fast (exit 1).
            path = tmp_path / "killed.json"
            run = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlcpu",
                    "run",
                    "--quiet",
                    "--dataset",
                    "synthetic",
                    "--strategies",
                    "dask",
                    "--scheduler",
                    address,
                    "--estimators",
                    "150,151,152",
                    "--json",
                    str(path),
                ],
                cwd=ROOT,
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                _busy_worker_pids(pids)
                victim, victim_pid = sorted(pids.items())[0]
                os.kill(victim_pid, signal.SIGKILL)
                _, err = run.communicate(timeout=60)
            finally:
                if run.poll() is None:
                    run.kill()
                    run.communicate()
            assert run.returncode == 1, err
            error = err.strip().splitlines()[-1]
            assert error.startswith(
                f"mlcpu: error: dask: the Dask worker {victim} (pid {victim_pid}) running 15"
            ), error
            assert error.endswith("died; Dask's allowed-failures is 0, so it was not retried")
            assert json.loads(path.read_text())["status"] == "failed"

            # mlcpu left the cluster running: the nanny brought the killed worker back.
            client.wait_for_workers(2, timeout=60)
            assert all(process.poll() is None for process in processes)
    finally:
        _stop(processes)
