"""Accuracy vs n_estimators, one line per dataset: what the extra trees bought.

Every strategy trains the same seeded models, so one line per dataset is the whole story; if
strategies ever disagree, each strategy gets its own line and the title says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcpu.records.results import RunResults
from mlcpu.reporting import _mpl
from mlcpu.reporting.captions import dataset_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

# Wider spans than this (largest / smallest forest) are drawn on a log axis.
_LOG_SPAN = 20


@dataclass
class Series:
    label: str
    points: list[tuple[int, float]]


def series(runs: Sequence[RunResults]) -> tuple[list[Series], bool]:
    """Lines to draw and whether strategies agreed on every accuracy.

    Runs on the same dataset (a sweep over forest sizes) share one line.
    """
    # (dataset, model, params) -> n_estimators -> strategy label -> accuracy
    found: dict[tuple[str, str, Any], dict[int, dict[str, float]]] = {}
    for results in runs:
        dataset = dataset_text(results.workload)
        for strategy in results.strategies:
            for task in strategy.tasks:
                if task.accuracy is None:
                    continue
                key = (dataset, task.config.model, task.config.params)
                found.setdefault(key, {}).setdefault(task.n_estimators, {})[strategy.label] = (
                    task.accuracy
                )
    several_models = len({(model, params) for _, model, params in found}) > 1
    lines: list[Series] = []
    consistent = True
    for (dataset, model, params), by_size in found.items():
        name = f"{dataset} · {_config_text(model, params)}" if several_models else dataset
        agree = all(len(set(accs.values())) == 1 for accs in by_size.values())
        consistent = consistent and agree
        if agree:
            points = [(n, next(iter(accs.values()))) for n, accs in sorted(by_size.items())]
            lines.append(Series(name, points))
            continue
        for label in sorted({s for accs in by_size.values() for s in accs}):
            points = [(n, accs[label]) for n, accs in sorted(by_size.items()) if label in accs]
            lines.append(Series(f"{name} · {label}", points))
    return lines, consistent


def figure(runs: Sequence[RunResults]) -> Figure:
    return _mpl.drawn(8, 5, lambda fig: draw(fig, runs))


def draw(fig: Figure | SubFigure, runs: Sequence[RunResults]) -> Axes:
    ax = fig.add_subplot()
    lines, consistent = series(runs)
    title = "Accuracy vs forest size (held-out test split)"
    title += (
        "\nidentical under every strategy"
        if consistent
        else "\nWARNING: strategies disagree, one line each"
    )
    fig.suptitle(title, fontsize=12)
    if not lines:
        return _mpl.nothing_to_draw(ax, "No finished tasks to draw.")
    sizes = sorted({n for line in lines for n, _ in line.points})
    many = len(sizes) > 15
    for i, line in enumerate(lines):
        xs, ys = zip(*line.points, strict=True)
        ax.plot(
            xs,
            ys,
            marker="o",
            markersize=3 if many else 6,
            linewidth=1.5,
            color=_mpl.line_colour(i, len(lines)),
            label=line.label,
        )
    if sizes[-1] / sizes[0] >= _LOG_SPAN:
        ax.set_xscale("log")
        _mpl.plain_log_ticks(ax.xaxis)
    if not many:
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
    ax.set_xlabel("forest size (n_estimators, trees)")
    ax.set_ylabel("accuracy (fraction of test samples correct)")
    low = min(a for line in lines for _, a in line.points)
    high = max(a for line in lines for _, a in line.points)
    pad = max(0.01, (high - low) * 0.15)
    ax.set_ylim(max(0.0, low - pad), min(1.0 + pad / 2, high + pad))
    ax.legend(
        title="dataset (samples×features)",
        loc="best" if len(lines) <= 6 else "upper left",
        fontsize=8,
        ncols=1 if len(lines) <= 8 else 2,
    )
    return ax


def _config_text(model: str, params: Any) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in params)
    return f"{model} {extra}".strip()
