"""``mlcpu plan``: each plan's predicted time on W workers, from costs measured here (no run)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.table import Table

from mlcpu.commands import _args
from mlcpu.commands.run import add_workload_arguments, build_workload, console_for, dask_scheduler
from mlcpu.engines.dask_address import SCHEDULER_ENV
from mlcpu.errors import InputError
from mlcpu.records import atomic

HELP = "predict each plan's time on W workers from costs measured here, without running it"
DEFAULT_WORKERS = (1, 2, 8, 32, 128)
ENGINES = ("pool", "dask")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "plan",
        help=HELP,
        description=f"{HELP}. Measures the fixed cost of a fit and of a unit on a warm fork "
        "pool (or on Dask: --engine dask), and one tree of each model's largest forest; "
        "simulates whole configurations, pieces of trees and prefixes on each number of "
        "workers.",
    )
    add_workload_arguments(parser)
    parser.add_argument(
        "--workers",
        type=_args.int_list,
        default=DEFAULT_WORKERS,
        metavar="W,W,...",
        help=f"worker counts to predict for (default: {','.join(map(str, DEFAULT_WORKERS))})",
    )
    parser.add_argument(
        "--cores",
        type=_args.positive_int,
        metavar="N",
        help="cores the workers share (default: one per worker); 4 workers on 2 cores: --cores 2",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="pool",
        help="where the unit cost is measured: a warm fork pool (default), or Dask (an "
        "embedded LocalCluster of --probe-workers workers, or --scheduler), whose units cost a "
        "scheduler round trip and send their trees back over a socket",
    )
    parser.add_argument(
        "--probe-workers",
        type=_args.positive_int,
        metavar="N",
        help="--engine dask: workers of the embedded cluster that measures the unit cost "
        "(default: one per core; the cores they share slow every round trip)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help=f"--engine dask: measure on this running Dask scheduler (default: ${SCHEDULER_ENV}, "
        "else an embedded cluster)",
    )
    parser.add_argument(
        "--json", type=_args.output_file, metavar="PATH", help="write the table as JSON"
    )
    parser.set_defaults(handler=execute)


def execute(args: argparse.Namespace) -> int:
    from mlcpu import strategies as registry
    from mlcpu.plans.makespan import PLANS, makespans

    workload = build_workload(args)
    if args.engine == "pool":
        if args.scheduler is not None or args.probe_workers is not None:
            raise InputError("--scheduler and --probe-workers apply to --engine dask only")
        probe_name, options = "balanced", {"workers": 1}
    else:
        scheduler = dask_scheduler(args.scheduler)
        if scheduler is not None and args.probe_workers is not None:
            raise InputError(
                f"--probe-workers sizes an embedded cluster; the cluster at {scheduler} has "
                "the workers it has"
            )
        probe_name = "balanced@dask"
        options = {"workers": args.probe_workers, "scheduler": args.scheduler}
    # balanced's start-up measures the fixed costs of a fit and of a unit on its engine
    with registry.create(probe_name, **options) as probe:
        planner = probe.planner  # type: ignore[attr-defined]
        costs = planner.costs_for(workload)
    rows = [
        {
            "workers": w,
            "predicted_s": makespans(
                workload.configs,
                w,
                costs,
                fit_overhead_s=planner.fit_overhead_s or 0.0,
                cores=args.cores,
            ),
        }
        for w in args.workers
    ]
    table = Table(title="Predicted seconds (speedup vs sequential), from costs measured here")
    table.add_column("workers", justify="right")
    for name in PLANS:
        table.add_column(name, justify="right")
    for row in rows:
        times = row["predicted_s"]
        table.add_row(
            str(row["workers"]),
            *(f"{times[n]:.3g} ({times['sequential'] / times[n]:.2f}x)" for n in PLANS),
        )
    console = console_for(sys.stdout)
    console.print(table)
    console.print(
        f"costs: {costs.per_tree_s * 1e3:.3g} ms per tree, {costs.per_piece_s * 1e3:.3g} ms "
        f"per unit, {costs.score_per_tree_s * 1e3:.3g} ms scoring per tree"
        + f" ({'on Dask' if args.engine == 'dask' else 'on a fork pool'})"
        + (f"; {args.cores} cores shared" if args.cores else "")
    )
    if args.json is not None:
        atomic.write_json(
            args.json,
            {
                "schema": "mlcpu.plan/1",
                "dataset": workload.dataset.name,
                "estimators": [c.n_estimators for c in workload.configs],
                "cores": args.cores,
                "engine": args.engine,
                "costs": costs.__dict__,
                "rows": rows,
            },
        )
    return 0
