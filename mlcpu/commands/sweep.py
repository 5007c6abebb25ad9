"""``mlcpu sweep``: the same workload at growing sizes -- how time grows with the work, and from
which size on parallel training pays off (the crossover).

One parameter grows per sweep: ``--n-samples 1000,10000,50000`` (rows of the synthetic dataset),
or the forest sizes, by giving ``--estimators`` more than once (``--estimators 10,50
--estimators 10,50,100,200``: each list is one point). Every point is a complete ``mlcpu run``
(pools started afresh, ceiling measured for that size), kept whole in the JSON.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from rich.table import Table

from mlcpu.commands import _args, run
from mlcpu.data.datasets import SYNTHETIC
from mlcpu.errors import InputError, TaskError
from mlcpu.records import atomic, sweeps
from mlcpu.records.config import DEFAULT_ESTIMATORS
from mlcpu.records.results import BASELINE
from mlcpu.records.sweeps import crossover  # noqa: F401 - re-exported: callers import it from here

DEFAULT_STRATEGIES = ("sequential", "joblib", "multiprocessing", "balanced")
DEFAULT_N_SAMPLES = (1000, 10000, 50000)
HELP = "run the workload at growing sizes; report how time grows and where parallel pays off"


def add_parser(commands: Any) -> None:
    # Every option of `mlcpu run` (including ones added later), then the sweep's own two.
    scratch = argparse.ArgumentParser(add_help=False).add_subparsers()
    run.add_parser(scratch)
    parser = commands.add_parser(
        "sweep",
        parents=[scratch.choices["run"]],
        conflict_handler="resolve",
        help=HELP,
        description=HELP + ". Every option of `mlcpu run` applies to each point.",
    )
    sweep = parser.add_argument_group("sweep (one parameter grows)")
    sweep.add_argument(
        "--n-samples",
        type=_args.int_list,
        metavar="N,N,...",
        help="rows of the synthetic dataset, one point each "
        f"(default: {','.join(map(str, DEFAULT_N_SAMPLES))} when --estimators is not repeated)",
    )
    sweep.add_argument(
        "--estimators",
        type=_args.int_list,
        action="append",
        metavar="N,N,...",
        help="forest sizes; give it more than once to sweep growing lists, one point each "
        "(default: 10,50,100,200)",
    )
    parser.set_defaults(handler=execute, dataset=SYNTHETIC, strategies=DEFAULT_STRATEGIES)
    for action in parser._actions:  # the help texts inherited from `run` name run's defaults
        if action.dest == "dataset":
            action.help = "as for run (default here: synthetic)"
        elif action.dest == "strategies":
            action.help = (
                f"as for run (default here: {','.join(DEFAULT_STRATEGIES)}); sequential is "
                "always added, as the baseline"
            )


def axis(args: argparse.Namespace) -> tuple[str, list[Any]]:
    """Which parameter grows, and its values in sweep order."""
    estimators = args.estimators or [DEFAULT_ESTIMATORS]
    n_samples = args.n_samples
    if len(estimators) > 1 and n_samples is not None and len(n_samples) > 1:
        raise InputError(
            "sweep one parameter at a time: several --n-samples values and several "
            "--estimators lists were given"
        )
    if len(estimators) > 1:
        return "estimators", [list(e) for e in estimators]
    if args.dataset != SYNTHETIC:
        raise InputError(
            f"--n-samples sweeps the synthetic dataset only (got --dataset {args.dataset!r}); "
            "to sweep another dataset, give --estimators more than once"
        )
    values = sorted(n_samples or DEFAULT_N_SAMPLES)
    if len(values) < 2:
        raise InputError(
            f"nothing to sweep: --n-samples {values[0]} is one size; give several "
            "(e.g. 1000,10000,50000) or give --estimators more than once"
        )
    return "n_samples", values


def point_args(args: argparse.Namespace, parameter: str, value: Any) -> argparse.Namespace:
    """The `mlcpu run` arguments of one point."""
    fixed = dict(vars(args))
    fixed["estimators"] = tuple((args.estimators or [DEFAULT_ESTIMATORS])[0])
    fixed["n_samples"] = (args.n_samples or [None])[0]
    if parameter == "estimators":
        fixed["estimators"] = tuple(value)
    else:
        fixed["n_samples"] = value
    return argparse.Namespace(**fixed)


def work(parameter: str, value: Any) -> float:
    """A number that grows with the work of a point: rows, or trees in total."""
    return float(sum(value) if parameter == "estimators" else value)


def growth_exponent(parameter: str, points: list[dict[str, Any]], name: str) -> float | None:
    """k in time ~ work^k, from the first and last points where ``name`` finished."""
    timed = [
        (work(parameter, p["value"]), r["elapsed_s"])
        for p in points
        for r in p["run"]["strategies"]
        if r["name"] == name and r.get("elapsed_s")
    ]
    if len(timed) < 2 or timed[0][0] == timed[-1][0]:
        return None
    (w0, t0), (w1, t1) = timed[0], timed[-1]
    return math.log(t1 / t0) / math.log(w1 / w0)


def sweep_table(document: dict[str, Any]) -> Table:
    parameter, points = document["parameter"], document["points"]
    table = Table(title=f"Sweep over {parameter}: elapsed s (speedup vs sequential)")
    table.add_column("strategy")
    for point in points:
        value = point["value"]
        table.add_column(
            ",".join(map(str, value)) if isinstance(value, list) else str(value), justify="right"
        )
    table.add_column("time ~ work^k", justify="right")
    table.add_column("pays off from", justify="right")
    names = [r["name"] for r in points[0]["run"]["strategies"]] if points else []
    for name in names:
        cells = []
        for point in points:
            record = next((r for r in point["run"]["strategies"] if r["name"] == name), None)
            if record is None or record.get("elapsed_s") is None:
                cells.append("-")
                continue
            speedup = record.get("speedup")
            cells.append(f"{record['elapsed_s']:.3f}" + (f" ({speedup:.2f}x)" if speedup else ""))
        k = growth_exponent(parameter, points, name)
        cross = document["crossover"].get(name, "-") if name != BASELINE else ""
        table.add_row(
            name,
            *cells,
            "-" if k is None else f"{k:.2f}",
            "never" if cross is None else str(cross),
        )
    return table


def execute(args: argparse.Namespace) -> int:
    from mlcpu.host.machine import machine_info
    from mlcpu.reporting.console import ConsoleReporter, print_summary

    parameter, values = axis(args)
    strategies = list(args.strategies)
    if BASELINE not in strategies:
        strategies.insert(0, BASELINE)  # speedups and the crossover need the baseline
    console = run.console_for(sys.stdout)
    document = sweeps.new_document(machine_info(), parameter, values)
    failed = False
    for value in values:
        workload = run.build_workload(point_args(args, parameter, value))
        runner = run.new_runner(workload, strategies, args)
        runner.results.extra["command"] = ["mlcpu", *args.argv]
        if not args.quiet:
            console.print(f"\n[bold]{parameter} = {value}[/]", highlight=False)
        try:
            with ConsoleReporter(console, quiet=True) as reporter:
                runner.listener = reporter
                results = runner.run()
        except (TaskError, KeyboardInterrupt) as exc:
            sweeps.add_point(document, value, runner.results)
            document["status"] = "failed" if isinstance(exc, TaskError) else "interrupted"
            _write(args, document)
            raise
        if not args.quiet:
            print_summary(console, results)
        sweeps.add_point(document, value, results)
        failed = failed or results.status != "ok"
    document["status"] = "failed" if failed else "ok"
    console.print()
    console.print(sweep_table(document))
    for name, value in document["crossover"].items():
        where = "never, in this sweep" if value is None else f"from {parameter} = {value}"
        console.print(f"{name} beats sequential {where}", highlight=False)
    if _write(args, document):
        console.print(f"Sweep written to {args.json}", highlight=False)
    if failed:
        print("mlcpu: error: a task failed in at least one point of the sweep", file=sys.stderr)
        return 1
    return 0


def _write(args: argparse.Namespace, document: dict[str, Any]) -> bool:
    if args.json is None:
        return False
    atomic.write_json(args.json, document)
    return True
