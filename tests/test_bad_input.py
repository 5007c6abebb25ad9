"""Bad input, exhaustively: every option of every command, awkward files, random combinations.

Whatever a user types, the command line answers with exit 0 (it worked) or exit 2 and exactly
one line on stderr that starts with ``mlcpu: error:`` — never a traceback. The option table is
read from the real parser, so an option added later is covered without editing this file.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcpu.cli import build_parser, main
from tests.conftest import run_cli

LONG = "x" * 5000
NO_FOLDER = "/no/such/folder/out"
# Bad values for each argument type the parser uses, and for options read as plain strings.
BAD_BY_TYPE: dict[str, list[str]] = {
    "positive_int": ["", " ", "x", "-1", "0", "1.5", "1e999", "nan", "é", LONG],
    "positive_float": ["", "x", "-1", "0", "-0", "nan", "inf", "1e999", "é", LONG],
    "fraction": ["", "x", "-1", "0", "1", "1.5", "nan", "inf", "é"],
    "int_list": ["", " ", "x", "-1", "0", "1.5", "10,,20", "10;20", "é", LONG],
    "max_depth": ["", "x", "-1", "0", "1.5", "nan", "é"],
    "model_param": [
        "",
        "x",
        "=1",
        "1x=2",
        "n_jobs=2",
        "random_state=1",
        "n_estimators=5",
        "min_samples_leaf=",
        "min_samples_leaf=1,,2",
        "min_samples_leaf=1,1",
    ],
    "max_depths": ["", "x", "-1", "0", "1.5", "nan", "é", ",", "3,,4", "3,3", "none,None"],
    "folds": ["", "x", "1", "0", "-2", "1.5", "nan", "é", LONG],
    "seed": ["", "x", "-1", "1.5", "4294967296", "1e999", "é"],
    "strategy_list": ["", " ", "x", "gpu", "sequential,,joblib", "é", LONG],
    "output_file": ["", " ", ".", "/", NO_FOLDER + ".json", LONG + "/r.json"],
    "image_file": ["", ".", "chart", "chart.txt", "chart.", NO_FOLDER + ".png"],
    "chart_target": ["", "r.json", "chart.txt", NO_FOLDER, NO_FOLDER + ".png"],
    "output_folder": ["", " ", NO_FOLDER, LONG + "/out"],
    "_dataset_list": ["", " ", ",", "x", "iris,,", "digits", "é", LONG],
    "_pattern_list": ["", " ", ",", " , "],
    "_pytest_args": ["'", '"-k x', "-k 'x"],
}
BAD_BY_OPTION: dict[str, list[str]] = {  # the same option means the same in every command
    "--dataset": ["", " ", "x", "nope", "é", "missing.csv", "/", LONG],
    "--target": ["", "x", "species", "é"],  # a bundled dataset has no target to choose
    "--model": ["", "x", "svm", "x:y", "os:getcwd", "os:no_such", "é", LONG],
    "--start-method": ["", "x", "FORK", "thread"],
    "--engine": ["", "x", "DASK", "ray"],
    "--scheduler": ["", "x", "é"],
    "--max-slowdown": ["", "x", "-5%", "10", "=5%", "iris=", "nan%", "1e999%", "a=5%,a=6%"],
    "--max-accuracy-drop": ["", "x", "-0.1", "5", "nan", "200%", "=0.1"],
    "--normalize": ["", "x", "joblib", "SEQUENTIAL"],
    "--config": ["", ".", NO_FOLDER + ".toml", "missing.toml", LONG],
    "--pytest": ["", " ", "/abs/suite", "../elsewhere", "no_such_suite"],
}


def bad_values(command: str, action: argparse.Action) -> list[str]:
    option = max(action.option_strings, key=len)
    if option in BAD_BY_OPTION:
        return BAD_BY_OPTION[option]
    type_name = getattr(action.type, "__name__", None)
    assert type_name in BAD_BY_TYPE, f"add bad values for {command} {option} ({type_name})"
    return BAD_BY_TYPE[type_name]


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def option_cases() -> list[tuple[str, str, str]]:
    cases = []
    for name, parser in sorted(commands().items()):
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0 or action.help == argparse.SUPPRESS:
                continue
            option = max(action.option_strings, key=len)
            cases += [(name, option, value) for value in bad_values(name, action)]
    return cases


@pytest.fixture(scope="module")
def results_file(tmp_path_factory):
    """A real results file, for commands that read one (so only the option is wrong)."""
    path = tmp_path_factory.mktemp("results") / "r.json"
    done = run_cli("run", "--strategies", "sequential", "--estimators", "3", "--json", str(path))
    assert done.returncode == 0, done.stderr
    return path


def positionals(command: str, results_file: Path) -> list[str]:
    parser = commands()[command]
    wanted = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    return [str(results_file)] * len(wanted)


def assert_one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mlcpu: error: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("command", "option", "value"), option_cases())
def test_every_option_rejects_bad_values(
    command, option, value, results_file, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # a bad output path must not land in the project
    argv = [command, *positionals(command, results_file), f"{option}={value}"]
    code = main(argv)
    line = assert_one_line_error(code, capsys.readouterr().err)
    assert len(line) < 600  # the value is quoted, not dumped whole


def test_every_command_is_covered():
    covered = {command for command, _, _ in option_cases()}
    assert covered == set(commands())


def csv_file(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def rows(n: int, labels: tuple[str, ...] = ("a", "b")) -> str:
    return "".join(f"{i},{i % 7},{labels[i % len(labels)]}\n" for i in range(n))


CSV_CASES = {
    "empty": ("", r"is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00", r"not a text CSV file"),
    "latin-1": ("x,y,z\n1,2,caf\xe9\n".encode("latin-1"), r"not UTF-8 text"),
    "huge line": ("x,y,z\n1,2," + "a" * 2_000_000 + "\n", r"longer than 1000000 characters"),
    "one class": ("x,y,z\n" + rows(30, ("only",)), r"single class \('only'\)"),
    "tiny class": ("x,y,z\n" + rows(30) + "5,5,rare\n", r"class 'rare' .* only 1 row"),
    "text feature": ("x,größe,z\n1,groß,a\n2,klein,b\n", r"column 'größe' is not numeric"),
    "missing value": ("x,y,z\n1,,a\n", r"column 'y' has a missing value on line 2"),
    "ragged": ("x,y,z\n1,2,a\n3\n", r"line 3 .* has 1 fields but the header has 3"),
    "header only": ("x,y,z\n", r"no data rows"),
    "duplicate names": ("x,x,z\n1,2,a\n", r"column name 'x' appears twice"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_unusable_csv_files(case, tmp_path):
    content, message = CSV_CASES[case]
    done = run_cli("run", "--dataset", csv_file(tmp_path, content), "--strategies", "sequential")
    line = assert_one_line_error(done.returncode, done.stderr)
    assert re.search(message, line), line


def test_csv_paths_that_are_not_files(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "gone.csv")
    for path, message in ((folder, r"is a directory"), (dangling, r"does not exist")):
        done = run_cli("run", "--dataset", str(path), "--strategies", "sequential")
        assert re.search(message, assert_one_line_error(done.returncode, done.stderr))


def test_unicode_column_names_work_and_name_the_target(tmp_path, capsys):
    path = csv_file(tmp_path, "größe,température,классы\n" + rows(40, ("α", "β")))
    argv = ["run", "--dataset", path, "--strategies", "sequential", "--estimators", "3"]
    assert main([*argv, "--target", "классы", "--json", str(tmp_path / "r.json")]) == 0
    workload = json.loads((tmp_path / "r.json").read_text())["workload"]
    assert workload["target"] == "классы"
    capsys.readouterr()
    assert main([*argv, "--target", "цель"]) == 2
    assert "target column 'цель' is not in" in capsys.readouterr().err


# -- random combinations ------------------------------------------------------------------------
FAST_STRATEGIES = ["sequential", "threads", "sklearn", "multiprocessing"]
TOKENS = {
    "--dataset": st.sampled_from(["iris", "wine", "synthetic", "nope", "missing.csv", ""]),
    "--n-samples": st.sampled_from(["40", "200", "0", "-3", "x", "1e3"]),
    "--n-features": st.sampled_from(["2", "5", "1", "0", "many"]),
    "--estimators": st.sampled_from(["2", "3,5", "5,3", "0", "2,2", "", "a,b", "3,"]),
    "--strategies": st.lists(st.sampled_from([*FAST_STRATEGIES, "gpu", ""]), max_size=3).map(
        ",".join
    ),
    "--workers": st.sampled_from(["1", "2", "0", "-1", "two"]),
    "--repeat": st.sampled_from(["1", "2", "0", "x"]),
    "--seed": st.sampled_from(["0", "7", "-1", "4294967296", "s"]),
    "--test-size": st.sampled_from(["0.2", "0.5", "0", "1", "x"]),
    "--max-depth": st.sampled_from(["2", "none", "0", "x"]),
    "--param": st.sampled_from(["min_samples_leaf=2", "bogus=1", "x", "n_jobs=2", "criterion=x"]),
    "--model": st.sampled_from(["random_forest", "extra_trees", "svm", "os:getcwd", "x:y"]),
    "--task-timeout": st.sampled_from(["30", "0", "-1", "inf", "x"]),
    "--start-method": st.sampled_from(["fork", "spawn", "x"]),
    "--target": st.sampled_from(["y", "target"]),
}
FLAGS = ["--quiet", "--keep-going"]


@st.composite
def run_arguments(draw: st.DrawFn) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(TOKENS)), unique=True, max_size=6))
    argv = ["run"]
    for option in chosen:
        argv += [option, draw(TOKENS[option])]
    argv += draw(st.lists(st.sampled_from(FLAGS), unique=True))
    if "--strategies" not in chosen:
        argv += ["--strategies", "sequential"]  # keep valid runs quick
    return argv


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=run_arguments())
def test_random_option_combinations_exit_0_or_2_without_traceback(argv, capsys):
    code = main([*argv, "--estimators", "2,3"] if "--estimators" not in argv else argv)
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in err
    if code == 2:
        assert_one_line_error(code, err)
