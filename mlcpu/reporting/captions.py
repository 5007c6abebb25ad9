"""Short texts that say what was measured, shared by every chart and the HTML page."""

from __future__ import annotations

from typing import Any

from mlcpu.records.results import RunResults


def estimators_text(estimators: list[int]) -> str:
    """``10, 50, 100, 200``; a long list shrinks to ``50 configurations, 1–50``."""
    if len(estimators) <= 6:
        return ", ".join(str(n) for n in estimators)
    return f"{len(estimators)} configurations, {min(estimators)}–{max(estimators)}"


def dataset_text(workload: dict[str, Any]) -> str:
    """``synthetic 10000×20`` — the name plus its shape, as a line label or a title part."""
    name = workload.get("dataset", "?")
    return f"{name} {workload.get('n_samples', '?')}×{workload.get('n_features', '?')}"


def workload_caption(results: RunResults, width: int = 70) -> str:
    """What was measured, in lines of at most about ``width`` characters (chart titles)."""
    lines: list[str] = []
    for part in _caption_parts(results):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += f" · {part}"
        else:
            lines.append(part)
    return "\n".join(lines)


def _caption_parts(results: RunResults) -> list[str]:
    workload = results.workload
    estimators = [int(n) for n in workload.get("estimators") or []]
    model = workload.get("model", "?")
    model = ", ".join(model) if isinstance(model, list) else model
    cpus = results.machine.get("usable_cpus")
    parts = [
        dataset_text(workload),
        f"{model}, n_estimators {estimators_text(estimators)}",
        f"{cpus} usable CPU{'' if cpus == 1 else 's'}" if cpus else "",
        f"median of {results.repeat} runs" if results.repeat > 1 else "",
    ]
    return [p for p in parts if p]
