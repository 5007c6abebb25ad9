"""Timeline (Gantt) chart: which worker trained which configuration, when, and where it idled.

One lane per worker, not per CPU core. The core of a task is read once, as it starts, and Linux
moves a busy process or thread between cores while it runs: two tasks running at the same time
on two threads are often both recorded "on core 1". Lanes by core would then show overlapping
bars and invent idle time on the other core. A worker (a pool process, or a thread of one
process) runs one task at a time, so its lane is an honest picture of busy and idle time.

Workers are told apart by ``worker`` name or process id; tasks of one process that overlap in
time (a thread pool) are spread over as many thread lanes as ran at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcpu.records.results import RunResults, StrategyResult
from mlcpu.records.task import TaskResult
from mlcpu.reporting import _mpl
from mlcpu.reporting.captions import workload_caption

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.patches import Rectangle
    from matplotlib.text import Text

# Two readings of one process's clock: equal when one task starts as the previous one ends.
_SAME_INSTANT = 1e-6
# Lane key for a forest trained in pieces on several workers (``balanced``): its span belongs to
# no single worker, so it gets lanes of its own instead of crowding one worker's.
_SPREAD = "pieces on several workers"
# Up to this many distinct configurations get a legend entry each; more get a colour bar.
_MAX_LEGEND_CONFIGS = 12
IDLE_COLOR = "#E6E6E6"
BAR_HEIGHT = 0.72
FAILED_COLOR = "#C62828"


@dataclass
class Lane:
    """One worker's row: the tasks it ran, in start order."""

    label: str
    tasks: list[TaskResult] = field(default_factory=list)


@dataclass
class BarLabel:
    """A bar's text, long and short forms; ``fit_labels`` keeps the one that fits, or none.

    A failure is never left unlabelled: a failed task is often too short for any text, so its
    short label moves beside the bar instead of disappearing.
    """

    text: Text
    bar: Rectangle
    short: str
    always_shown: bool = False


def lanes(strategy: StrategyResult) -> list[Lane]:
    """Group the strategy's (median-run) tasks into worker lanes, ordered by first start."""
    by_worker: dict[tuple[Any, Any], list[TaskResult]] = {}
    for task in sorted(strategy.tasks, key=lambda t: (t.start_s, t.end_s)):
        spread = len(set(task.extra.get("pids") or ())) > 1
        who = _SPREAD if spread else task.worker or task.pid
        by_worker.setdefault((task.host, who), []).append(task)
    result: list[Lane] = []
    for (host, who), tasks in by_worker.items():
        slots: list[list[TaskResult]] = []
        for task in tasks:
            for slot in slots:
                if slot[-1].end_s <= task.start_s + _SAME_INSTANT:
                    slot.append(task)
                    break
            else:
                slots.append([task])
        if who == _SPREAD:
            name = "forests in pieces\non several workers"
        else:
            name = f"worker {who}" if isinstance(who, str) else f"pid {who}"
        if host:
            name += f"\n{host}"
        if len(slots) == 1:
            result.append(Lane(name, slots[0]))
        else:
            result.extend(Lane(f"{name}\nthread {i + 1}", slot) for i, slot in enumerate(slots))
    result.sort(key=lambda lane: lane.tasks[0].start_s)
    return result


def idle_share(strategy: StrategyResult, worker_lanes: list[Lane]) -> float | None:
    """Share of the drawn lanes' time, up to the run's end, in which no task ran."""
    elapsed = strategy.elapsed_s
    if not elapsed or not worker_lanes:
        return None
    busy = sum(t.end_s - t.start_s for lane in worker_lanes for t in lane.tasks)
    return max(0.0, 1.0 - busy / (elapsed * len(worker_lanes)))


def figure(results: RunResults) -> Figure:
    drawn = [s for s in results.strategies if s.tasks]
    rows = sum(len(lanes(s)) for s in drawn)
    height = 2.0 + 0.45 * len(drawn) + 0.38 * max(rows, 1)
    return _mpl.drawn(12, height, lambda fig: fit_labels(fig, draw(fig, results)))


def draw(fig: Figure | SubFigure, results: RunResults) -> list[BarLabel]:
    """One panel per strategy on a shared time axis; returns the bar labels to fit."""
    drawn = [s for s in results.strategies if s.tasks]
    fig.suptitle(
        f"Timeline: which worker trained what, and when\n{workload_caption(results, width=110)}",
        fontsize=12,
    )
    if not drawn:
        _mpl.nothing_to_draw(fig.add_subplot(), "No finished tasks to draw.")
        return []
    per_strategy = [lanes(s) for s in drawn]
    axes = fig.subplots(
        len(drawn),
        1,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [len(ls) + 0.9 for ls in per_strategy]},
    )[:, 0]
    colour_of = ConfigColours(drawn)
    end = max(
        max((s.elapsed_s or 0.0) for s in drawn),
        max(t.end_s for s in drawn for t in s.tasks),
    )
    labels: list[BarLabel] = []
    for ax, strategy, worker_lanes in zip(axes, drawn, per_strategy, strict=True):
        labels += _draw_panel(ax, strategy, worker_lanes, colour_of)
        ax.set_xlim(0, end * 1.02)
    axes[-1].set_xlabel("time since the strategy's run started (s)")
    colour_of.add_legend(fig, axes)
    return labels


def _draw_panel(
    ax: Axes, strategy: StrategyResult, worker_lanes: list[Lane], colour_of: ConfigColours
) -> list[BarLabel]:
    elapsed = strategy.elapsed_s
    labels: list[BarLabel] = []
    rows = list(range(len(worker_lanes)))[::-1]  # first lane on top
    for y, lane in zip(rows, worker_lanes, strict=True):
        if elapsed:
            ax.barh(y, elapsed, BAR_HEIGHT, left=0, color=IDLE_COLOR, zorder=1)
        for task in lane.tasks:
            labels.append(_draw_task(ax, y, task, colour_of))
    if elapsed:
        ax.axvline(elapsed, color="black", linestyle="--", linewidth=1.2, zorder=3)
    ax.set_yticks(rows, [lane.label for lane in worker_lanes], fontsize=8)
    ax.set_ylim(-0.6, len(worker_lanes) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_title(_panel_title(strategy, worker_lanes), loc="left", fontsize=10)
    return labels


def _draw_task(ax: Axes, y: int, task: TaskResult, colour_of: ConfigColours) -> BarLabel:
    width = max(task.end_s - task.start_s, 0.0)
    failed = task.error is not None
    colour = colour_of(task)
    (bar,) = ax.barh(
        y,
        width,
        BAR_HEIGHT,
        left=task.start_s,
        color="white" if failed else colour,
        edgecolor=FAILED_COLOR if failed else "white",
        hatch="xx" if failed else None,
        linewidth=1.5 if failed else 0.8,
        zorder=2,
    )
    core = f" · core {task.cpu}" if task.cpu is not None else ""
    short = f"✗{task.n_estimators}" if failed else str(task.n_estimators)
    long = f"{task.n_estimators} FAILED" if failed else f"{task.n_estimators} trees{core}"
    text = ax.text(
        task.start_s + width / 2,
        y,
        long,
        ha="center",
        va="center",
        fontsize=8,
        color=FAILED_COLOR if failed else _mpl.text_color_on(bar.get_facecolor()),
        zorder=4,
        clip_on=True,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1} if failed else None,
    )
    return BarLabel(text, bar, short, always_shown=failed)


def _panel_title(strategy: StrategyResult, worker_lanes: list[Lane]) -> str:
    parts = [strategy.label, f"{strategy.workers} worker{'s' if strategy.workers != 1 else ''}"]
    if strategy.elapsed_s is not None:
        parts.append(f"elapsed {strategy.elapsed_s:.2f} s")
    if strategy.speedup is not None:
        parts.append(f"{strategy.speedup:.2f}× vs sequential")
    idle = idle_share(strategy, worker_lanes)
    if idle is not None:
        parts.append(f"lanes idle {idle:.0%}")
    if strategy.error:
        parts.append("FAILED")
    return "  ·  ".join(parts)


class ConfigColours:
    """Colour by configuration, the same in every panel, so one task can be followed across.

    Up to ``_MAX_LEGEND_CONFIGS`` forest sizes get evenly spread colours and a legend entry
    each; more get a continuous scale and a colour bar.
    """

    def __init__(self, strategies: list[StrategyResult]) -> None:
        import matplotlib as mpl

        self.cmap = mpl.colormaps["viridis"]
        tasks = [t for s in strategies for t in s.tasks]
        # Sizes that only ever failed have no coloured bar, so no legend entry either.
        self.sizes = sorted({t.n_estimators for t in tasks if t.ok}) or [0]
        self.any_failed = any(t.error for t in tasks)
        self.discrete = len(self.sizes) <= _MAX_LEGEND_CONFIGS
        self.norm = mpl.colors.Normalize(min(self.sizes), max(self.sizes))
        self.spread = {
            n: self.cmap(0.9 * i / max(1, len(self.sizes) - 1)) for i, n in enumerate(self.sizes)
        }

    def __call__(self, task: TaskResult) -> Any:
        if self.discrete:
            return self.spread.get(task.n_estimators, "white")
        return self.cmap(0.9 * self.norm(task.n_estimators))

    def add_legend(self, fig: Figure | SubFigure, axes: Any) -> None:
        import matplotlib as mpl
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles: list[Any] = []
        if self.discrete:
            handles = [Patch(color=self.spread[n], label=f"{n} trees") for n in self.sizes if n > 0]
        else:
            mappable = mpl.cm.ScalarMappable(norm=self.norm, cmap=self.cmap)
            fig.colorbar(mappable, ax=list(axes), label="forest size (n_estimators)", pad=0.01)
        handles += [
            Patch(color=IDLE_COLOR, label="idle: worker waiting (until the run ended)"),
            Line2D([], [], color="black", linestyle="--", label="run ended (elapsed)"),
        ]
        if self.any_failed:
            handles.append(
                Patch(facecolor="white", edgecolor=FAILED_COLOR, hatch="xx", label="failed task")
            )
        fig.legend(
            handles=handles, loc="outside lower center", ncols=min(len(handles), 7), fontsize=8
        )


def fit_labels(fig: Figure | SubFigure, labels: list[BarLabel]) -> None:
    """Keep each bar's long label if it fits inside the bar, else the short one, else none."""
    if not labels:
        return
    root = fig.figure
    root.canvas.draw()  # final layout, so the extents below are the real ones
    renderer = root.canvas.get_renderer()  # type: ignore[attr-defined]
    for label in labels:
        room = label.bar.get_window_extent(renderer).width - 4
        if label.text.get_window_extent(renderer).width <= room:
            continue
        label.text.set_text(label.short)
        if label.text.get_window_extent(renderer).width <= room:
            continue
        if label.always_shown:
            label.text.set_x(label.bar.get_x() + label.bar.get_width())
            label.text.set_horizontalalignment("left")
            label.text.set_clip_on(False)
        else:
            label.text.set_visible(False)
