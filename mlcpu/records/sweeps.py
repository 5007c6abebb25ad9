"""The ``mlcpu.sweep/1`` document: one complete ``mlcpu.run/1`` document per work size.

Written by ``mlcpu sweep``, read by ``mlcpu report``; a plain record that imports no
scikit-learn and no engine. Its JSON shape::

    {"schema": "mlcpu.sweep/1", "mlcpu_version", "created", "status", "machine",
     "parameter": "n_samples" | "estimators", "values": [...],
     "points": [{"value": V, "run": <mlcpu.run/1 document>}, ...],
     "crossover": {"<strategy>": <smallest value whose speedup vs sequential exceeds 1, or null>}}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mlcpu._version import __version__
from mlcpu.errors import InputError
from mlcpu.records import schemas
from mlcpu.records.results import BASELINE, RunResults

#: what a sweep can grow: the synthetic dataset's rows, or the list of forest sizes
PARAMETERS = ("n_samples", "estimators")


def new_document(machine: dict[str, Any], parameter: str, values: list[Any]) -> dict[str, Any]:
    """A sweep that has not measured any point yet."""
    return {
        "schema": schemas.SWEEP,
        "mlcpu_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": "running",
        "machine": machine,
        "parameter": parameter,
        "values": values,
        "points": [],
        "crossover": {},
    }


def add_point(document: dict[str, Any], value: Any, run: RunResults) -> None:
    """Append the run measured at ``value`` and bring the crossover up to date."""
    document["points"].append({"value": value, "run": run.to_dict()})
    document["crossover"] = crossover(document["points"])


def crossover(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Per strategy, the first (smallest) value at which its speedup vs sequential exceeds 1."""
    records = [(point["value"], r) for point in points for r in point["run"]["strategies"]]
    names = dict.fromkeys(r["name"] for _, r in records if r["name"] != BASELINE)
    faster = [(value, r["name"]) for value, r in records if (r.get("speedup") or 0) > 1]
    return {name: next((value for value, n in faster if n == name), None) for name in names}


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
        return list(dict.fromkeys(s.name for p in self.points for s in p.run.strategies))

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


def from_dict(document: dict[str, Any], source: str = "sweep") -> Sweep:
    """Build a ``Sweep`` from its JSON form; a malformed document is an InputError."""
    parameter = document.get("parameter")
    if parameter not in PARAMETERS:
        raise InputError(
            f"{source!r}: sweep parameter {parameter!r} is not one of {', '.join(PARAMETERS)}"
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
