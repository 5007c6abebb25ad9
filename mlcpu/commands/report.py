"""``mlcpu report``: draw charts and an HTML page from a saved run or sweep result file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlcpu.commands import _args
from mlcpu.errors import InputError

HELP = "draw charts (speedup, timeline, accuracy, sweep scaling) and an HTML report from results"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help=HELP,
        description=f"{HELP}. Needs the plot extra: pip install 'mlcpu[plot]'.",
    )
    parser.add_argument(
        "results", metavar="RESULTS.json", help="a file written by mlcpu run --json or mlcpu sweep"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=chart_target,
        metavar="DIR|FILE.png",
        help="a folder: one PNG per chart; a .png/.svg/.pdf file: every chart in one picture",
    )
    parser.add_argument(
        "--html",
        type=_args.output_file,
        metavar="REPORT.html",
        help="one self-contained HTML page: summary, charts, machine and workload",
    )
    parser.set_defaults(handler=execute)


def chart_target(text: str) -> Path:
    """A chart file (its folder must exist) or a folder (its parent must exist)."""
    from mlcpu.reporting.charts import FORMATS

    path = Path(text)
    if path.suffix.lower().lstrip(".") in FORMATS:
        return _args.image_file(text)
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder or an image file, got ''")
    if problem := _args.unusable_path(text):
        raise argparse.ArgumentTypeError(problem)
    allowed = ", ".join("." + f for f in FORMATS)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is an existing file; give a folder, or a file name ending in {allowed}"
        )
    if path.suffix and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot draw into {text!r}: image files must end in {allowed}, and a new folder's "
            "name must have no suffix"
        )
    if not path.exists() and not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"folder {str(path.parent)!r} does not exist (for {text!r})"
        )
    return path


def execute(args: argparse.Namespace) -> int:
    if args.output is None and args.html is None:
        raise InputError("mlcpu report: say what to write: -o DIR|FILE.png and/or --html FILE")
    from mlcpu.reporting import _mpl, charts, html, sources

    _mpl.require()  # before reading anything: the missing extra is the first thing to fix
    source = sources.load(args.results)
    written: list[Path] = []
    if args.output is not None:
        written += charts.write(source, args.output)
    if args.html is not None:
        written.append(html.write(source, args.html))
    for path in written:
        print(f"wrote {path}", file=sys.stdout)
    return 0
