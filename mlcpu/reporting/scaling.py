"""Sweep chart: how each strategy's time grows with the work, and where parallel starts to pay.

Left, elapsed time against work size on log–log axes (equal slopes mean equal scaling; a
parallel strategy's fixed overhead shows as a flat start). Right, speedup against sequential on
the same x axis, with break-even at 1×: the crossover is the first size a strategy's speedup
passes 1, marked with a star and a dotted line in its colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcpu.records.sweeps import Sweep
from mlcpu.reporting import _mpl

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure


def points(sweep: Sweep, name: str, key: str) -> list[tuple[float, float]]:
    """(work size, ``elapsed_s`` or ``speedup``) of strategy ``name`` at every size it ran."""
    found = []
    for point in sweep.points:
        strategy = point.run.strategy(name)
        if strategy is None:
            continue
        value = strategy.elapsed_s if key == "elapsed_s" else strategy.speedup
        if value is not None and value > 0:
            found.append((sweep.work_size(point.value), value))
    return found


def figure(sweep: Sweep) -> Figure:
    height = 5.6 + 0.25 * max(0, len(sweep.strategy_names()) - 4)
    return _mpl.drawn(13, height, lambda fig: draw(fig, sweep))


def draw(fig: Figure | SubFigure, sweep: Sweep) -> tuple[Axes, Axes]:
    names = sweep.strategy_names()
    colors = _mpl.strategy_colors(names)
    labels = {s.name: s.label for point in sweep.points for s in point.run.strategies if s.label}
    time_ax, speed_ax = fig.subplots(1, 2)
    largest = sweep.largest.workload
    fig.suptitle(
        f"Time and speedup as the work grows ({sweep.parameter} sweep, "
        f"{largest.get('dataset', '?')}, {len(sweep.points)} sizes)",
        fontsize=12,
    )
    for name in names:
        color = colors[name]
        times = points(sweep, name, "elapsed_s")
        if times:
            time_ax.plot(*zip(*times, strict=True), marker="o", color=color, linewidth=2)
        speeds = points(sweep, name, "speedup")
        if speeds and name != "sequential":
            speed_ax.plot(
                *zip(*speeds, strict=True),
                marker="o",
                color=color,
                linewidth=2,
                label=_legend_label(sweep, name, labels.get(name, name)),
            )
        _mark_crossover(sweep, name, color, time_ax, speed_ax)
    speed_ax.plot([], [], color=colors.get("sequential", _mpl.SEQUENTIAL_COLOR), label="sequential")
    speed_ax.axhline(1.0, color="black", linewidth=1)
    speed_ax.text(
        0.99,
        1.0,
        "break-even (1×) ",
        transform=speed_ax.get_yaxis_transform(),
        ha="right",
        va="top",
    )
    x_label = sweep.axis_label()
    time_ax.set_xscale("log")
    time_ax.set_yscale("log")
    time_ax.set_title("Elapsed time (warm pool), log–log")
    time_ax.set_xlabel(x_label)
    time_ax.set_ylabel("elapsed time (s)")
    speed_ax.set_xscale("log")
    speed_ax.set_title("Speedup vs sequential; ★ = crossover")
    speed_ax.set_xlabel(x_label)
    speed_ax.set_ylabel("speedup (×) = sequential elapsed / strategy elapsed")
    speed_ax.set_ylim(bottom=0)
    for ax in (time_ax, speed_ax):
        _value_ticks(ax, sweep)
    handles, texts = speed_ax.get_legend_handles_labels()
    fig.legend(
        handles,
        texts,
        loc="outside lower center",
        ncols=min(4, len(handles)),
        fontsize=9,
        title="strategy (crossover ★: smallest size at which its speedup exceeds 1)",
    )
    return time_ax, speed_ax


def _legend_label(sweep: Sweep, name: str, label: str) -> str:
    if name not in sweep.crossover:
        return label
    value = sweep.crossover[name]
    if value is None:
        return f"{label}: never faster here"
    return f"{label}: first faster at {_value_text(value)}"


def _mark_crossover(sweep: Sweep, name: str, color: str, time_ax: Axes, speed_ax: Axes) -> None:
    value = sweep.crossover.get(name)
    x = None if value is None else sweep.work_size(value)
    if x is None or name == "sequential":
        return
    for ax in (time_ax, speed_ax):
        ax.axvline(x, color=color, linestyle=":", linewidth=1.5)
    speeds = dict(points(sweep, name, "speedup"))
    if x in speeds:
        speed_ax.plot(
            [x],
            [speeds[x]],
            marker="*",
            markersize=16,
            color=color,
            markeredgecolor="black",
            zorder=5,
        )


def _value_ticks(ax: Axes, sweep: Sweep) -> None:
    """Tick exactly the sizes that were measured, written as the sweep wrote them."""
    from matplotlib.ticker import NullLocator

    xs = [sweep.work_size(p.value) for p in sweep.points]
    ax.set_xticks(xs, [_value_text(p.value) for p in sweep.points])
    ax.xaxis.set_minor_locator(NullLocator())
    if len(xs) > 5:
        ax.tick_params(axis="x", labelrotation=30)
    if ax.get_yscale() == "log":
        _mpl.plain_log_ticks(ax.yaxis)


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value >= 10_000:
        return f"{value:,}".replace(",", " ")
    return str(value)
