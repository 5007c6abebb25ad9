"""The container image, started for real: `docker run mlcpu` as the README promises it.

These tests need images built from the Dockerfile; ``bash .ci/container`` builds them with podman
and runs this file. Elsewhere they are skipped (the default test run says so). By hand::

    docker build -t mlcpu . && docker build --target bench -t mlcpu-bench .
    MLCPU_CONTAINER_ENGINE=docker MLCPU_IMAGE=mlcpu MLCPU_BENCH_IMAGE=mlcpu-bench \\
        python -m pytest tests/test_container.py

``MLCPU_CONTAINER_BENCH=run`` also runs the real benchmark suite (quick profile) in the bench
image instead of only collecting it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENGINE = os.environ.get("MLCPU_CONTAINER_ENGINE", "podman")
IMAGE = os.environ.get("MLCPU_IMAGE", "")
BENCH_IMAGE = os.environ.get("MLCPU_BENCH_IMAGE", "")
USER = "10001:10001"
CORE_STRATEGIES = {"sequential", "joblib", "multiprocessing", "threads", "sklearn"}
TASK_LINE = re.compile(
    r"^Training on CPU core: \d+ \| (\d+) estimators \| Accuracy: 0\.\d{4} \| "
    r"Time: \d+\.\d{4} seconds$",
    re.MULTILINE,
)
HANG_GUARD = 300  # seconds; only stops a hung engine call, never judges speed

if not IMAGE:
    pytest.skip(
        "container checks need an image built from the Dockerfile: set MLCPU_IMAGE "
        "(bash .ci/container builds one with podman and does)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow


def engine(*args: str, timeout: float = HANG_GUARD) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENGINE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def run_image(
    *args: str, options: tuple[str, ...] = (), image: str = IMAGE
) -> subprocess.CompletedProcess[str]:
    """``ENGINE run --rm OPTIONS IMAGE ARGS``; a hung container is removed, then the test fails."""
    name = f"mlcpu-test-{uuid.uuid4().hex[:10]}"
    try:
        return engine("run", "--rm", "--name", name, *options, image, *args)
    except subprocess.TimeoutExpired:
        engine("rm", "-f", name)
        raise


def in_image(code: str, *, user: str = USER, image: str = IMAGE) -> str:
    """Run Python code in the image (bypassing the entry point); returns its stdout."""
    done = run_image("-c", code, options=("--entrypoint", "python", "--user", user), image=image)
    assert done.returncode == 0, done.stderr
    return done.stdout


def results_folder(tmp_path: Path, mode: int = 0o777) -> Path:
    """A folder to mount at /results; 0o777 lets the image's user (uid 10001) write into it."""
    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(mode)
    return folder


def mount(folder: Path, target: str = "/results") -> tuple[str, str]:
    return ("-v", f"{folder}:{target}")


# --- the image itself ------------------------------------------------------------------------


def test_image_runs_mlcpu_as_a_fixed_non_root_user():
    inspected = engine("image", "inspect", "--format", "{{json .Config}}", IMAGE)
    assert inspected.returncode == 0, inspected.stderr
    config = json.loads(inspected.stdout)
    assert config["User"] == USER
    assert "PYTHONUNBUFFERED=1" in config["Env"]
    assert config["Entrypoint"][-1] == "mlcpu"
    assert config["Cmd"] == ["run"]
    ids = run_image("-u", options=("--entrypoint", "id"))
    assert ids.stdout.strip() == "10001"


def test_runtime_image_carries_no_compilers_test_tools_or_caches():
    probe = """
import glob, importlib.util, json, shutil
print(json.dumps({
    "compilers": [c for c in ("gcc", "cc", "c++", "clang", "make") if shutil.which(c)],
    "test_tools": [m for m in ("pytest", "pytest_benchmark", "hypothesis", "tox")
                   if importlib.util.find_spec(m)],
    "caches": glob.glob("/root/.cache/*") + glob.glob("/home/*/.cache/*") + glob.glob("/tmp/*"),
    "sources": glob.glob("/src") + glob.glob("/wheels") + glob.glob("/tmp/wheels"),
    "mlcpu": importlib.util.find_spec("mlcpu").origin,
}))
"""
    found = json.loads(in_image(probe, user="0:0"))
    assert found["compilers"] == []
    assert found["test_tools"] == []
    assert found["caches"] == []
    assert found["sources"] == []
    assert found["mlcpu"].startswith("/opt/venv/")


# --- the documented commands ---------------------------------------------------------------


def test_default_run_prints_the_tutorial_report():
    done = run_image()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("mlcpu | iris: 150 samples x 4 features")
    assert re.search(rf"^machine: \d+ usable CPUs? of {os.cpu_count()} \| Python 3\.12", out, re.M)
    for header in ("sequential | 1 worker", "joblib | ", "multiprocessing (fork) | "):
        assert f"\n{header}" in out
    # Every default configuration under each of the three default strategies.
    assert sorted(map(int, TASK_LINE.findall(out))) == sorted([10, 50, 100, 200] * 3)
    for strategy in ("sequential", "joblib", "multiprocessing (fork)"):
        assert re.search(rf"^{re.escape(strategy)} training time: \d+\.\d{{4}} seconds$", out, re.M)
    assert "Summary (speedup vs sequential in this run)" in out
    assert "Accuracy is identical across strategies for every configuration." in out


def test_arguments_pass_through_and_the_json_reaches_the_mounted_folder(tmp_path):
    folder = results_folder(tmp_path)
    available = in_image(
        "from mlcpu import strategies as r; print(*[n for n in r.names() if r.available(n)])"
    ).split()
    args = ["run", "--dataset", "synthetic", "--n-samples", "2000", "--estimators", "10,20"]
    done = run_image(
        *args, "--strategies", "all", "--quiet", "--json", "/results/r.json", options=mount(folder)
    )
    assert done.returncode == 0, done.stderr
    assert not TASK_LINE.search(done.stdout)  # --quiet reached mlcpu
    assert "Results written to /results/r.json" in done.stdout
    written = folder / "r.json"
    data = json.loads(written.read_text())
    assert data["status"] == "ok"
    assert (data["workload"]["dataset"], data["workload"]["n_samples"]) == ("synthetic", 2000)
    assert data["workload"]["estimators"] == [10, 20]
    assert [s["name"] for s in data["strategies"]] == available
    assert set(available) >= CORE_STRATEGIES
    assert data["command"][-4:] == ["all", "--quiet", "--json", "/results/r.json"]
    if os.geteuid() == 0 and ENGINE == "podman":
        assert written.stat().st_uid == 10001  # rootful: the image's user owns what it writes


def test_user_option_writes_files_owned_by_the_caller(tmp_path):
    """The README's advice for a bind mount: run as yourself."""
    uid, gid = (1000, 1000) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    folder = results_folder(tmp_path, mode=0o755)
    if os.geteuid() == 0:
        os.chown(folder, uid, gid)
    done = run_image(
        "run",
        "--estimators",
        "10",
        "--strategies",
        "sequential",
        "--json",
        "/results/r.json",
        options=("--user", f"{uid}:{gid}", *mount(folder)),
    )
    assert done.returncode == 0, done.stderr
    assert (folder / "r.json").stat().st_uid == uid


def test_a_folder_the_user_cannot_write_is_one_clear_line(tmp_path):
    folder = results_folder(tmp_path, mode=0o755)  # owned by the caller, not by uid 10001
    done = run_image(
        "run", "--estimators", "10", "--json", "/results/r.json", options=mount(folder)
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mlcpu: error: mlcpu run: argument --json: folder '/results' is not writable"
    ]
    assert list(folder.iterdir()) == []


# --- CPU limits ----------------------------------------------------------------------------

LIMITS = {
    "cpus=1": ("--cpus=1",),
    "cpuset-cpus=0": ("--cpuset-cpus=0",),
}


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2, reason="needs 2+ CPUs to tell a limit from the machine"
)
@pytest.mark.parametrize("limit", [*LIMITS, "none"])
def test_mlcpu_uses_the_cpus_the_container_is_given(tmp_path, limit):
    folder = results_folder(tmp_path)
    done = run_image(
        "run",
        "--estimators",
        "10",
        "--strategies",
        "sequential,joblib",
        "--json",
        "/results/r.json",
        options=(*LIMITS.get(limit, ()), *mount(folder)),
    )
    assert done.returncode == 0, done.stderr
    data = json.loads((folder / "r.json").read_text())
    machine = data["machine"]
    workers = {s["name"]: s["workers"] for s in data["strategies"]}
    expected = os.cpu_count() if limit == "none" else 1
    assert machine["cpu_count"] == os.cpu_count()  # the host's count, as os.cpu_count() says
    assert machine["usable_cpus"] == expected
    assert workers["joblib"] == expected
    cpus = f"{expected} usable CPU{'' if expected == 1 else 's'}"
    assert f"machine: {cpus} of {os.cpu_count()} |" in done.stdout
    if limit == "cpus=1":
        assert machine["cpu_quota"] == 1.0
    if limit == "cpuset-cpus=0":
        assert machine["cpu_affinity"] == [0]


# --- signals, with mlcpu under the image's PID 1 -------------------------------------------


def logs(name: str) -> str:
    done = engine("logs", name)
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("signal", "code", "wait_for"),
    [
        ("TERM", 143, "joblib | "),  # workers running
        ("INT", 130, "joblib | "),
        ("TERM", 143, None),  # at once: Python still importing, no handler of its own yet
    ],
)
def test_sigterm_and_sigint_stop_the_run(signal, code, wait_for):
    """``docker stop`` / ``docker kill -s INT``: exit 143 / 130 at once, not a finished run.

    A run left alone takes far longer (exit 0), so a signal that got lost would show. When the
    container's PID 1 exits, nothing of the run outlives it.
    """
    name = f"mlcpu-test-{uuid.uuid4().hex[:10]}"
    started = engine(
        "run",
        "-d",
        "--name",
        name,
        "--cpus=1",
        IMAGE,
        "run",
        "--dataset",
        "synthetic",
        "--strategies",
        "joblib,sequential",
    )
    assert started.returncode == 0, started.stderr
    try:
        if wait_for:
            deadline = time.monotonic() + HANG_GUARD
            while wait_for not in logs(name):
                assert time.monotonic() < deadline, logs(name)
                time.sleep(0.2)
        assert engine("kill", "--signal", signal, name).returncode == 0
        waited = engine("wait", name)
        assert int(waited.stdout.strip()) == code, logs(name)
        if wait_for:
            message = "terminated (SIGTERM)" if signal == "TERM" else "interrupted"
            assert f"mlcpu: error: {message}; every worker was stopped" in logs(name)
        assert "Summary" not in logs(name)
    finally:
        engine("rm", "-f", name)


# --- the bench image -----------------------------------------------------------------------

bench_only = pytest.mark.skipif(not BENCH_IMAGE, reason="set MLCPU_BENCH_IMAGE (the bench target)")

SAMPLE_BENCHMARK = """
from mlcpu.data.datasets import load_dataset


def test_load_iris(benchmark):
    dataset = benchmark(load_dataset, "iris", seed=0)
    assert dataset.n_samples == 150
"""


@bench_only
def test_bench_image_saves_baselines_in_the_mounted_folder(tmp_path):
    """The image's mechanism, with a one-benchmark suite mounted in place of benchmarks/."""
    suite = tmp_path / "suite"
    suite.mkdir()
    suite.chmod(0o755)
    (suite / "test_sample.py").write_text(SAMPLE_BENCHMARK)
    (suite / "test_sample.py").chmod(0o644)
    folder = results_folder(tmp_path)
    done = run_image(options=(*mount(folder), *mount(suite, "/app/benchmarks")), image=BENCH_IMAGE)
    assert done.returncode == 0, done.stdout + done.stderr
    saved = list((folder / "benchmarks").glob("*/0001_*.json"))
    assert len(saved) == 1, done.stdout
    assert saved[0].parent.name.startswith("Linux-CPython-3.12")
    benchmarks = json.loads(saved[0].read_text())["benchmarks"]
    assert [b["name"] for b in benchmarks] == ["test_load_iris"]
    assert benchmarks[0]["stats"]["rounds"] >= 1


@bench_only
@pytest.mark.skipif(
    not (ROOT / "benchmarks").is_dir(), reason="benchmarks/ is not in this checkout"
)
def test_bench_image_holds_the_real_suite(tmp_path):
    folder = results_folder(tmp_path)
    if os.environ.get("MLCPU_CONTAINER_BENCH") == "run":
        done = run_image("--benchmark-autosave", options=mount(folder), image=BENCH_IMAGE)
        assert done.returncode == 0, done.stdout + done.stderr
        assert list((folder / "benchmarks").glob("*/0001_*.json"))
    else:
        done = run_image("--collect-only", "-q", options=mount(folder), image=BENCH_IMAGE)
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"^\d+ tests? collected", done.stdout, re.M), done.stdout
