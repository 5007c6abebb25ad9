"""The dask strategy with the real engine: an embedded LocalCluster, and real ``dask`` processes.

The conformance suite (test_strategies.py) covers results, failures and keep-going; these tests
cover what only Dask has: where tasks ran, how the data travels, task order, worker deaths,
timeouts, signals, a missing extra, and a cluster started with the ``dask`` command line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
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
from mlcpu.engines.dask_address import (
    SCHEDULER_ENV,
    configured_scheduler,
    insecure_warning,
    scheduler_address,
)
from mlcpu.engines.dask_cluster import EMBEDDED_CONFIG
from mlcpu.errors import InputError, WorkerDiedError
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


def _worker_settings() -> dict[str, object]:
    return {key: dask.config.get(key) for key in EMBEDDED_CONFIG}


def test_the_embedded_cluster_runs_quiet_in_every_worker(dask_strategy):
    """The configuration reaches the worker processes (through their nannies), not only the
    scheduler in this process: an idle worker's profiler and fast tick stay off."""
    settings = dask_strategy.client.run(_worker_settings)
    assert len(settings) == 2
    for seen in settings.values():
        assert seen == EMBEDDED_CONFIG
    assert dask.config.get("distributed.worker.profile.enabled") is True  # ours, not global


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
def _faulty_run(path: Path, fault: str, estimators: str, *options: str, strategy: str = "dask"):
    """``mlcpu run --strategies dask`` with a model that misbehaves at 100 trees."""
    return run_cli(
        "run",
        *("--strategies", strategy, "--model", FAULTY + fault, "--estimators", estimators),
        *options,
        *("--json", str(path)),
        timeout=90,
    )


@pytest.mark.parametrize("strategy", ["dask", "balanced@dask", "incremental@dask"])
def test_dead_worker_is_reported_with_its_configuration(tmp_path, strategy):
    path = tmp_path / "r.json"
    done = _faulty_run(path, "kill", "10,100,20", strategy=strategy)
    assert done.returncode == 1, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith(f"mlcpu: error: {strategy}: the Dask worker tcp://127.0.0.1:"), error
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
        (["--scheduler", "127.0.0.1:8786"], "--scheduler applies to strategies on Dask only"),
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


def _own_address() -> str:
    """This machine's address on its way out (not loopback), for a connection to ourselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is chosen
        except OSError:
            pytest.skip("this machine has no non-loopback IPv4 address to connect to")
        return str(probe.getsockname()[0])


@pytest.mark.parametrize(
    ("address", "warned"),
    [
        ("tcp://10.1.2.3:8786", True),
        ("tcp://127.0.0.1:8786", False),
        ("tcp://[::1]:8786", False),
        ("tcp://localhost:8786", False),
        ("tls://10.1.2.3:8786", False),
    ],
)
def test_plain_tcp_off_this_machine_is_warned_about(address, warned):
    warning = insecure_warning(address)
    assert (warning is not None) == warned
    if warned:
        assert "neither authenticated nor encrypted" in warning
        assert "tls://" in warning


def test_the_warning_is_one_line_before_the_connection():
    address = f"tcp://{_own_address()}:{_free_port()}"
    done = run_cli("run", "--strategies", "balanced@dask", "--scheduler", address)
    assert done.returncode == 2  # nothing listens there
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith(f"mlcpu: warning: the Dask scheduler at {address} is reached over")
    assert lines[1].startswith(f"mlcpu: error: cannot reach the Dask scheduler at '{address}'")


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


# -- our plans on Dask ------------------------------------------------------------------------
def test_plans_on_dask_train_what_they_train_on_a_pool(synthetic_small):
    """incremental@dask trains one forest per model (prefixes) and balanced@dask pieces of
    trees, on both workers; every forest is the sequential one (same accuracies)."""
    workload = Workload(synthetic_small, make_configs([10, 50, 100, 200]), 0)
    with registry.create("sequential") as sequential:
        expected = [r.accuracy for r in sequential.run(workload)]
    for name, facts in (("incremental@dask", "trees_trained"), ("balanced@dask", "schedule")):
        with registry.create(name, workers=2) as strategy:
            results = strategy.run(workload)
            extra = strategy.result_extra()
        assert [r.accuracy for r in results] == expected, name
        assert facts in extra, extra
        assert extra["scatter_s"] >= 0
        if name == "incremental@dask":
            assert (extra["trees_trained"], extra["trees_requested"]) == (200, 360)
        workers = {w for r in results for w in [r.worker] if w}
        assert workers, results
        assert all(w.startswith("tcp://127.0.0.1:") for w in workers), workers


def test_a_dask_worker_killed_under_a_piece_is_named_and_nothing_hangs():
    """SIGKILL a Dask worker while it trains a piece: one error naming the piece, exit path of
    every other engine (the embedded cluster is closed, the next run starts a new one)."""
    data = load_dataset("synthetic", n_samples=20_000, n_features=20, seed=3)
    workload = Workload(data, make_configs([60, 120]), 0)
    with registry.create("balanced@dask", workers=2, piece_size=6) as strategy:
        pids = strategy.client.run(os.getpid)
        killed: list[int] = []

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                with contextlib.suppress(Exception):
                    busy = [w for w, keys in strategy.client.processing().items() if keys]
                    if busy:
                        killed.append(pids[busy[0]])
                        os.kill(pids[busy[0]], signal.SIGKILL)
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        with pytest.raises(WorkerDiedError) as caught:
            strategy.run(workload)
        killer.join(5)
        assert killed, "no worker was ever busy"
        message = str(caught.value)
        assert message.startswith("balanced@dask: the Dask worker tcp://127.0.0.1:"), message
        assert re.search(r"running \d+ estimators \(trees \d+-\d+\) died", message), message
        again = strategy.run(Workload(data, make_configs([4]), 0))  # a fresh cluster
        assert again[0].ok


# -- TLS: the README's recipe, against a real scheduler and workers ---------------------------
def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl as the README shows."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=mlcpu-test",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.mark.slow
def test_a_tls_cluster_through_dasks_own_configuration(tmp_path):
    key, cert = _certificate(tmp_path)
    tls = {
        "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(cert),
        **{
            f"DASK_DISTRIBUTED__COMM__TLS__{role}__{part}": str(path)
            for role in ("SCHEDULER", "WORKER", "CLIENT")
            for part, path in (("CERT", cert), ("KEY", key))
        },
    }
    port = _free_port()
    address = f"tls://127.0.0.1:{port}"
    processes = [
        _spawn_dask(tmp_path / "scheduler.log", "scheduler", "--protocol", "tls",
                    "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", **tls),
    ]  # fmt: skip
    try:
        for name in ("w1", "w2"):
            processes.append(
                _spawn_dask(tmp_path / f"{name}.log", "worker", address, "--name", name,
                            "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                            "--death-timeout", "60", **tls)
            )  # fmt: skip
        path = tmp_path / "run.json"
        done = run_cli(
            "run", "--strategies", "sequential,incremental@dask", "--scheduler", address,
            "--json", str(path), timeout=180, **tls,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr
        record = json.loads(path.read_text())["strategies"][1]
        assert record["label"] == f"incremental@dask ({address})"
        assert record["workers"] == 2
        assert {t["worker"].split("://")[0] for t in record["tasks"]} == {"tls"}
        sequential = json.loads(path.read_text())["strategies"][0]
        assert [t["accuracy"] for t in record["tasks"]] == [
            t["accuracy"] for t in sequential["tasks"]
        ]
        # Without the certificates, the same scheduler refuses the connection: one line, exit 2.
        refused = run_cli("run", "--strategies", "dask", "--scheduler", address, timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "cannot reach the Dask scheduler" in refused.stderr
    finally:
        _stop(processes)


def test_every_warm_repeat_uses_every_worker_at_once(dask_strategy, iris):
    """Placement: each unit goes to a worker with a free thread, so no repeat runs on one
    worker while the other idles (as Dask's own placement did, up to 0.7 s late), and a
    worker that frees up takes the next unit at once. The bound on the gap is loose (this
    machine is shared); the figures measured are in the issue's closing note."""
    workload = Workload(iris, make_configs([30, 31, 32, 33, 34, 35]), 0)
    for _ in range(3):
        results = dask_strategy.run(workload)
        by_worker: dict[str, list] = {}
        for result in sorted(results, key=lambda r: r.started):
            by_worker.setdefault(result.worker, []).append(result)
        assert len(by_worker) == 2, {w: len(rs) for w, rs in by_worker.items()}
        gaps = [b.start_s - a.end_s for rs in by_worker.values() for a, b in itertools.pairwise(rs)]
        assert max(gaps) < 0.25, gaps
