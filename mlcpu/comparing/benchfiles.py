"""Reading saved timings for the regression gate: pytest-benchmark JSON or ``mlcpu run`` JSON.

Both become one ``TimingFile``: named ``Measurement``s (median, raw timings when saved, accuracy)
plus the facts that must match before two files may be compared. Anything missing, truncated or
foreign is an ``InputError`` naming the file: a gate must fail closed, never pass on a bad file.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlcpu.errors import InputError
from mlcpu.records import schemas

PYTEST_BENCHMARK = "pytest-benchmark"
MLCPU_RUN = "mlcpu run"
REFERENCE_STRATEGY = "sequential"


@dataclass(frozen=True)
class Measurement:
    """One benchmark's timings (seconds) and accuracy, as saved."""

    key: str
    name: str
    median: float
    mean: float
    stddev: float
    rounds: int
    samples: tuple[float, ...] = ()
    group: str | None = None
    strategy: str | None = None
    # Benchmarks of one family differ only by strategy; ``--normalize sequential`` divides
    # each by its family's sequential median.
    family: str | None = None
    accuracy: float | None = None
    accuracies: dict[str, float] = field(default_factory=dict)

    def scaled(self, factor: float) -> Measurement:
        """The same measurement with every time divided by ``factor``."""
        return replace(
            self,
            median=self.median / factor,
            samples=tuple(s / factor for s in self.samples),
            mean=self.mean / factor,
            stddev=self.stddev / factor,
        )


@dataclass
class TimingFile:
    """A whole saved file: its kind, identity facts and measurements by key."""

    path: str
    kind: str
    machine: dict[str, Any]
    suite: dict[str, Any]
    measurements: dict[str, Measurement]
    created: str = ""
    commit: str = ""
    raw_data: bool = False


def read(path: str | Path) -> TimingFile:
    """Load ``path`` as pytest-benchmark or ``mlcpu run`` JSON, whichever it is."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"file {path!r} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{path!r} is a directory; give a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path!r}: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path!r} is not valid JSON (truncated or corrupt?): {exc}") from None
    if schemas.is_run(document):
        return _from_run(path)
    if isinstance(document, dict) and "benchmarks" in document:
        try:
            return _from_pytest_benchmark(path, document)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path!r} is a malformed pytest-benchmark file: {exc!r}") from None
    raise InputError(
        f"{path!r} is neither a pytest-benchmark JSON file nor an mlcpu run results file"
    )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} is {value!r}, not a finite number")
    if value < 0:
        raise ValueError(f"{what} is negative ({value!r})")
    return float(value)


def _from_pytest_benchmark(path: str, document: dict[str, Any]) -> TimingFile:
    machine = document.get("machine_info")
    if not isinstance(machine, dict):
        raise InputError(f"{path!r} has no machine_info: not a complete pytest-benchmark file")
    benchmarks = document["benchmarks"]
    if not isinstance(benchmarks, list) or not benchmarks:
        raise InputError(f"{path!r} contains no benchmarks")
    measurements: dict[str, Measurement] = {}
    raw = True
    for index, bench in enumerate(benchmarks):
        name = bench["name"]
        key = bench.get("fullname") or name
        stats = bench["stats"]
        what = f"benchmark {name!r}"
        median = _number(stats["median"], f"{what} stats.median")
        data = stats.get("data")
        samples: tuple[float, ...] = ()
        if data is not None:
            samples = tuple(_number(x, f"{what} stats.data[]") for x in data)
            if not samples:
                raise ValueError(f"{what} has an empty stats.data")
        raw = raw and bool(samples)
        params = bench.get("params") or {}
        extra = bench.get("extra_info") or {}
        strategy = params.get("strategy", extra.get("strategy"))
        if key in measurements:
            raise ValueError(f"benchmark #{index} repeats the name {key!r}")
        measurements[key] = Measurement(
            key=key,
            name=name,
            median=median,
            samples=samples,
            mean=_number(stats["mean"], f"{what} stats.mean"),
            stddev=_number(stats["stddev"], f"{what} stats.stddev"),
            rounds=int(stats["rounds"]),
            group=bench.get("group"),
            strategy=strategy,
            family=_family(key, params) if strategy is not None else None,
            accuracy=_optional_number(extra.get("accuracy"), f"{what} extra_info.accuracy"),
            accuracies=_accuracies(extra.get("accuracies"), what),
        )
    commit = document.get("commit_info") or {}
    return TimingFile(
        path=path,
        kind=PYTEST_BENCHMARK,
        machine=_pytest_benchmark_identity(machine),
        suite=document.get("mlcpu") or {},
        measurements=measurements,
        created=str(document.get("datetime", "")),
        commit=str(commit.get("id") or "")[:12],
        raw_data=raw,
    )


def _family(key: str, params: dict[str, Any]) -> str:
    """What a benchmark shares with the sequential one it is normalized by: all but strategy."""
    others = sorted((k, str(v)) for k, v in params.items() if k != "strategy")
    return f"{key.partition('[')[0]}{others}"


def _optional_number(value: Any, what: str) -> float | None:
    return None if value is None else _number(value, what)


def _accuracies(value: Any, what: str) -> dict[str, float]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} extra_info.accuracies is {value!r}, not a mapping")
    return {str(k): _number(v, f"{what} accuracy of {k}") for k, v in value.items()}


def _pytest_benchmark_identity(machine: dict[str, Any]) -> dict[str, Any]:
    cpu = machine.get("cpu")
    if not isinstance(cpu, dict):
        cpu = {}
    return {
        "python": _major_minor(machine.get("python_version")),
        "python_implementation": machine.get("python_implementation"),
        "system": machine.get("system"),
        "machine": machine.get("machine"),
        "usable_cpus": machine.get("usable_cpus"),
        "cpu_model": cpu.get("brand_raw") or machine.get("processor") or None,
    }


def _major_minor(version: Any) -> str | None:
    return ".".join(str(version).split(".")[:2]) if version else None


def _from_run(path: str) -> TimingFile:
    from mlcpu.records.results import load

    results = load(path)
    if results.status != "ok":
        raise InputError(
            f"{path!r} records a run that ended {results.status!r}"
            + (f" ({results.error})" if results.error else "")
            + "; compare finished runs only"
        )
    if not results.strategies:
        raise InputError(f"{path!r} records no strategy; nothing to compare")
    measurements: dict[str, Measurement] = {}
    for strategy in results.strategies:
        if strategy.elapsed_s is None:
            raise InputError(f"{path!r}: strategy {strategy.name!r} has no finished run")
        tasks = [t for t in strategy.tasks if t.accuracy is not None]
        by_size = {str(t.n_estimators): float(t.accuracy) for t in tasks if t.accuracy is not None}
        samples = tuple(strategy.runs_s)
        measurements[strategy.name] = Measurement(
            key=strategy.name,
            name=strategy.label,
            median=strategy.elapsed_s,
            samples=samples,
            mean=statistics.fmean(samples),
            stddev=statistics.stdev(samples) if len(samples) > 1 else 0.0,
            rounds=len(samples),
            group=None,
            strategy=strategy.name,
            family="",
            accuracy=statistics.fmean(by_size.values()) if by_size else None,
            accuracies=by_size,
        )
    machine = results.machine
    workload = results.workload
    suite_keys = ("dataset", "n_samples", "n_features", "estimators", "seed", "test_size")
    return TimingFile(
        path=path,
        kind=MLCPU_RUN,
        machine={
            "python": _major_minor(machine.get("python")),
            "python_implementation": machine.get("python_implementation"),
            "machine": machine.get("machine"),
            "usable_cpus": machine.get("usable_cpus"),
            "cpu_model": machine.get("cpu_model"),
        },
        suite={
            **{key: workload.get(key) for key in suite_keys},
            "model": workload.get("model"),
            "params": workload.get("params"),
        },
        measurements=measurements,
        created=results.created,
        raw_data=all(len(m.samples) > 1 for m in measurements.values()),
    )
