"""The name of each JSON document mlcpu writes, defined once; readers accept any version."""

from __future__ import annotations

from typing import Any

RUN = "mlcpu.run/1"  # one ``mlcpu run``: mlcpu.records.results.RunResults.to_dict()
SWEEP = "mlcpu.sweep/1"  # one ``mlcpu sweep``: a run document per point of the parameter
GATE = "mlcpu.gate/1"  # one ``mlcpu gate``: verdicts, intervals and every run of both trees
BENCHMARKS = "mlcpu.benchmarks/1"  # the ``mlcpu`` section of the benchmark suite's saved runs
GATE_TIMINGS = "mlcpu.gate-timings/1"  # the ``mlcpu`` section of a gate's pytest-benchmark files


def family(schema: str) -> str:
    """``mlcpu.run/1`` -> ``mlcpu.run/``: the part every version of the document shares."""
    return schema.rpartition("/")[0] + "/"


def schema_of(document: Any) -> str:
    """The ``schema`` field of a parsed JSON document ('' when it has none)."""
    return str(document.get("schema") or "") if isinstance(document, dict) else ""


def is_run(document: Any) -> bool:
    return schema_of(document).startswith(family(RUN))


def is_sweep(document: Any) -> bool:
    return schema_of(document).startswith(family(SWEEP))
