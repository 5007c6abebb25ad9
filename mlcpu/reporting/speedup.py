"""Speedup chart: how far each strategy got, against the two limits it could not pass.

The limits are the number of workers (perfect parallelism) and the workload's own bound: when
whole configurations are handed to workers, the run cannot end before its largest task does,
so speedup <= total task time / largest task time (both from the sequential run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcpu.records.results import BASELINE, RunResults, StrategyResult
from mlcpu.reporting import _mpl
from mlcpu.reporting.captions import workload_caption

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

BAR_HEIGHT = 0.38
# Start-up shorter than this (in-process strategies) gets no second bar: it would equal the first.
NO_STARTUP_S = 0.0005


def workload_bound(results: RunResults) -> float | None:
    """Total sequential task time / largest sequential task time, or None without sequential."""
    base = results.strategy(BASELINE)
    if base is None:
        return None
    seconds = [t.seconds for t in base.tasks if t.ok and t.seconds > 0]
    if not seconds:
        return None
    return sum(seconds) / max(seconds)


def charted(results: RunResults) -> list[StrategyResult]:
    """Strategies that have a speedup to draw, in run order."""
    results.compute_ratios()
    return [s for s in results.strategies if s.speedup is not None]


def figure(results: RunResults) -> Figure:
    rows = max(1, len(results.strategies))
    return _mpl.drawn(10, 2.2 + 0.55 * rows, lambda fig: draw(fig, results))


def draw(fig: Figure | SubFigure, results: RunResults) -> Axes:
    """One horizontal bar pair per strategy: warm pool, and with its start-up charged."""
    ax = fig.add_subplot()
    # On the (sub)figure, not the axes: centred over the axes, a long title would run off the
    # right edge once long strategy names push the axes right.
    fig.suptitle(f"Speedup vs sequential (same run)\n{workload_caption(results)}", fontsize=12)
    strategies = charted(results)
    if not strategies:
        text = "No speedup to draw: these results have no finished sequential run to compare with."
        return _mpl.nothing_to_draw(ax, text, va="center", wrap=True)
    colors = _mpl.strategy_colors([s.name for s in results.strategies])
    positions = list(range(len(strategies)))[::-1]  # first strategy on top
    for y, strategy in zip(positions, strategies, strict=True):
        color = colors[strategy.name]
        speedup = strategy.speedup or 0.0
        ax.barh(y + BAR_HEIGHT / 2, speedup, BAR_HEIGHT, color=color)
        ax.text(speedup, y + BAR_HEIGHT / 2, f" {speedup:.2f}×", va="center", fontsize=9)
        with_startup = strategy.speedup_with_startup
        if with_startup is not None and strategy.startup_s >= NO_STARTUP_S:
            ax.barh(
                y - BAR_HEIGHT / 2,
                with_startup,
                BAR_HEIGHT,
                color=color,
                alpha=0.35,
                hatch="///",
                edgecolor=color,
                linewidth=0,
            )
            ax.text(
                with_startup,
                y - BAR_HEIGHT / 2,
                f" {with_startup:.2f}× incl. start-up {_duration(strategy.startup_s)}",
                va="center",
                fontsize=8,
                color="#333333",
            )
    ax.set_yticks(positions, [_tick_label(s) for s in strategies])
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("speedup (×) = sequential elapsed / strategy elapsed")

    top = max(max(s.speedup or 0 for s in strategies), 1.0)
    ax.axvline(1.0, color="black", linewidth=1, label="sequential (1×)")
    top = max(top, _draw_ideal(ax, strategies, positions))
    # Room on the right for the value labels.
    right = top * 1.45
    bound = workload_bound(results)
    if bound is not None:
        label = f"workload bound {bound:.2f}× = total task time / largest task"
        if bound <= right * 0.97:
            label += " (for whole configurations per worker)"
            ax.axvline(bound, color="#B22222", linestyle=":", linewidth=2, label=label)
        else:
            # Far beyond the workers' limit (many small tasks): not what limits this run, and
            # drawing it would squash every bar.
            label += ", off this scale"
            ax.plot([], [], color="#B22222", linestyle=":", linewidth=2, label=label)
    ax.set_xlim(0, right)
    ax.set_ylim(-0.8, len(strategies) - 0.2)
    from matplotlib.patches import Patch

    handles = ax.get_legend_handles_labels()[0]

    handles += [
        Patch(color="#888888", label="warm pool: training only"),
        Patch(
            facecolor="#88888859",
            hatch="///",
            edgecolor="#888888",
            label="pool start-up charged to this one run",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return ax


def _tick_label(strategy: StrategyResult) -> str:
    workers = f"{strategy.workers} worker{'s' if strategy.workers != 1 else ''}"
    return f"{strategy.label}\n{workers}"


def _draw_ideal(ax: Axes, strategies: list[StrategyResult], positions: list[int]) -> float:
    """The ideal speedup is the worker count: one line if all agree, else a mark per bar."""
    parallel = [s for s in strategies if s.workers > 1]
    if not parallel:
        return 1.0
    counts = {s.workers for s in parallel}
    ideal: dict[str, Any] = {"color": "#2E8B57", "linestyle": "--", "linewidth": 2}
    if len(counts) == 1:
        workers = counts.pop()
        ax.axvline(workers, label=f"ideal {workers}× = {workers} workers", **ideal)
        return float(workers)
    first = True
    for y, strategy in zip(positions, strategies, strict=True):
        if strategy.workers > 1:
            label = "ideal = its number of workers" if first else None
            ax.plot([strategy.workers] * 2, [y - 0.45, y + 0.45], label=label, **ideal)
            first = False
    return float(max(counts))


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
