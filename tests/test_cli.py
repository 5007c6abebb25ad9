"""The command line through a real subprocess: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import sys

import pytest

import mlcpu.strategies as registry
from mlcpu.cli import main
from mlcpu.commands import COMMANDS
from tests.conftest import run_cli

TASK_LINE = re.compile(
    r"^Training on CPU core: \d+ \| (\d+) estimators \| Accuracy: (\d\.\d{4}) \| "
    r"Time: \d+\.\d{4} seconds$",
    re.MULTILINE,
)


def test_default_run_prints_the_tutorial_report():
    done = run_cli("run")
    assert done.returncode == 0, done.stderr
    lines = TASK_LINE.findall(done.stdout)
    assert sorted(int(n) for n, _ in lines) == sorted([10, 50, 100, 200] * 3)
    for strategy in ("sequential", "joblib", "multiprocessing (fork)"):
        assert f"{strategy} training time:" in done.stdout
    assert "Summary" in done.stdout
    assert "speedup" in done.stdout
    assert "efficiency" in done.stdout
    assert "Accuracy is identical across strategies" in done.stdout
    assert done.stderr == ""


def test_json_results_have_the_documented_keys(tmp_path):
    path = tmp_path / "r.json"
    done = run_cli(
        "run",
        "--dataset",
        "synthetic",
        "--n-samples",
        "600",
        "--n-features",
        "6",
        "--estimators",
        "5,15",
        "--strategies",
        "all",
        "--repeat",
        "2",
        "--json",
        str(path),
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(path.read_text())
    assert document["schema"] == "mlcpu.run/1"
    assert document["status"] == "ok"
    for key in ("mlcpu_version", "machine", "workload", "strategies"):
        assert key in document
    for key in (
        "cpu_count",
        "usable_cpus",
        "python",
        "platform",
        "scikit_learn",
        "joblib",
        "numpy",
    ):
        assert key in document["machine"]
    workload = document["workload"]
    assert workload["dataset"] == "synthetic"
    assert (workload["n_samples"], workload["n_features"]) == (600, 6)
    assert workload["estimators"] == [5, 15]
    assert (workload["seed"], workload["test_size"]) == (0, 0.2)
    names = [s["name"] for s in document["strategies"]]
    # `all`: every registered strategy that is available (dask when its extra is installed).
    assert names[:6] == [
        "sequential",
        "joblib",
        "multiprocessing",
        "threads",
        "sklearn",
        "incremental",
    ]
    assert names == [n for n in registry.names() if registry.available(n)]
    accuracies: dict[int, set[float]] = {}
    for strategy in document["strategies"]:
        for key in ("workers", "elapsed_s", "runs_s", "startup_s", "speedup", "efficiency"):
            assert key in strategy
        assert len(strategy["runs_s"]) == 2
        assert len(strategy["runs"]) == 2
        assert strategy["efficiency"] == pytest.approx(strategy["speedup"] / strategy["workers"])
        for task in strategy["tasks"]:
            assert set(task) >= {"n_estimators", "accuracy", "seconds", "cpu", "pid"}
            assert 0 <= task["start_s"] <= task["end_s"]
            accuracies.setdefault(task["n_estimators"], set()).add(task["accuracy"])
    assert document["strategies"][0]["speedup"] == 1.0
    assert all(len(values) == 1 for values in accuracies.values()), accuracies


def test_python_dash_m_and_console_script_agree(tmp_path):
    import shutil
    import subprocess

    script = shutil.which("mlcpu", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert script is not None, "the console script is installed next to the interpreter"
    version = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0
    assert version.stdout.strip() == run_cli("--version").stdout.strip()


def test_quiet_prints_only_the_summary():
    done = run_cli("run", "--quiet", "--strategies", "sequential", "--estimators", "5")
    assert done.returncode == 0
    assert TASK_LINE.search(done.stdout) is None
    assert "Summary" in done.stdout


BAD_INPUT = [
    (["run", "--dataset", "mnist"], r"unknown dataset 'mnist'; choose one of iris, digits"),
    (["run", "--strategies", "gpu"], r"unknown strategy 'gpu'; choose from sequential"),
    (["run", "--strategies", ""], r"expected strategy names"),
    (["run", "--estimators", "10,x"], r"'x' is not an integer"),
    (["run", "--estimators", "10,-5"], r"'-5' is not a positive integer"),
    (["run", "--estimators", "0"], r"'0' is not a positive integer"),
    (["run", "--estimators", ""], r"expected a comma-separated list"),
    (["run", "--workers", "0"], r"--workers: expected a positive integer, got '0'"),
    (["run", "--repeat", "two"], r"--repeat: expected a positive integer"),
    (["run", "--seed", "-1"], r"seed must be from 0"),
    (["run", "--test-size", "1.5"], r"expected a fraction between 0 and 1"),
    (["run", "--dataset", "nope.csv"], r"dataset file 'nope.csv' does not exist"),
    (["run", "--n-samples", "100"], r"--n-samples applies to the synthetic dataset only"),
    (["run", "--target", "y"], r"--target applies to CSV files only"),
    (["run", "--model", "svm"], r"unknown model 'svm'; choose one of random_forest"),
    (["run", "--max-depth", "0"], r"expected a positive integer or 'none'"),
    (["run", "--param", "bogus=1"], r"model 'random_forest'.*unexpected keyword argument 'bogus'"),
    (["run", "--param", "max_features=-3"], r"max_features"),
    (["run", "--json", "/no/such/dir/r.json"], r"folder '/no/such/dir' does not exist"),
    (["run", "--start-method", "teleport"], r"invalid choice: 'teleport'"),
    (["run", "--frobnicate"], r"unrecognized arguments: --frobnicate"),
    (["launch"], r"invalid choice: 'launch'"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_clear_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mlcpu: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in captured.err


def test_bad_input_through_a_real_process_has_no_traceback():
    done = run_cli("run", "--strategies", "sequential,gpu")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "unknown strategy 'gpu'" in done.stderr


def test_no_command_prints_help_and_exit_2(capsys):
    assert main([]) == 2
    assert "run" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "--estimators" in capsys.readouterr().out


@pytest.mark.parametrize("command", [m.__name__.rpartition(".")[2] for m in COMMANDS])
def test_every_command_prints_its_help(command, capsys):
    """Help text is formatted by argparse with %-substitution: a bare percent sign crashed it."""
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mlcpu")
    assert f" {command} " in out.splitlines()[0]
