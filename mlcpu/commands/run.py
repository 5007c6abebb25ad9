"""``mlcpu run``: train the configurations under each strategy and report speed and accuracy."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console

from mlcpu import strategies as registry
from mlcpu.commands import _args
from mlcpu.data.datasets import (
    DATASET_NAMES,
    DEFAULT_N_FEATURES,
    DEFAULT_N_SAMPLES,
    SYNTHETIC,
    load_dataset,
)
from mlcpu.engines.dask_address import SCHEDULER_ENV, configured_scheduler, insecure_warning
from mlcpu.errors import InputError, TaskError
from mlcpu.records import atomic
from mlcpu.records.config import DEFAULT_ESTIMATORS, make_grid, with_folds
from mlcpu.records.models import BUILTIN_MODELS, DEFAULT_MODEL
from mlcpu.training.folds import check_folds
from mlcpu.training.workload import Workload

if TYPE_CHECKING:
    from mlcpu.runner import Runner

# The standard library's list, as mlcpu.engines.supervised uses it; read here so that building the
# command line (which every command does, `mlcpu compare` too) imports no engine.
START_METHODS = tuple(multiprocessing.get_all_start_methods())

DEFAULT_STRATEGIES = ("sequential", "joblib", "multiprocessing")
HELP = "train model configurations under each strategy; report time, speedup and accuracy"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("run", help=HELP, description=HELP)
    add_workload_arguments(parser)
    add_execution_arguments(parser)


def add_workload_arguments(parser: argparse.ArgumentParser) -> None:
    """What to train: the options ``build_workload`` reads (shared with ``mlcpu plan``)."""
    data = parser.add_argument_group("workload")
    data.add_argument(
        "--dataset",
        default="iris",
        metavar="NAME|FILE.csv",
        help=f"{', '.join(DATASET_NAMES)}, or a CSV file with a header row (default: iris)",
    )
    data.add_argument(
        "--n-samples",
        type=_args.positive_int,
        metavar="N",
        help=f"rows of the synthetic dataset (default: {DEFAULT_N_SAMPLES})",
    )
    data.add_argument(
        "--n-features",
        type=_args.positive_int,
        metavar="N",
        help=f"features of the synthetic dataset (default: {DEFAULT_N_FEATURES})",
    )
    data.add_argument(
        "--target", metavar="COLUMN", help="target column of a CSV file (default: the last one)"
    )
    data.add_argument(
        "--test-size",
        type=_args.fraction,
        default=0.2,
        metavar="F",
        help="held-out fraction, stratified (default: 0.2)",
    )
    data.add_argument(
        "--estimators",
        type=_args.int_list,
        default=DEFAULT_ESTIMATORS,
        metavar="N,N,...",
        help="forest sizes to train, one configuration each (default: 10,50,100,200); with "
        "other lists below, every combination (scikit-learn's ParameterGrid order)",
    )
    data.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="NAME|module:callable",
        help=f"{', '.join(BUILTIN_MODELS)}, or an import path to a classifier factory "
        f"(default: {DEFAULT_MODEL})",
    )
    data.add_argument(
        "--max-depth",
        type=_args.max_depths,
        metavar="N|none[,...]",
        help="maximum tree depth; several (none,8) make a grid",
    )
    data.add_argument(
        "--param",
        type=_args.model_param,
        action="append",
        default=[],
        metavar="KEY=VALUE[,VALUE]",
        help="any other estimator parameter, e.g. --param min_samples_leaf=3; several values "
        "(min_samples_leaf=1,5) make a grid (repeatable)",
    )
    data.add_argument(
        "--cv",
        type=_args.folds,
        metavar="K",
        help="score each candidate by K-fold cross-validation on the training split "
        "(StratifiedKFold, shuffled with --seed), as GridSearchCV does (default: one split)",
    )
    data.add_argument(
        "--seed", type=_args.seed, default=0, help="seed for data, split and models (default: 0)"
    )


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    execution = parser.add_argument_group("execution")
    execution.add_argument(
        "--strategies",
        type=_args.strategy_list,
        default=DEFAULT_STRATEGIES,
        metavar="NAME,NAME|all",
        help=f"{', '.join(registry.names())}, or all; a plan on Dask: "
        f"{', '.join(registry.variants())} (default: {','.join(DEFAULT_STRATEGIES)})",
    )
    execution.add_argument(
        "--workers",
        type=_args.positive_int,
        metavar="N",
        help="workers per parallel strategy (default: usable cores, container-aware)",
    )
    execution.add_argument(
        "--start-method",
        choices=START_METHODS,
        metavar="METHOD",
        help=f"process start method for multiprocessing: {', '.join(START_METHODS)} "
        "(default: fork where available)",
    )
    execution.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="dask: connect to this running Dask scheduler instead of starting an embedded "
        f"cluster (default: ${SCHEDULER_ENV}, else embedded)",
    )
    execution.add_argument(
        "--repeat",
        type=_args.positive_int,
        default=1,
        metavar="R",
        help="run every strategy R times and report the median (default: 1)",
    )
    execution.add_argument(
        "--task-timeout",
        type=_args.positive_float,
        metavar="SECONDS",
        help="stop a task that runs longer than this, and fail the run",
    )
    execution.add_argument(
        "--keep-going",
        action="store_true",
        help="record a failed task in the results and finish the others",
    )
    execution.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip measuring the machine's parallel ceiling (up to about 3 s per run)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--json", type=_args.output_file, metavar="PATH", help="write results as JSON (atomically)"
    )
    output.add_argument(
        "--plot",
        type=_args.image_file,
        metavar="PATH.png",
        help="draw speedup, timeline and accuracy charts into one image (.png, .svg or .pdf; "
        "needs the plot extra)",
    )
    output.add_argument(
        "--quiet", action="store_true", help="print only the summary table (no task lines)"
    )
    parser.set_defaults(handler=execute)


def build_workload(args: argparse.Namespace) -> Workload:
    if ":" in args.model and os.getcwd() not in sys.path:
        # Like `python -m`, find a user's model module in the current folder (workers
        # started with spawn inherit this sys.path).
        sys.path.insert(0, os.getcwd())
    if args.dataset != SYNTHETIC:
        for option, value in (("--n-samples", args.n_samples), ("--n-features", args.n_features)):
            if value is not None:
                raise InputError(f"{option} applies to the synthetic dataset only")
    dataset = load_dataset(
        args.dataset,
        n_samples=args.n_samples or DEFAULT_N_SAMPLES,
        n_features=args.n_features or DEFAULT_N_FEATURES,
        target=args.target,
        seed=args.seed,
        test_size=args.test_size,
    )
    grid: dict[str, tuple[Any, ...]] = {}
    for key, values in args.param:
        if key in grid:
            raise InputError(f"--param {key} is given twice; list its values once: {key}=V1,V2")
        grid[key] = values
    if args.max_depth is not None:
        if "max_depth" in grid:
            raise InputError("max_depth is given by both --max-depth and --param; use one")
        grid["max_depth"] = args.max_depth
    configs = make_grid(args.estimators, model=args.model, grid=grid)
    if args.cv is None:
        return Workload(dataset, configs, args.seed)
    check_folds(dataset, args.cv)
    return Workload(dataset, with_folds(configs, args.cv, args.seed), args.seed, {"cv": args.cv})


def strategy_options(args: argparse.Namespace) -> dict[str, Any]:
    on_dask = [s for s in args.strategies if s == "dask" or s.endswith("@dask")]
    if args.scheduler is not None and not on_dask:
        raise InputError("--scheduler applies to strategies on Dask only (dask, NAME@dask)")
    if on_dask:
        dask_scheduler(args.scheduler)
    return {
        "workers": args.workers,
        "start_method": args.start_method,
        "scheduler": args.scheduler,
        "task_timeout": args.task_timeout,
        "keep_going": args.keep_going,
    }


def dask_scheduler(given: str | None) -> str | None:
    """The scheduler to connect to (``--scheduler``, else ``$MLCPU_DASK_SCHEDULER``; None: an
    embedded cluster), with one warning line if its traffic would be plain and off-host."""
    scheduler = configured_scheduler(given)
    warning = insecure_warning(scheduler) if scheduler else None
    if warning:
        print(f"mlcpu: warning: {warning}", file=sys.stderr)
    return scheduler


def console_for(stream: Any) -> Console:
    """Rich console; off a terminal, wide enough that the summary table never wraps."""
    return Console(file=stream, width=None if stream.isatty() else 120)


def new_runner(workload: Workload, strategies: list[str], args: argparse.Namespace) -> Runner:
    """The runner for one workload from the command line's options (run and sweep share it)."""
    from mlcpu.runner import Runner  # the engines, imported only when something runs

    return Runner(
        workload,
        strategies,
        repeat=args.repeat,
        ceiling=not args.no_ceiling,
        **strategy_options(args),
    )


def execute(args: argparse.Namespace) -> int:
    from mlcpu.reporting.console import ConsoleReporter, print_summary

    if args.plot is not None:
        from mlcpu.reporting import _mpl

        _mpl.require()  # fail before training, not after it
    console = console_for(sys.stdout)
    # The runner owns the workload (no reference kept here), so once the data are shared with
    # worker processes the private copy can be freed.
    runner = new_runner(build_workload(args), list(args.strategies), args)
    runner.results.extra["command"] = ["mlcpu", *args.argv]
    total = len(runner.workload.configs) * len(runner.strategies) * args.repeat
    try:
        with ConsoleReporter(console, quiet=args.quiet, total_tasks=total) as reporter:
            runner.listener = reporter
            reporter.header(runner.results)
            results = runner.run()
    except (TaskError, KeyboardInterrupt):
        # Keep everything that finished: the file says how the run ended.
        if args.json is not None:
            atomic.write_json(args.json, runner.results.to_dict())
        if args.plot is not None:
            _plot_partial(runner.results, args.plot)
        raise
    print_summary(console, results)
    if args.json is not None:
        atomic.write_json(args.json, results.to_dict())
        console.print(f"Results written to {args.json}", highlight=False)
    if args.plot is not None:
        from mlcpu.reporting import charts

        charts.write_overview(results, args.plot)
        console.print(f"Charts written to {args.plot}", highlight=False)
    if results.status != "ok":
        print(f"mlcpu: error: {results.error}", file=sys.stderr)
        return 1
    return 0


def _plot_partial(results: Any, path: Any) -> None:
    """Draw what finished before a failure; never let drawing hide the failure itself."""
    from mlcpu.reporting import charts

    try:
        charts.write_overview(results, path)
    except Exception as exc:
        print(f"mlcpu: could not draw the partial results: {exc}", file=sys.stderr)
