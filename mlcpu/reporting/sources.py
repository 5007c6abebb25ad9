"""What a report is drawn from: one ``mlcpu run`` result file, or one ``mlcpu sweep`` file.

A sweep file (schema ``mlcpu.sweep/1``) holds one complete ``mlcpu.run/1`` document per work
size, so everything drawn for a run can be drawn for any of its points too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcpu import results as run_results
from mlcpu import schemas
from mlcpu.errors import InputError
from mlcpu.results import RunResults

SWEEP_SCHEMA = schemas.SWEEP
SWEEP_PARAMETERS = ("n_samples", "estimators")


@dataclass
class SweepPoint:
    """One work size of a sweep and the full run measured at it."""

    value: Any
    run: RunResults


@dataclass
class Sweep:
    """An ``mlcpu sweep`` result: the same strategies run at growing work sizes."""

    parameter: str
    points: list[SweepPoint]
    crossover: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    created: str = ""

    @property
    def largest(self) -> RunResults:
        """The run at the largest work size: the most telling one to draw in detail."""
        return self.points[-1].run

    def strategy_names(self) -> list[str]:
        names: list[str] = []
        for point in self.points:
            for strategy in point.run.strategies:
                if strategy.name not in names:
                    names.append(strategy.name)
        return names

    def work_size(self, value: Any) -> float:
        """A number for the x axis: the value itself, or the trees trained for a list of sizes."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            value = [int(v) for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple) and value:
            return float(sum(int(v) for v in value))
        raise InputError(f"sweep value {value!r} is not a number or a list of forest sizes")

    def axis_label(self) -> str:
        if self.parameter == "n_samples":
            return "dataset size (samples, train + test)"
        if all(isinstance(p.value, int | float) for p in self.points):
            return "forest size (n_estimators)"
        return "work size (trees trained per strategy, all configurations)"


def sweep_from_dict(document: dict[str, Any], source: str = "sweep") -> Sweep:
    """Build a ``Sweep`` from its JSON form; a malformed document is an InputError."""
    parameter = document.get("parameter")
    if parameter not in SWEEP_PARAMETERS:
        raise InputError(
            f"{source!r}: sweep parameter {parameter!r} is not one of {', '.join(SWEEP_PARAMETERS)}"
        )
    raw_points = document.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        raise InputError(f"{source!r}: a sweep file needs a non-empty 'points' list")
    points = []
    for i, point in enumerate(raw_points):
        if not isinstance(point, dict) or not isinstance(point.get("run"), dict):
            raise InputError(f"{source!r}: point {i} has no 'run' document")
        run = RunResults.from_dict(point["run"])
        run.compute_ratios()
        points.append(SweepPoint(point.get("value"), run))
    sweep = Sweep(
        parameter=parameter,
        points=points,
        crossover=dict(document.get("crossover") or {}),
        machine=document.get("machine") or points[-1].run.machine,
        status=document.get("status", "ok"),
        created=document.get("created", ""),
    )
    for point in points:
        sweep.work_size(point.value)  # reject an unusable value now, not mid-drawing
    sweep.points.sort(key=lambda p: sweep.work_size(p.value))
    return sweep


def load(path: str | Path) -> RunResults | Sweep:
    """Read a run or sweep result file; anything else is an InputError naming the file."""
    text = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"results file {text!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        # The run loader has the precise message for each of these.
        return run_results.load(text)
    if schemas.is_sweep(document):
        try:
            return sweep_from_dict(document, text)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"sweep file {text!r} is malformed: {exc!r}") from None
    if not schemas.is_run(document):
        found = schemas.schema_of(document)
        raise InputError(
            f"{text!r} is not an mlcpu results file (expected schema {schemas.RUN!r} "
            f"or {schemas.SWEEP!r}, found {found or 'none'!r})"
        )
    results = run_results.load(text)
    results.compute_ratios()
    return results
