"""Fixtures shared by the correctness tests: small seeded workloads and real subprocess runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from mlcpu.data.datasets import load_dataset
from mlcpu.records.config import make_configs
from mlcpu.training.workload import Workload

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Misbehaving model factories (see faulty_models.py), importable from the project root.
FAULTY = "tests.faulty_models:"
# Helper processes that live as long as the interpreter by design, not per pool:
# multiprocessing's and loky's resource trackers (they remove leaked shared resources). Matched
# by the code they run: a worker's command line also says "resource_tracker", in the warning
# filter mlcpu passes down to every spawned interpreter (host/thirdparty.QUIET_TRACKERS).
INTERPRETER_HELPERS = ("resource_tracker import main",)


@pytest.fixture(scope="session")
def iris():
    return load_dataset("iris", seed=0)


@pytest.fixture(scope="session")
def iris_workload(iris):
    return Workload(iris, make_configs([10, 30, 20, 5]), seed=0)


@pytest.fixture(scope="session")
def synthetic_small():
    return load_dataset("synthetic", n_samples=600, n_features=8, seed=3)


def is_interpreter_helper(process: psutil.Process) -> bool:
    """Whether ``process`` is a resource tracker (raises ``psutil.Error`` if it is gone)."""
    cmdline = " ".join(process.cmdline())
    return any(helper in cmdline for helper in INTERPRETER_HELPERS)


def worker_children() -> list[psutil.Process]:
    """Child processes of this test process, minus interpreter-wide helpers."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE or is_interpreter_helper(child):
                continue
        except psutil.Error:
            continue
        found.append(child)
    return found


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a real ``mlcpu`` subprocess: plain output, no colour."""
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    # Under pytest-xdist (the README's test command) a child pytest must not believe it is an
    # xdist worker: pytest-benchmark would switch itself off.
    for name in [n for n in env if n.startswith("PYTEST_XDIST_")]:
        env.pop(name)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def as_if_in_the_foreground() -> None:
    """``preexec_fn`` for a child a test will interrupt with SIGINT, as Ctrl-C would.

    A shell without job control starts background commands (``bash .ci/run &``) with SIGINT
    ignored, and every child inherits that: Python then never raises KeyboardInterrupt. A
    terminal's Ctrl-C reaches a foreground process whose SIGINT is at its default.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(
    *args: str, timeout: float = 120, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mlcpu ARGS`` for real, with a hard timeout (a hang fails the test).

    The working directory is the project root, so ``--model tests.faulty_models:...`` imports.
    """
    return subprocess.run(
        [sys.executable, "-m", "mlcpu", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        env=cli_env(**env),
        check=False,
    )
