"""``mlcpu compare``, the regression gate, on files pytest-benchmark really saved on this machine.

A small suite (``tests/gate_suite/bench_gate.py``) is saved by pytest-benchmark in subprocesses:
twice unchanged (A/A), once with a twenty times heavier configuration and once with a less accurate
one under the same names. Other cases are edits of run A itself (timings scaled, a benchmark
removed, a file truncated, another Python), so they do not depend on how busy the machine was
between two runs.

Two runs of the same code seconds apart on this shared 2-core machine differed by up to 2.4x in
median (a CI run, the suite's other xdist process training beside one of them), so comparisons
between two real runs allow 3x (``NOISE``); a 10% limit between runs would fail A/A comparisons
here often. The heavier configuration (20 times the trees) measured 6-7x the time alone at 10
times, so 20 times keeps it well clear of that allowance.
"""

from __future__ import annotations

import copy
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlcpu.cli import main
from tests.conftest import ROOT, cli_env, run_cli

SUITE = "tests/gate_suite/bench_gate.py"
NAMES = ("test_gate[sequential-iris]", "test_gate[threads-iris]")
NOISE = ("--max-slowdown", "200%")


def save_suite(storage: Path, name: str, **env: str) -> dict:
    """Run the gate suite for real and save it with pytest-benchmark; return the JSON."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            SUITE,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-storage=file://{storage}",
            f"--benchmark-save={name}",
            "--benchmark-save-data",
        ],
        cwd=ROOT,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = storage.glob(f"*/*_{name}.json")
    return {"path": path, "json": json.loads(path.read_text())}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, dict]:
    storage = tmp_path_factory.mktemp("benchmarks")
    return {
        "a": save_suite(storage, "a"),
        "b": save_suite(storage, "b"),
        "heavier": save_suite(storage, "heavier", MLCPU_GATE_TREES="200"),
        "shallow": save_suite(storage, "shallow", MLCPU_GATE_MAX_DEPTH="1"),
    }


@pytest.fixture(scope="module")
def steady(saved, tmp_path_factory) -> dict:
    """Run "a" with its timings drawn in to within 5% of each median, keeping their order.

    Tests of a known slowdown start from it: on this shared machine one burst of other work
    can spread a run's own timings by more than 30%, and then a 1.3x slower copy is rightly
    *not* significant. Real spread is what the A/A tests above are about.
    """
    document = copy.deepcopy(saved["a"]["json"])
    for bench in document["benchmarks"]:
        bench["stats"].update(stats_of(drawn_in(bench["stats"]["data"])))
    path = write(tmp_path_factory.mktemp("steady") / "steady.json", document)
    return {"path": path, "json": document}


def drawn_in(samples: list[float], spread: float = 0.05) -> list[float]:
    middle = statistics.median(samples)
    widest = max(abs(x - middle) for x in samples) or 1.0
    factor = min(1.0, spread * middle / widest)
    return [middle + (x - middle) * factor for x in samples]


def stats_of(data: list[float]) -> dict:
    q1, _, q3 = statistics.quantiles(data, n=4)
    return {
        "data": data, "min": min(data), "max": max(data), "mean": statistics.fmean(data),
        "median": statistics.median(data), "stddev": statistics.stdev(data), "q1": q1, "q3": q3,
        "iqr": q3 - q1, "total": sum(data),
    }  # fmt: skip


def write(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


def scaled(document: dict, factor: float, *, only: str | None = None) -> dict:
    """The same run with every timing multiplied by ``factor`` (a uniformly slower run)."""
    result = copy.deepcopy(document)
    for bench in result["benchmarks"]:
        if only is not None and bench["name"] != only:
            continue
        stats = bench["stats"]
        for key in ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "total"):
            stats[key] *= factor
        stats["data"] = [x * factor for x in stats["data"]]
    return result


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def gate(capsys, monkeypatch, tmp_path):
    """``mlcpu compare ARGS`` through ``cli.main`` in a folder without a pyproject.toml, so only
    defaults and flags count (in-process: a subprocess would import scikit-learn every time)."""
    monkeypatch.chdir(tmp_path)

    def compare(*args: str | Path) -> Done:
        code = main(["compare", *map(str, args)])
        captured = capsys.readouterr()
        return Done(code, captured.out, captured.err)

    return compare


def test_suite_saves_accuracy_and_machine_facts(saved):
    document = saved["a"]["json"]
    assert sorted(b["name"] for b in document["benchmarks"]) == sorted(NAMES)
    for bench in document["benchmarks"]:
        assert len(bench["stats"]["data"]) == 15
        extra = bench["extra_info"]
        assert 0.5 < extra["accuracy"] <= 1.0
        assert extra["pids"]
        assert extra["workers"] >= 1
    machine = document["machine_info"]
    for key in ("usable_cpus", "cpu_affinity", "threadpools", "scikit_learn", "joblib", "numpy"):
        assert key in machine
    assert document["mlcpu"]["profile"] == "quick"


def test_a_a_comparison_passes(saved, tmp_path):
    args = ("compare", saved["a"]["path"], saved["b"]["path"], *NOISE)
    done = run_cli(*map(str, args), cwd=tmp_path)  # the real command, as CI would run it
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mlcpu compare: PASS" in done.stdout
    for name in NAMES:
        assert name in done.stdout


def test_heavier_configuration_fails(saved, gate, tmp_path):
    done = gate(saved["a"]["path"], saved["heavier"]["path"], *NOISE)
    assert done.returncode == 1, done.stdout + done.stderr
    for name in NAMES:
        assert f"REGRESSION: {name} is +" in done.stdout
    assert "Mann-Whitney U" in done.stdout
    assert "mlcpu compare: FAIL" in done.stdout


def test_improvement_passes(saved, gate, tmp_path):
    # Fewer trees are faster but (on iris) a little less accurate: allow that here.
    done = gate(saved["heavier"]["path"], saved["a"]["path"], "--max-accuracy-drop", "0.1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "faster" in done.stdout


def test_the_same_run_passes(saved, gate, tmp_path):
    done = gate(saved["a"]["path"], saved["a"]["path"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_timings_scaled_by_1_3_fail(steady, gate, tmp_path):
    slower = write(tmp_path / "slower.json", scaled(steady["json"], 1.3))
    done = gate(steady["path"], slower)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is +30.0% slower (limit 10%" in done.stdout


def test_a_slowdown_within_the_limit_passes(steady, gate, tmp_path):
    slower = write(tmp_path / "slower.json", scaled(steady["json"], 1.3))
    done = gate(steady["path"], slower, "--max-slowdown", "35%")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SLOWER" not in done.stdout


def test_per_benchmark_limits(steady, gate, tmp_path):
    slower = write(tmp_path / "slower.json", scaled(steady["json"], 1.3))
    done = gate(steady["path"], slower, "--max-slowdown", "threads=60%,*=10%")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION: test_gate[sequential-iris]" in done.stdout
    assert "REGRESSION: test_gate[threads-iris]" not in done.stdout


def test_limits_from_pyproject(steady, gate, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mlcpu.compare]\nmax-slowdown = { "test_gate[sequential-*]" = "60%", "*" = "10%" }\n'
    )
    only_sequential = scaled(steady["json"], 1.3, only="test_gate[sequential-iris]")
    slower = write(tmp_path / "slower.json", only_sequential)
    assert gate(steady["path"], slower).returncode == 0
    # The command line wins over the file.
    done = gate(steady["path"], slower, "--max-slowdown", "10%")
    assert done.returncode == 1, done.stdout + done.stderr


def test_normalizing_by_sequential_survives_a_slower_machine(steady, gate, tmp_path):
    slower_machine = scaled(steady["json"], 1.3)
    slower_machine["machine_info"]["cpu"]["brand_raw"] = "Some Other CPU @ 1.0GHz"
    path = write(tmp_path / "other-machine.json", slower_machine)
    refused = gate(steady["path"], path)
    assert refused.returncode == 2
    assert "different machines: cpu_model" in refused.stderr
    done = gate(steady["path"], path, "--normalize", "sequential")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference" in done.stdout


def test_normalized_strategy_slowdown_fails(steady, gate, tmp_path):
    only_threads = scaled(steady["json"], 1.5, only="test_gate[threads-iris]")
    path = write(tmp_path / "threads-slower.json", only_threads)
    done = gate(steady["path"], path, "--normalize", "sequential")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION: test_gate[threads-iris]" in done.stdout


def test_accuracy_drop_fails(saved, gate, tmp_path):
    assert (
        saved["shallow"]["json"]["benchmarks"][0]["extra_info"]["accuracy"]
        < (saved["a"]["json"]["benchmarks"][0]["extra_info"]["accuracy"])
    )
    done = gate(saved["a"]["path"], saved["shallow"]["path"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ACCURACY DROP" in done.stdout
    assert "accuracy (limit 0)" in done.stdout
    allowed = gate(
        saved["a"]["path"],
        saved["shallow"]["path"],
        "--max-accuracy-drop",
        "100%",
        *NOISE,
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_stats_without_raw_data_still_gate(steady, gate, tmp_path):
    def without_data(document: dict) -> dict:
        result = copy.deepcopy(document)
        for bench in result["benchmarks"]:
            del bench["stats"]["data"]
        return result

    baseline = write(tmp_path / "a.json", without_data(steady["json"]))
    slower = write(tmp_path / "slower.json", without_data(scaled(steady["json"], 1.5)))
    done = gate(baseline, slower)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Welch's t-test" in done.stdout


def test_missing_benchmark_fails_unless_allowed(saved, gate, tmp_path):
    partial = copy.deepcopy(saved["a"]["json"])
    partial["benchmarks"] = [b for b in partial["benchmarks"] if b["name"] != NAMES[1]]
    path = write(tmp_path / "partial.json", partial)
    done = gate(saved["a"]["path"], path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"REGRESSION: {NAMES[1]} is in the baseline but not in the current file" in done.stdout
    assert gate(saved["a"]["path"], path, "--allow-missing").returncode == 0
    # A benchmark only in the current file is new, not a failure.
    assert gate(path, saved["a"]["path"]).returncode == 0


def one_line_error(done: Done | subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("mlcpu: error: ")
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr


def test_truncated_baseline_exits_2(saved, tmp_path):
    text = saved["a"]["path"].read_text()
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2])
    done = run_cli("compare", str(truncated), str(saved["b"]["path"]), cwd=tmp_path)
    one_line_error(done, "truncated.json", "not valid JSON (truncated or corrupt?)")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["machine_info"].update(python_version="3.99.0"), "python '3.11' vs '3.99'"),
        (lambda d: d["machine_info"].update(usable_cpus=64), "usable_cpus"),
        (lambda d: d["mlcpu"].update(profile="full"), "different benchmark profile"),
        (lambda d: d.update(benchmarks=[]), "contains no benchmarks"),
        (lambda d: d["benchmarks"][0]["stats"].pop("median"), "malformed pytest-benchmark"),
        (lambda d: d.pop("machine_info"), "no machine_info"),
    ],
    ids=["python", "cores", "profile", "empty", "no-median", "no-machine-info"],
)
def test_mismatched_or_broken_files_exit_2(saved, gate, tmp_path, edit, message):
    document = copy.deepcopy(saved["b"]["json"])
    edit(document)
    path = write(tmp_path / "edited.json", document)
    one_line_error(gate(saved["a"]["path"], path), message)


def test_missing_file_exits_2(saved, gate, tmp_path):
    done = gate(tmp_path / "nope.json", saved["a"]["path"])
    one_line_error(done, "nope.json", "does not exist")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-slowdown", "fast"], "expected a percentage like 10%, got 'fast'"),
        (["--max-slowdown", "0.1"], "expected a percentage like 10%, got '0.1'"),
        (["--max-slowdown", "iris=20%,iris=5%"], "pattern 'iris' appears twice"),
        (["--max-slowdown", "=5%"], "PATTERN=VALUE"),
        (["--max-accuracy-drop", "2"], "from 0 to 1"),
        (["--alpha", "5"], "between 0 and 1"),
        (["--normalize", "median"], "invalid choice: 'median'"),
        (["--config", "missing.toml"], "does not exist"),
    ],
)
def test_bad_options_exit_2_with_one_line(saved, gate, tmp_path, options, message):
    done = gate(saved["a"]["path"], saved["b"]["path"], *options)
    one_line_error(done, message)


def test_bad_config_exits_2(saved, gate, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.mlcpu.compare]\nmax-slowdown = 'lots'\n")
    one_line_error(
        gate(saved["a"]["path"], saved["b"]["path"]),
        "max-slowdown in [tool.mlcpu.compare]",
    )
    (tmp_path / "pyproject.toml").write_text("[tool.mlcpu.compare]\nthreshold = '5%'\n")
    one_line_error(gate(saved["a"]["path"], saved["b"]["path"]), "unknown key 'threshold'")


@pytest.fixture(scope="module")
def run_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("run") / "run.json"
    done = run_cli(
        "run",
        "--estimators",
        "20,40",
        "--strategies",
        "sequential,threads",
        "--repeat",
        "5",
        "--quiet",
        "--json",
        str(path),
    )
    assert done.returncode == 0, done.stderr
    return path


def test_too_few_timings_are_reported(saved, gate, tmp_path):
    def first_rounds(document: dict, rounds: int) -> dict:
        result = copy.deepcopy(document)
        for bench in result["benchmarks"]:
            bench["stats"]["data"] = bench["stats"]["data"][:rounds]
        return result

    baseline = write(tmp_path / "a.json", first_rounds(saved["a"]["json"], 3))
    slower = write(tmp_path / "slower.json", first_rounds(scaled(saved["a"]["json"], 2), 3))
    done = gate(baseline, slower)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 benchmark(s) have too few timings for any p < 0.01" in done.stdout
    assert "slower, not significant" in done.stdout


def test_mlcpu_run_files(run_file, gate, tmp_path):
    same = gate(run_file, run_file)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "threads" in same.stdout
    document = json.loads(run_file.read_text())
    for strategy in document["strategies"]:  # as ``steady``: a known slowdown, not the noise
        strategy["runs_s"] = drawn_in(strategy["runs_s"])
    run_file = write(tmp_path / "steady.json", document)
    document = copy.deepcopy(document)
    for strategy in document["strategies"]:
        strategy["runs_s"] = [t * 2 for t in strategy["runs_s"]]
    slower = write(tmp_path / "slower.json", document)
    done = gate(run_file, slower)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION: sequential is +100.0% slower" in done.stdout
    # Every strategy slowed alike: relative to sequential nothing changed.
    assert gate(run_file, slower, "--normalize", "sequential").returncode == 0
    document["workload"]["estimators"] = [20, 80]
    other = write(tmp_path / "other.json", document)
    one_line_error(gate(run_file, other), "different workload", "estimators")


def test_cannot_compare_two_kinds(saved, gate, run_file, tmp_path):
    one_line_error(gate(saved["a"]["path"], run_file), "cannot compare a")
    empty = write(tmp_path / "empty.json", {"schema": "mlcpu.run/1", "strategies": []})
    one_line_error(gate(run_file, empty), "records no strategy")
