"""``mlcpu compare BASELINE CURRENT``: the regression gate (exit 1 on a regression, 2 on bad input).

The rules are in ``mlcpu.comparing.compare``; this module reads options and
``[tool.mlcpu.compare]`` from pyproject.toml, and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from mlcpu.commands import _args
from mlcpu.commands.run import console_for
from mlcpu.comparing import benchfiles
from mlcpu.comparing import compare as gate
from mlcpu.comparing.thresholds import (
    CONFIG_TABLE,
    config_text,
    load_config,
    parse_accuracy,
    parse_percent,
    rules_argument,
)
from mlcpu.comparing.thresholds import parse_rules as _parse_rules
from mlcpu.errors import InputError

HELP = "gate: fail when CURRENT is slower (significantly) or less accurate than BASELINE"
CONFIG_KEYS = ("max-slowdown", "max-accuracy-drop", "alpha", "normalize")
EXIT_REGRESSION = 1


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "compare",
        help=HELP,
        description=HELP + ". Reads two pytest-benchmark JSON files or two `mlcpu run --json` "
        "files. Exit codes: 0 no regression, 1 regression, 2 files or options unusable.",
    )
    parser.add_argument("baseline", metavar="BASELINE", help="the reference JSON file")
    parser.add_argument("current", metavar="CURRENT", help="the JSON file to judge")
    parser.add_argument(
        "--max-slowdown",
        type=rules_argument(parse_percent, gate.DEFAULT_MAX_SLOWDOWN),
        metavar="RULES",
        help="allowed slowdown of the median, e.g. 10%% or per benchmark 'iris=20%%,*=10%%' "
        "(default: 10%%)",
    )
    parser.add_argument(
        "--max-accuracy-drop",
        type=rules_argument(parse_accuracy, gate.DEFAULT_MAX_ACCURACY_DROP),
        metavar="RULES",
        help="allowed absolute accuracy drop, e.g. 0.01 or 1%% or 'synthetic=0.01,*=0' "
        "(default: 0)",
    )
    parser.add_argument(
        "--alpha",
        type=_args.fraction,
        metavar="P",
        help=f"significance level of the one-sided test (default: {gate.DEFAULT_ALPHA})",
    )
    parser.add_argument(
        "--normalize",
        choices=gate.NORMALIZE_CHOICES,
        help="sequential: compare each strategy's time relative to the sequential time of "
        "the same file, so the gate survives a change of CPU model (default: none)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="pass when a baseline benchmark is absent from CURRENT (default: fail)",
    )
    parser.add_argument(
        "--ignore-machine",
        action="store_true",
        help="compare even when Python, core count or CPU differ (default: exit 2)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PYPROJECT",
        help=f"read [{CONFIG_TABLE}] from this file (default: ./pyproject.toml if present)",
    )
    parser.set_defaults(handler=execute)


def settings_from(args: argparse.Namespace) -> gate.Settings:
    """Options given on the command line win over the config file, which wins over defaults."""
    path = args.config
    if path is None and Path("pyproject.toml").is_file():
        path = Path("pyproject.toml")
    config = load_config(path)
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise InputError(
            f"unknown key {unknown[0]!r} in [{CONFIG_TABLE}] of {str(path)!r}; "
            f"allowed: {', '.join(CONFIG_KEYS)}"
        )

    def from_config(key: str, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(config[key])
        except (ValueError, TypeError) as exc:
            raise InputError(f"{key} in [{CONFIG_TABLE}] of {str(path)!r}: {exc}") from None

    settings: dict[str, Any] = {}
    parsers: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "max_slowdown": (
            "max-slowdown",
            lambda v: _parse_rules(config_text(v), parse_percent, gate.DEFAULT_MAX_SLOWDOWN),
        ),
        "max_accuracy_drop": (
            "max-accuracy-drop",
            lambda v: _parse_rules(config_text(v), parse_accuracy, gate.DEFAULT_MAX_ACCURACY_DROP),
        ),
        "alpha": ("alpha", _alpha),
        "normalize": ("normalize", _normalize),
    }
    for attribute, (key, parse) in parsers.items():
        given = getattr(args, attribute)
        if given is not None:
            settings[attribute] = given
        elif key in config:
            settings[attribute] = from_config(key, parse)
    return gate.Settings(
        allow_missing=args.allow_missing, ignore_machine=args.ignore_machine, **settings
    )


def _alpha(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"expected a number between 0 and 1, got {value!r}")
    return float(value)


def _normalize(value: Any) -> str:
    if value not in gate.NORMALIZE_CHOICES:
        raise ValueError(f"expected one of {', '.join(gate.NORMALIZE_CHOICES)}, got {value!r}")
    return str(value)


def execute(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    baseline = benchfiles.read(args.baseline)
    current = benchfiles.read(args.current)
    report = gate.compare(baseline, current, settings)
    console = console_for(sys.stdout)
    for line in header_lines(report):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(table(report))
    failures = gate.failure_lines(report)
    for line in failures:
        console.print(f"REGRESSION: {line}", markup=False, highlight=False, soft_wrap=True)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in gate.summary_counts(report.rows).items())
    outcome = "FAIL" if failures else "PASS"
    console.print(
        f"mlcpu compare: {outcome}: {len(report.rows)} benchmarks ({counts})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_REGRESSION if failures else 0


def header_lines(report: gate.Report) -> list[str]:
    settings = report.settings
    lines = [
        f"{role}: {f.path} ({f.kind}{', ' + f.created if f.created else ''}"
        f"{', commit ' + f.commit if f.commit else ''})"
        for role, f in (("baseline", report.baseline), ("current", report.current))
    ]
    unit = "relative to sequential in the same file" if settings.normalize != "none" else "median"
    lines.append(
        f"fails when: slower ({unit}) by more than "
        f"{settings.max_slowdown.describe(lambda v: f'{v:.0%}')} and one-sided "
        f"p < {settings.alpha:g}; or accuracy lower by more than "
        f"{settings.max_accuracy_drop.describe(lambda v: f'{v:g}')}"
    )
    lines.extend(f"note: {note}" for note in report.notes)
    return lines


def table(report: gate.Report) -> Table:
    normalized = report.settings.normalize != "none"
    unit = "time / sequential time of the same file" if normalized else "median time"
    result = Table(title=f"before -> after ({unit})", title_justify="left")
    result.add_column("benchmark", no_wrap=True)
    result.add_column("before", justify="right", no_wrap=True)
    result.add_column("after", justify="right", no_wrap=True)
    result.add_column("change", justify="right", no_wrap=True)
    result.add_column("p", justify="right", no_wrap=True)
    result.add_column("accuracy", justify="right", no_wrap=True)
    result.add_column("result")
    previous: str | None = None
    for row in sorted(report.rows, key=lambda r: gate.natural_key(r.group)):
        if row.group != previous and result.row_count:
            result.add_section()
        previous = row.group
        ratio = normalized and gate.UNNORMALIZED not in row.verdicts
        result.add_row(
            Text(row.name),  # not markup: "[joblib-100-iris]" would read as a style tag
            _time(row.before, ratio),
            _time(row.after, ratio),
            "" if row.change is None else f"{row.change:+.1%}",
            "" if row.p_value is None else f"{row.p_value:.3g}",
            _accuracy(row.before, row.after),
            row.verdict,
            style="bold red" if row.failed else None,
        )
    return result


def _time(measurement: benchfiles.Measurement | None, ratio: bool) -> str:
    if measurement is None:
        return "-"
    seconds = measurement.median
    if ratio:
        return f"{seconds:.3f}"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def _accuracy(before: benchfiles.Measurement | None, after: benchfiles.Measurement | None) -> str:
    def show(m: benchfiles.Measurement | None) -> str:
        return "-" if m is None or m.accuracy is None else f"{m.accuracy:.4f}"

    return f"{show(before)} -> {show(after)}"
