"""The benchmark suite (``benchmarks/``) through pytest-benchmark itself, in subprocesses.

A small selection is really run and saved, compared by ``--benchmark-compare-fail``, and read
back by pytest-benchmark's own ``list`` and ``compare`` commands; the figures are never checked
against wall-clock thresholds, only for presence and internal consistency.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env

# Every family, every field, two strategies, the smallest sizes: a few seconds.
SELECTION = (
    "(train or run or startup) and (iris or startup) and (sequential or threads) "
    "and not 50 and not 100 and not 200"
)
BENCH = str(Path(sys.executable).with_name("pytest-benchmark"))


def run(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pytest_run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, cwd=cwd)


def test_ids_read_like_the_parameters():
    done = pytest_run("benchmarks", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    for node in (
        "benchmarks/test_train.py::test_train[joblib-100-iris]",
        "benchmarks/test_train.py::test_train[sequential-10-synthetic]",
        "benchmarks/test_run.py::test_run[multiprocessing-synthetic]",
        "benchmarks/test_startup.py::test_startup[cold-joblib]",
        "benchmarks/test_startup.py::test_startup[warm-threads]",
        "benchmarks/test_balanced.py::test_speed[synthetic-balanced]",
        "benchmarks/test_balanced.py::test_memory_balanced_vs_joblib",
        "benchmarks/test_search.py::test_search[gridsearchcv-synthetic]",
        "benchmarks/test_search.py::test_search[auto-iris]",
    ):
        assert node in done.stdout
    # 40 per task (4 sizes x 5 strategies x 2 datasets) + 10 whole runs + 10 start-ups;
    # 18 balanced/auto targets (3 datasets x 6 strategies) + 1 memory; 12 searches
    # (6 strategies x 2 datasets).
    assert "91 tests collected" in done.stdout


def test_profile_option_is_checked():
    done = pytest_run("benchmarks", "--collect-only", "-q", "--mlcpu-profile", "huge")
    assert done.returncode == 4
    assert "invalid choice: 'huge'" in done.stderr


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run from a scratch folder so pytest-benchmark's default ``./.benchmarks`` lands there."""
    cwd = tmp_path_factory.mktemp("scratch")
    done = pytest_run(
        str(ROOT / "benchmarks"),
        "-k",
        SELECTION,
        "--benchmark-save=base",
        "--benchmark-save-data",
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return cwd, done


def saved(cwd: Path) -> dict:
    (path,) = cwd.glob(".benchmarks/*/0001_base.json")
    return json.loads(path.read_text())


def test_saved_run_has_groups_machine_facts_and_extra_info(storage):
    cwd, done = storage
    document = saved(cwd)
    names = {b["name"]: b for b in document["benchmarks"]}
    assert set(names) == {
        "test_run[sequential-iris]",
        "test_run[threads-iris]",
        "test_startup[cold-sequential]",
        "test_startup[cold-threads]",
        "test_startup[warm-sequential]",
        "test_startup[warm-threads]",
        "test_train[sequential-10-iris]",
        "test_train[threads-10-iris]",
    }
    assert names["test_train[threads-10-iris]"]["group"] == "train: iris, 10 trees"
    assert names["test_run[threads-iris]"]["group"] == "run: iris, 10,50,100,200 trees"
    assert names["test_startup[cold-threads]"]["group"] == "startup: cold"
    for bench in document["benchmarks"]:
        extra = bench["extra_info"]
        for key in ("accuracy", "cpus", "pids", "workers", "strategy"):
            assert key in extra, (bench["name"], key)
        assert bench["stats"]["data"], bench["name"]
    run = names["test_run[threads-iris]"]["extra_info"]
    sequential = names["test_run[sequential-iris]"]
    # Speedup is against sequential measured in the same session.
    assert run["sequential_median_s"] == pytest.approx(sequential["stats"]["median"])
    assert run["speedup"] == pytest.approx(run["sequential_median_s"] / run["median_s"])
    assert run["efficiency"] == pytest.approx(run["speedup"] / run["workers"])
    assert sequential["extra_info"]["accuracies"] == run["accuracies"]
    assert set(run["accuracies"]) == {"10", "50", "100", "200"}
    cold = names["test_startup[cold-threads]"]["extra_info"]
    assert len(cold["startups_s"]) == document["mlcpu"]["startup_rounds"]
    machine = document["machine_info"]
    assert machine["usable_cpus"] >= 1
    assert machine["cpu_affinity"]
    assert {"scikit_learn", "joblib", "numpy", "threadpools"} <= set(machine)
    assert document["mlcpu"]["profile"] == "quick"
    assert "benchmark 'startup: cold': 2 tests" in done.stdout


def test_benchmark_compare_fail_against_the_saved_baseline(storage):
    cwd, _ = storage
    done = pytest_run(
        str(ROOT / "benchmarks"),
        "-k",
        "train and sequential and iris",
        "--benchmark-compare",
        # Two runs of the same code on this shared machine differed by up to 2.4x in median
        # (other work comes and goes); this checks the mechanics, not this machine's noise.
        "--benchmark-compare-fail=median:300%",
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0001_base" in done.stdout
    assert "test_train[sequential-10-iris] (NOW)" in done.stdout
    # The machine facts this suite adds are stable, so pytest-benchmark does not warn.
    assert "machine_info is different" not in done.stdout + done.stderr


def test_pytest_benchmark_list_and_compare_read_the_files(storage):
    cwd, _ = storage
    folder = f"file://{cwd / '.benchmarks'}"
    listed = run(BENCH, "--storage", folder, "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "0001_base.json" in listed.stdout
    # From the project root, so the CLI also loads conftest.py's grouping hook.
    compared = run(BENCH, "--storage", folder, "compare", "0001", "--group-by", "group")
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "test_train[sequential-10-iris]" in compared.stdout
    assert "startup: warm" in compared.stdout


# -- baselines that cannot be lost or silently replaced (issue: faults, guarantee 7) -------------
COMPARE_ONE = ("-k", "train and sequential-10-iris", "--benchmark-compare")


def storage_copy(storage, tmp_path: Path) -> Path:
    """A scratch folder holding a copy of the saved baseline as 0001 (and nothing else)."""
    cwd, _ = storage
    (source,) = cwd.glob(".benchmarks/*/0001_base.json")
    machine = tmp_path / ".benchmarks" / source.parent.name
    machine.mkdir(parents=True)
    (machine / "0001_base.json").write_bytes(source.read_bytes())
    return machine


def truncated(machine: Path, name: str) -> Path:
    good = (machine / "0001_base.json").read_bytes()
    path = machine / name
    path.write_bytes(good[: len(good) // 2])
    return path


def test_a_truncated_latest_baseline_stops_the_comparison(storage, tmp_path):
    machine = storage_copy(storage, tmp_path)
    bad = truncated(machine, "0002_killed.json")
    done = pytest_run(str(ROOT / "benchmarks"), *COMPARE_ONE, cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "the latest benchmark baseline" in done.stderr
    assert str(bad) in done.stderr
    assert "cannot be read" in done.stderr
    assert "0001_base" not in done.stdout  # no silent fall-back to the older file
    named = pytest_run(
        str(ROOT / "benchmarks"), *COMPARE_ONE[:-1], "--benchmark-compare=0002", cwd=tmp_path
    )
    assert named.returncode == 4
    assert "the baseline named for comparison" in named.stderr


def test_an_unreadable_older_baseline_is_only_warned_about(storage, tmp_path):
    machine = storage_copy(storage, tmp_path)
    truncated(machine, "0001_old.json")
    (machine / "0001_base.json").rename(machine / "0002_base.json")
    done = pytest_run(str(ROOT / "benchmarks"), *COMPARE_ONE, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Comparing against benchmarks from: " in done.stderr
    assert "0002_base.json" in done.stderr


def test_baselines_are_saved_atomically(tmp_path, monkeypatch):
    """A save that fails before its rename leaves no baseline file, only the old state."""
    import logging
    import os

    from pytest_benchmark.storage.file import FileStorage

    from mlcpu.comparing import baselines

    store = FileStorage(tmp_path, logger=logging.getLogger("test"), default_machine_id="m")
    baselines.protect_storage(store)
    document = {"benchmarks": [], "machine_info": {}, "version": "5"}

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", crash)
        with pytest.raises(OSError, match="No space left"):
            store.save(document, "first")
    assert list((tmp_path / "m").iterdir()) == []  # no half file, no temporary left behind
    store.save(document, "first")
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["0001_first.json"]
    assert json.loads((tmp_path / "m" / "0001_first.json").read_text()) == document
