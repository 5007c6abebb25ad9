"""Building ``mlcpu.sweep/1`` documents from real run documents, shaped as ``mlcpu sweep`` writes.

The shape (fixed between the developers of ``sweep`` and ``report``)::

    {"schema": "mlcpu.sweep/1", "mlcpu_version", "created", "status", "machine",
     "parameter": "n_samples" | "estimators", "values": [...],
     "points": [{"value": V, "run": <mlcpu.run/1 document>}, ...],
     "crossover": {"<strategy>": <smallest value whose speedup vs sequential exceeds 1, or null>}}
"""

from __future__ import annotations

from typing import Any

from mlcpu._version import __version__


def crossover(points: list[tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    """Per parallel strategy, the first value (in the given order) at which speedup > 1."""
    names = [s["name"] for s in points[0][1]["strategies"] if s["name"] != "sequential"]
    found: dict[str, Any] = {}
    for name in names:
        found[name] = next(
            (
                value
                for value, run in points
                for s in run["strategies"]
                if s["name"] == name and (s.get("speedup") or 0) > 1
            ),
            None,
        )
    return found


def assemble(parameter: str, points: list[tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "schema": "mlcpu.sweep/1",
        "mlcpu_version": __version__,
        "created": points[-1][1]["created"],
        "status": "ok" if all(run["status"] == "ok" for _, run in points) else "failed",
        "machine": points[-1][1]["machine"],
        "parameter": parameter,
        "values": [value for value, _ in points],
        "points": [{"value": value, "run": run} for value, run in points],
        "crossover": crossover(points),
    }
