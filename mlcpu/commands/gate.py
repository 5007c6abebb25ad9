"""``mlcpu gate BASE CANDIDATE``: measure two trees interleaved in one job and judge paired ratios.

Exit codes: 0 no regression, 1 regression (time or accuracy), 2 bad input or an unusable setup
(a missing tree, a side that fails to import or crashes, workloads that differ), 3 inconclusive
within the budget. Settings: options, else ``[tool.mlcpu.gate]``, else (for the limits)
``[tool.mlcpu.compare]`` of ./pyproject.toml, else the defaults below.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcpu.commands import _args
from mlcpu.comparing.thresholds import (
    Rules,
    config_text,
    load_config,
    parse_accuracy,
    parse_percent,
    parse_rules,
    rules_argument,
)
from mlcpu.errors import InputError

HELP = "measure BASE and CANDIDATE trees interleaved; fail on a significant slowdown"
# Chosen from measurements on a shared 2-core machine with a noisy neighbour (README,
# "Gating regressions in CI"): identical trees' family estimates stayed within it, and a
# genuine 5% slowdown clears it often enough to be caught.
DEFAULT_MAX_SLOWDOWN = 0.03
DEFAULT_MAX_ACCURACY_DROP = 0.0
DEFAULT_ALPHA = 0.05
DEFAULT_BUDGET_S = 600.0
GATE_TABLE = "tool.mlcpu.gate"
COMPARE_TABLE = "tool.mlcpu.compare"
GATE_KEYS = ("max-slowdown", "max-accuracy-drop", "alpha", "budget")
EXIT_REGRESSION, EXIT_INCONCLUSIVE = 1, 3


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "gate",
        help=HELP,
        description=HELP + ". BASE and CANDIDATE are project trees (a `git worktree` of the "
        "base commit and the pull request's checkout). Exit codes: 0 no regression, "
        "1 regression, 2 bad input or unusable setup, 3 inconclusive within the budget.",
    )
    parser.add_argument("base", metavar="BASE", help="the reference tree")
    parser.add_argument("candidate", metavar="CANDIDATE", help="the tree to judge")
    parser.add_argument(
        "--strategies",
        type=_args.strategy_list,
        metavar="LIST",
        help="strategies to measure (default: sequential,joblib,multiprocessing,threads,sklearn)",
    )
    parser.add_argument(
        "--datasets",
        type=_dataset_list,
        metavar="LIST",
        help="datasets of the run and per-task families (default: iris,synthetic)",
    )
    parser.add_argument(
        "--only",
        type=_pattern_list,
        metavar="PATTERNS",
        help="only benchmarks matching one of these (run, train, startup, iris, "
        "'test_run[*-iris]', ...; comma-separated)",
    )
    parser.add_argument(
        "--model",
        type=_model,
        metavar="MODULE:FACTORY",
        help="your own model for the run and per-task families, imported by each side from "
        "its own tree (default: random_forest)",
    )
    parser.add_argument(
        "--pytest",
        metavar="SUITE",
        help="gate a pytest-benchmark suite instead (a path inside each tree, e.g. benchmarks): "
        "whole suite runs interleaved AB, BA, judged per benchmark",
    )
    parser.add_argument(
        "--pytest-args",
        type=_pytest_args,
        metavar="ARGS",
        help='more pytest arguments for --pytest, as one string (e.g. "-k iris")',
    )
    parser.add_argument(
        "--budget",
        type=_args.positive_float,
        metavar="SECONDS",
        help=f"stop adding rounds after this long (default: {DEFAULT_BUDGET_S:.0f})",
    )
    parser.add_argument(
        "--max-slowdown",
        type=rules_argument(parse_percent, DEFAULT_MAX_SLOWDOWN),
        metavar="RULES",
        help="the slowdown that counts, e.g. 5%% or 'startup=10%%,*=5%%' "
        f"(default: {DEFAULT_MAX_SLOWDOWN:.0%}%)",  # the percent sign doubled for argparse
    )
    parser.add_argument(
        "--max-accuracy-drop",
        type=rules_argument(parse_accuracy, DEFAULT_MAX_ACCURACY_DROP),
        metavar="RULES",
        help="allowed absolute accuracy drop, e.g. 0.01 (default: 0)",
    )
    parser.add_argument(
        "--alpha",
        type=_args.fraction,
        metavar="P",
        help="1 - confidence of all intervals together (default: 0.05)",
    )
    parser.add_argument(
        "--max-rounds",
        type=_args.positive_int,
        metavar="N",
        help="most paired rounds per benchmark (default: 109)",
    )
    parser.add_argument("--seed", type=_args.seed, help="seed of the round order (default: 0)")
    parser.add_argument("--json", type=_args.output_file, metavar="PATH", help="write mlcpu.gate/1")
    parser.add_argument(
        "--save-timings",
        type=_args.output_folder,
        metavar="FOLDER",
        help="write FOLDER/base.json and FOLDER/candidate.json (pytest-benchmark format)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PYPROJECT",
        help=f"read [{GATE_TABLE}] and [{COMPARE_TABLE}] from this file "
        "(default: ./pyproject.toml if present)",
    )
    parser.set_defaults(handler=execute)


def _model(text: str) -> str:
    """A built-in model or ``module:factory``; each side imports it from its own tree."""
    from mlcpu.records.models import BUILTIN_MODELS

    module, sep, attr = text.partition(":")
    if text in BUILTIN_MODELS or (sep and module.strip() and attr.strip() and " " not in text):
        return text
    raise argparse.ArgumentTypeError(
        f"unknown model {text!r}; choose one of {', '.join(BUILTIN_MODELS)} or give an import "
        "path such as 'my_package.my_module:make_classifier'"
    )


def _dataset_list(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    allowed = ("iris", "synthetic")
    bad = [n for n in names if n not in allowed]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(allowed)}, got {text!r}"
        )
    return names


def _pytest_args(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cannot split {text!r} as shell words: {exc}") from None


def _pattern_list(text: str) -> tuple[str, ...]:
    patterns = tuple(part.strip() for part in text.split(",") if part.strip())
    if not patterns:
        raise argparse.ArgumentTypeError(f"expected comma-separated patterns, got {text!r}")
    return patterns


def _from_tables(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line left out, from [tool.mlcpu.gate] then [tool.mlcpu.compare]."""
    path = args.config
    if path is None and Path("pyproject.toml").is_file():
        path = Path("pyproject.toml")
    gate_table = load_config(path, GATE_TABLE)
    unknown = sorted(set(gate_table) - set(GATE_KEYS))
    if unknown:
        raise InputError(
            f"unknown key {unknown[0]!r} in [{GATE_TABLE}] of {str(path)!r}; "
            f"allowed: {', '.join(GATE_KEYS)}"
        )
    compare_table = load_config(path, COMPARE_TABLE)
    parsers: dict[str, Callable[[Any], Any]] = {
        "max-slowdown": lambda v: parse_rules(config_text(v), parse_percent, DEFAULT_MAX_SLOWDOWN),
        "max-accuracy-drop": lambda v: parse_rules(
            config_text(v), parse_accuracy, DEFAULT_MAX_ACCURACY_DROP
        ),
        "alpha": lambda v: _number(v, 0, 1),
        "budget": lambda v: _number(v, 0, None),
    }
    settings: dict[str, Any] = {}
    for key, parse in parsers.items():
        # a limit missing from [tool.mlcpu.gate] is read from [tool.mlcpu.compare]
        fallback = key.startswith("max-") and key not in gate_table
        table, name = (compare_table, COMPARE_TABLE) if fallback else (gate_table, GATE_TABLE)
        if key in table:
            try:
                settings[key] = parse(table[key])
            except (ValueError, TypeError) as exc:
                raise InputError(f"{key} in [{name}] of {str(path)!r}: {exc}") from None
    return settings


def _number(value: Any, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > low:
        raise ValueError(f"expected a number above {low:g}, got {value!r}")
    if high is not None and not value < high:
        raise ValueError(f"expected a number below {high:g}, got {value!r}")
    return float(value)


def execute(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mlcpu.gate import catalogue, output
    from mlcpu.gate.session import Gate, Settings
    from mlcpu.gate.sides import SideFailed, check_tree

    suite = args.pytest
    if suite is None and args.pytest_args is not None:
        raise InputError("--pytest-args goes with --pytest SUITE")
    if suite is not None:
        given = [o for o in ("strategies", "datasets", "model") if getattr(args, o) is not None]
        if given:
            raise InputError(
                f"--{given[0]} chooses mlcpu's own workloads; with --pytest the suite decides "
                "what runs (pass -k and the like in --pytest-args)"
            )
        if not suite.strip() or Path(suite).is_absolute() or ".." in Path(suite).parts:
            raise InputError(
                f"--pytest takes a path inside both trees, like benchmarks, got {suite!r}"
            )
    trees = {
        label: check_tree(label, tree, package=suite is None)
        for label, tree in (("base", args.base), ("candidate", args.candidate))
    }
    tables = _from_tables(args)

    def pick(option: Any, key: str, default: Any) -> Any:
        return option if option is not None else tables.get(key, default)

    settings = Settings(
        max_slowdown=pick(args.max_slowdown, "max-slowdown", Rules((), DEFAULT_MAX_SLOWDOWN)),
        max_accuracy_drop=pick(
            args.max_accuracy_drop, "max-accuracy-drop", Rules((), DEFAULT_MAX_ACCURACY_DROP)
        ),
        alpha=pick(args.alpha, "alpha", DEFAULT_ALPHA),
        budget_s=pick(args.budget, "budget", DEFAULT_BUDGET_S),
        max_rounds=args.max_rounds or Settings.max_rounds,
        seed=args.seed if args.seed is not None else 0,
    )
    err = Console(file=sys.stderr, highlight=False)

    def progress(line: str) -> None:
        err.print(f"gate: {line}", soft_wrap=True, markup=False)

    if suite is not None:
        from mlcpu.gate.suite import SuiteGate

        gate: Gate = SuiteGate(
            trees,
            suite,
            args.pytest_args or [],
            only=args.only or (),
            settings=settings,
            progress=progress,
        )
    else:
        benchmarks = catalogue.select(
            catalogue.catalogue(
                strategies=args.strategies or catalogue.STRATEGIES,
                datasets=args.datasets or catalogue.DATASETS,
                model=args.model or "random_forest",
            ),
            args.only or (),
        )
        gate = Gate(trees, benchmarks, settings, progress=progress)
    try:
        outcome = gate.run()
    except SideFailed as exc:
        raise InputError(f"gate stopped, nothing judged: {exc}") from None
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)
    console.print(output.table(outcome))
    verdicts = {"pass": 0, "regression": EXIT_REGRESSION, "inconclusive": EXIT_INCONCLUSIVE}
    code = verdicts[outcome.verdict]
    for line in (output.summary(outcome), output.detectable_line(outcome)):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if args.json is not None:
        output.write_json(args.json, outcome, trees, code)
    if args.save_timings is not None:
        output.write_timings(args.save_timings, outcome, trees)
    verdict = {0: "PASS", 1: "FAIL", 3: "INCONCLUSIVE"}[code]
    console.print(f"mlcpu gate: {verdict}", markup=False, highlight=False)
    return code
