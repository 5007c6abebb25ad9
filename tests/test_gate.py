"""``mlcpu gate`` end to end: two real trees, each side a real process importing its own copy.

The trees are copies of this checkout's ``mlcpu`` package; a slowed copy does real extra work
after every fit (``benchmarks/evaluate_gate.py``'s patch, here 100% so the tests stay short),
a less accurate copy trains a single stump. One quick benchmark keeps each gate to seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.evaluate_gate import slow
from tests.conftest import as_if_in_the_foreground, cli_env, run_cli

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--only", "test_train[sequential-50-iris]"]
BUILD_LINE = "    estimator = config.build(random_state=seed, n_jobs=n_jobs)\n"

pytestmark = pytest.mark.slow


def make_tree(folder: Path) -> Path:
    shutil.copytree(ROOT / "mlcpu", folder / "mlcpu", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("trees")
    made = {name: make_tree(root / name) for name in ("base", "same", "slow", "shallow")}
    slow(made["slow"], 1.0)
    training = made["shallow"] / "mlcpu" / "training" / "fit.py"
    text = training.read_text()
    assert text.count(BUILD_LINE) == 1
    training.write_text(
        text.replace(
            BUILD_LINE, BUILD_LINE.rstrip("\n") + ".set_params(max_depth=1, n_estimators=1)\n"
        )
    )
    return made


def gate(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return run_cli("gate", *args, timeout=timeout)


def side_processes(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


def wait_until_gone(marker: str, seconds: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := side_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_identical_trees_pass_and_leave_readable_files(trees, tmp_path):
    report, timings = tmp_path / "gate.json", tmp_path / "timings"
    done = gate(
        str(trees["base"]),
        str(trees["same"]),
        *QUICK,
        "--max-slowdown",
        "30%",
        "--json",
        str(report),
        "--save-timings",
        str(timings),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no regression larger than" in done.stdout
    assert f"base: mlcpu 0.1.0 from {trees['base'] / 'mlcpu' / '__init__.py'}" in done.stderr
    document = json.loads(report.read_text())
    assert document["schema"] == "mlcpu.gate/1"
    assert document["exit_code"] == 0
    assert document["sides"]["candidate"]["mlcpu_file"].startswith(str(trees["same"]))
    (row,) = document["benchmarks"]
    assert row["verdict"] == "pass"
    assert row["ratio_low"] <= row["ratio"] <= row["ratio_high"] <= 1.30
    assert row["rounds"] == len(row["log_ratios"]) == len(row["base_s"])  # one run a side
    assert row["minimum_detectable_slowdown"] >= 0.30
    assert row["base_accuracy"] == row["candidate_accuracy"]
    # each side's timings as standard pytest-benchmark JSON, read by both comparers
    files = [str(timings / "base.json"), str(timings / "candidate.json")]
    compared = run_cli("compare", *files, "--max-slowdown", "30%")
    assert compared.returncode in (0, 1), compared.stderr
    assert "test_train[sequential-50-iris]" in compared.stdout
    upstream = subprocess.run(
        [Path(sys.executable).with_name("pytest-benchmark"), "compare", *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert upstream.returncode == 0, upstream.stderr
    assert "test_train[sequential-50-iris]" in upstream.stdout


def test_a_real_slowdown_is_a_regression_and_stops_the_gate(trees, tmp_path):
    report = tmp_path / "gate.json"
    pair = ["--only", "test_train[sequential-?0-iris]"]  # 10 and 50 trees
    done = gate(
        str(trees["base"]),
        str(trees["slow"]),
        *pair,
        "--max-slowdown",
        "30%",
        "--json",
        str(report),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "regression in " in done.stdout
    assert "so exit 1 is certain" in done.stderr  # fails fast
    document = json.loads(report.read_text())
    (family,) = document["families"]
    assert family["name"] == "train: all 2 together"
    assert family["members"] == [row["name"] for row in document["benchmarks"]]
    # the family pools its members' rounds: both measured in each of its rounds
    assert family["rounds"] == min(row["rounds"] for row in document["benchmarks"])
    judged = [family, *document["benchmarks"]]
    flagged = [row for row in judged if row["verdict"] == "regression"]
    assert flagged
    assert all(row["ratio_low"] > 1.0 and row["ratio"] > 1.30 for row in flagged)
    assert document["summary"].startswith("regression in ")
    assert all(row["name"] in document["summary"] for row in flagged)


def test_lower_accuracy_is_a_regression_whatever_the_time(trees, tmp_path):
    report = tmp_path / "gate.json"
    done = gate(str(trees["base"]), str(trees["shallow"]), *QUICK, "--json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    (row,) = json.loads(report.read_text())["benchmarks"]
    assert row["verdict"] == "regression"
    assert row["accuracy_drops"]
    assert row["accuracy_drops"][0].startswith("50 trees")


def test_a_missing_tree_is_bad_input(trees, tmp_path):
    done = gate(str(trees["base"]), str(tmp_path / "nowhere"), *QUICK)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"mlcpu: error: candidate tree {str(tmp_path / 'nowhere')!r} does not exist"
    )


def test_a_tree_too_old_for_the_gate_is_refused(trees, tmp_path):
    old = tmp_path / "old"
    (old / "mlcpu").mkdir(parents=True)
    (old / "mlcpu" / "__init__.py").write_text('__version__ = "0.0.1"\n')
    done = gate(str(old), str(trees["same"]), *QUICK)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "base tree" in done.stderr
    assert "too old for the gate" in done.stderr
    assert "create_strategy" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def start_gate(trees: dict[str, Path]) -> subprocess.Popen[str]:
    """A gate that keeps measuring (a 0% limit never passes) until it is stopped."""
    command = [sys.executable, "-m", "mlcpu", "gate", str(trees["base"]), str(trees["same"])]
    command += [*QUICK, "--max-slowdown", "0%", "--budget", "200"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(COLUMNS="200"),
        preexec_fn=as_if_in_the_foreground,
    )


def wait_for_rounds(process: subprocess.Popen[str]) -> list[str]:
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "warm-up done" in line:
            return seen
    raise AssertionError(f"the gate never reached its rounds: {''.join(seen)}")


def test_a_side_killed_mid_run_fails_closed_naming_it(trees):
    process = start_gate(trees)
    try:
        wait_for_rounds(process)
        (candidate,) = [
            p for p in side_processes("mlcpu_gate_side.py") if str(trees["same"]) in p.cmdline()
        ]
        candidate.send_signal(signal.SIGKILL)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 2, out + err
    assert f"candidate side (pid {candidate.pid}) killed by SIGKILL" in err
    assert not wait_until_gone(str(trees["base"]))  # the base side was stopped too


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stopping_the_gate_leaves_no_process_of_either_side(trees, sent, code):
    process = start_gate(trees)
    try:
        wait_for_rounds(process)
        assert len(side_processes("mlcpu_gate_side.py")) >= 2
        process.send_signal(sent)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code, out + err
    assert "Traceback" not in err
    assert not wait_until_gone(str(trees["base"]))
    assert not wait_until_gone(str(trees["same"]))


# A pytest-benchmark suite that knows nothing of mlcpu (the trees hold no mlcpu package): a
# few milliseconds of pure-Python work a run, so a side's run costs little more than pytest's
# start-up. The slowed tree's code does twice the work, as a real change would.
PLAIN_SUITE = """
WORK = {work}


def spin():
    total = 0
    for value in range(WORK):
        total += value * value
    return total


def test_spin(benchmark):
    benchmark.extra_info["accuracy"] = 1.0
    benchmark.pedantic(spin, rounds=15, warmup_rounds=1)
"""


def suite_tree(folder: Path, work: int = 20_000) -> Path:
    (folder / "suite").mkdir(parents=True)
    (folder / "suite" / "test_plain.py").write_text(PLAIN_SUITE.format(work=work))
    return folder


def test_a_pytest_benchmark_suite_is_gated_the_same_way(tmp_path):
    base, slowed = suite_tree(tmp_path / "base"), suite_tree(tmp_path / "slow", work=40_000)
    report = tmp_path / "gate.json"
    done = gate(
        str(base),
        str(slowed),
        "--pytest",
        "suite",
        "--pytest-args",
        "-k spin",
        "--max-slowdown",
        "30%",
        "--max-rounds",
        "12",  # decided at 6 alone; a busy neighbour (the suite's other process) may need more
        "--json",
        str(report),
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    (row,) = json.loads(report.read_text())["benchmarks"]
    assert row["name"] == "test_spin"
    assert row["fullname"] == "suite/test_plain.py::test_spin"
    assert row["verdict"] == "regression"
    assert row["ratio"] > 1.3
    assert row["ratio_low"] > 1
    assert row["base_accuracy"] == row["candidate_accuracy"] == {"accuracy": 1.0}


def test_a_suite_missing_from_a_tree_is_bad_input(tmp_path):
    base = suite_tree(tmp_path / "base")
    done = gate(str(base), str(make_tree(tmp_path / "bare")), "--pytest", "suite")
    assert done.returncode == 2
    assert "candidate tree" in done.stderr
    assert "has no 'suite'" in done.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--pytest-args", "-k x"], "--pytest-args goes with --pytest SUITE"),
        (["--pytest", "suite", "--strategies", "joblib"], "--strategies chooses mlcpu's own"),
        (["--pytest", "../up"], "--pytest takes a path inside both trees"),
        (["--only", "nothing_matches_this"], "--only 'nothing_matches_this' matches no benchmark"),
    ],
)
def test_options_that_do_not_fit_are_refused_before_any_side_starts(trees, options, message):
    done = gate(str(trees["base"]), str(trees["same"]), *options)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "gate: base" not in done.stderr  # no side was started


@pytest.mark.parametrize(("benchmarks", "max_rounds"), [(1, 109), (5, 40), (28, 51), (28, 6)])
def test_looks_are_only_where_a_decision_is_possible(benchmarks, max_rounds):
    from mlcpu.comparing import ratios
    from mlcpu.gate.session import plan_looks

    looks, alpha = plan_looks(0.05, benchmarks, max_rounds)
    assert looks
    assert all(n <= max(max_rounds, ratios.LOOKS[0]) for n in looks)
    # each bound gets its share of the family alpha, the end of the budget counting as a look
    assert alpha == pytest.approx(2 * 0.05 / (benchmarks * (len(looks) + 1)))
    if max_rounds >= 15:  # enough rounds for some look to be decidable
        assert all(n >= ratios.fewest_rounds(alpha) for n in looks)


GATE_CONFIG = """
[tool.mlcpu.compare]
max-slowdown = "30%"
max-accuracy-drop = "0.05"
alpha = 0.2

[tool.mlcpu.gate]
{gate}
"""


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        # the gate's own table first, then the compare table's limits; alpha/budget gate-only
        ('max-slowdown = "5%"\nalpha = 0.01', {"max-slowdown": 0.05, "alpha": 0.01}),
        ("", {"max-slowdown": 0.30}),  # the compare table's alpha is mlcpu compare's, not ours
        ("budget = 90", {"max-slowdown": 0.30, "budget": 90.0}),
    ],
)
def test_settings_come_from_the_gate_table_then_the_compare_table(tmp_path, gate, expected):
    from mlcpu.commands.gate import _from_tables

    config = tmp_path / "pyproject.toml"
    config.write_text(GATE_CONFIG.format(gate=gate), encoding="utf-8")
    found = _from_tables(argparse.Namespace(config=config))
    assert found["max-accuracy-drop"].limit("any") == pytest.approx(0.05)
    for key, value in expected.items():
        got = found[key].limit("any") if key.startswith("max-") else found[key]
        assert got == pytest.approx(value), key
    assert set(found) == {"max-slowdown", "max-accuracy-drop", *expected}


@pytest.mark.parametrize(
    ("compare", "gate", "message"),
    [
        ('max-slowdown = "30%"', "alpha = 2", r"alpha in \[tool.mlcpu.gate\]"),
        ('max-slowdown = "fast"', "", r"max-slowdown in \[tool.mlcpu.compare\]"),
        ('max-slowdown = "fast"', 'max-slowdown = "5%"', None),  # the gate's value wins
        ("", "speed = 1", r"unknown key 'speed' in \[tool.mlcpu.gate\]"),
    ],
)
def test_a_bad_config_value_names_its_table(tmp_path, compare, gate, message):
    from mlcpu.commands.gate import _from_tables
    from mlcpu.errors import InputError

    config = tmp_path / "pyproject.toml"
    text = f"[tool.mlcpu.compare]\n{compare}\n\n[tool.mlcpu.gate]\n{gate}\n"
    config.write_text(text, encoding="utf-8")
    if message is None:
        assert _from_tables(argparse.Namespace(config=config))["max-slowdown"].limit("x") == 0.05
    else:
        with pytest.raises(InputError, match=message):
            _from_tables(argparse.Namespace(config=config))
