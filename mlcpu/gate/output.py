"""What a gate leaves behind: the console table, ``--json`` (``mlcpu.gate/1``) and each side's
timings as standard pytest-benchmark JSON (readable by ``pytest-benchmark compare`` and
``mlcpu compare``)."""

from __future__ import annotations

import datetime
import math
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from mlcpu._version import __version__
from mlcpu.gate.judge import INCONCLUSIVE, PASS, REGRESSION, FamilyTally, Tally
from mlcpu.gate.session import SIDES, Outcome
from mlcpu.records import atomic, schemas

SCHEMA = schemas.GATE
TIMINGS_SUITE = {"schema": schemas.GATE_TIMINGS, "profile": "quick", "source": "mlcpu gate"}
_STYLE = {PASS: "green", REGRESSION: "bold red", INCONCLUSIVE: "yellow"}


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def table(outcome: Outcome) -> Table:
    level = 1 - outcome.settings.alpha
    grid = Table(
        title=f"mlcpu gate: candidate / base, paired rounds; bounds hold together at {level:.0%}"
    )
    names = ["benchmark", "rounds", "base median s", "candidate median s", "change", "interval"]
    for name in [*names, "limit", "could detect", "accuracy", "verdict"]:
        left = name in ("benchmark", "accuracy", "verdict")
        grid.add_column(name, justify="left" if left else "right")
    for tally in outcome.tallies:
        drops = tally.accuracy_drops()
        accuracy = "; ".join(drops) if drops else "same" if tally.candidate_accuracy else "-"
        grid.add_row(*_row(tally, _seconds(tally.base_s), _seconds(tally.candidate_s), accuracy))
    if outcome.families:
        grid.add_section()
    for family in outcome.families:
        grid.add_row(*_row(family, "-", "-", "-"))
    return grid


def _row(judged: Tally | FamilyTally, base_s: str, candidate_s: str, accuracy: str) -> list[Any]:
    """A table row: a family has no seconds or accuracy of its own."""
    interval = judged.interval
    return [
        Text(judged.name),  # not markup: "[joblib-iris]" would read as a style tag
        str(judged.rounds),
        base_s,
        candidate_s,
        _pct(interval.estimate - 1) if interval else "-",
        f"{_pct(interval.low - 1)} .. {_pct(interval.high - 1)}" if interval else "-",
        _pct(judged.max_slowdown, signed=False),
        _pct(judged.minimum_detectable(), signed=False),
        accuracy,
        Text(judged.verdict, style=_STYLE[judged.verdict]),
    ]


def _seconds(values: list[float]) -> str:
    return f"{statistics.median(values):.4f}" if values else "-"


def summary(outcome: Outcome) -> str:
    """One line: the verdict, and what a pass was able to see."""
    if outcome.regressions:
        return f"regression in {_names(outcome.regressions)}"
    if outcome.inconclusive:
        names = _names(outcome.inconclusive)
        return (
            f"inconclusive within the {outcome.settings.budget_s:.0f} s budget: {names} "
            "(more --budget, or a quieter machine, would decide them)"
        )
    highs = [t.interval.high for t in outcome.tallies if t.interval is not None]
    bound = f"{(max(highs) - 1) * 100:.1f}%" if highs else "?"
    level = f"{1 - outcome.settings.alpha:.0%} confidence"
    return f"no regression larger than {bound} on any benchmark ({level}, all together)"


def _names(tallies: list[Tally] | list[Tally | FamilyTally], most: int = 6) -> str:
    shown = ", ".join(t.name for t in tallies[:most])
    return shown + (f" and {len(tallies) - most} more" if len(tallies) > most else "")


def detectable_line(outcome: Outcome) -> str:
    values = [v for t in outcome.tallies if (v := t.minimum_detectable()) is not None]
    if not values:
        return "smallest detectable slowdown: not measured"
    line = (
        f"smallest slowdown this run could have detected (80% power): "
        f"{min(values) * 100:.1f}% to {max(values) * 100:.1f}% "
        f"(median {statistics.median(values) * 100:.1f}%) in one benchmark"
    )
    broad = [
        f"{f.kind} {v * 100:.1f}%"
        for f in outcome.families
        if (v := f.minimum_detectable()) is not None
    ]
    if broad:
        line += "; across a whole family: " + ", ".join(broad)
    return line


def document(outcome: Outcome, trees: dict[str, Path], exit_code: int) -> dict[str, Any]:
    settings = outcome.settings
    return {
        "schema": SCHEMA,
        "mlcpu_version": __version__,
        "created": _now(),
        "verdict": outcome.verdict,
        "exit_code": exit_code,
        "summary": summary(outcome),
        "elapsed_s": outcome.elapsed_s,
        "budget_spent": outcome.budget_spent,
        "sides": {
            label: {
                "tree": str(trees[label]),
                "commit": _commit(trees[label]),
                "mlcpu_file": outcome.hellos[label].mlcpu_file,
                "mlcpu_version": outcome.hellos[label].version,
                "python": outcome.hellos[label].python,
            }
            for label in SIDES
        },
        "settings": {
            "max_slowdown": settings.max_slowdown.describe(lambda v: f"{v:.0%}"),
            "max_accuracy_drop": settings.max_accuracy_drop.describe(lambda v: f"{v:g}"),
            "alpha": settings.alpha,
            "budget_s": settings.budget_s,
            "max_rounds": settings.max_rounds,
            "warmup_rounds": settings.warmup_rounds,
            "seed": settings.seed,
            "looks": list(outcome.looks),
            "per_interval_alpha": outcome.per_look_alpha,
            "family_looks": list(outcome.family_looks),
            "family_per_interval_alpha": outcome.family_alpha,
            "method": "rounds of one run a side next to each other (AB, then BA in the "
            "benchmark's next round); per round log(candidate / base); "
            "Hodges-Lehmann estimate with the Wilcoxon signed-rank interval, per benchmark "
            "and per family (run, train, startup: its members' rounds pooled); half of alpha "
            "to benchmarks, half to "
            "families, each bound Bonferroni-corrected within its half over tests and looks "
            "(all lower bounds hold together at 1 - alpha, and so do all upper bounds)",
        },
        "benchmarks": [t.to_dict() for t in outcome.tallies],
        "families": [f.to_dict() for f in outcome.families],
    }


def write_json(path: Path, outcome: Outcome, trees: dict[str, Path], exit_code: int) -> None:
    atomic.write_json(path, document(outcome, trees, exit_code))


def write_timings(folder: Path, outcome: Outcome, trees: dict[str, Path]) -> list[Path]:
    """``base.json`` and ``candidate.json`` in pytest-benchmark's format, raw rounds included."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    machine = _machine_info()
    for label in SIDES:
        benchmarks = []
        for tally in outcome.tallies:
            seconds = tally.base_s if label == "base" else tally.candidate_s
            if not seconds:
                continue
            accuracy = tally.base_accuracy if label == "base" else tally.candidate_accuracy
            values = [a for a in accuracy.values() if a is not None]
            bench = tally.benchmark
            benchmarks.append(
                {
                    "group": bench.group,
                    "name": bench.name,
                    "fullname": bench.fullname,
                    "params": bench.params,
                    "param": bench.name.partition("[")[2].rstrip("]"),
                    "extra_info": {
                        "accuracy": statistics.fmean(values) if values else None,
                        "accuracies": {k: v for k, v in accuracy.items() if v is not None}
                        if bench.kind == "run"
                        else {},
                        "strategy": bench.strategy,
                        "dataset": bench.dataset,
                        "gate_side": label,
                    },
                    "options": {"rounds": len(seconds), "warmup": outcome.settings.warmup_rounds},
                    "stats": _stats(seconds),
                }
            )
        hello = outcome.hellos[label]
        payload = {
            "machine_info": {**machine, "mlcpu_file": hello.mlcpu_file},
            "commit_info": {"id": _commit(trees[label]) or "", "project": "mlcpu"},
            "benchmarks": benchmarks,
            "datetime": _now(),
            "version": _pytest_benchmark_version(),
            "mlcpu": TIMINGS_SUITE,
        }
        written.append(atomic.write_json(folder / f"{label}.json", payload))
    return written


def _stats(data: list[float]) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` fields, computed as it computes them."""
    ordered = sorted(data)
    n = len(ordered)
    mean = statistics.fmean(ordered)
    stddev = statistics.stdev(ordered) if n > 1 else 0.0
    q1, _, q3 = statistics.quantiles(ordered, n=4) if n > 1 else (ordered[0],) * 3
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    return {
        "min": ordered[0],
        "max": ordered[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": n,
        "median": statistics.median(ordered),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": sum(x < low or x > high for x in ordered),
        "stddev_outliers": sum(abs(x - mean) > stddev for x in ordered) if stddev else 0,
        "outliers": f"{sum(abs(x - mean) > stddev for x in ordered)};"
        f"{sum(x < low or x > high for x in ordered)}",
        "ld15iqr": min(x for x in ordered if x >= low),
        "hd15iqr": max(x for x in ordered if x <= high),
        "ops": 1 / mean if mean > 0 else math.inf,
        "total": sum(ordered),
        "data": list(data),
        "iterations": 1,
    }


def _machine_info() -> dict[str, Any]:
    from mlcpu.host.machine import cpu_model, usable_cpus

    return {
        "node": platform.node(),
        "processor": platform.processor(),
        "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(),
        "system": platform.system(),
        "release": platform.release(),
        "cpu": {"brand_raw": cpu_model()},
        "usable_cpus": usable_cpus(),
    }


def _pytest_benchmark_version() -> str:
    try:
        from importlib.metadata import version

        return version("pytest-benchmark")
    except Exception:
        return "5.2.3"


def _commit(tree: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
