"""What each plan's makespan would be on W workers: the plans' cost model, past this machine.

The same simulation the planners use (``schedule.finish_time``: each free worker takes the
next unit, largest first) with measured costs: a unit costs a worker ``per_piece_s`` plus its
trees' ``per_tree_s``. Whole configurations cannot end before the largest forest does, so
they saturate at total / largest trees; pieces and prefixes keep scaling until the per-unit
cost dominates. With fewer cores than workers (``cores``), workers share the cores' time:
while ``n`` units run, each advances at ``min(1, cores / n)`` of a core (processor sharing,
``shared_finish``), so a long unit left alone at the end runs at full speed again.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlcpu.plans.prefixes import DEFAULT_CHUNKS_PER_WORKER, plan_sweep, predicted_s
from mlcpu.plans.schedule import Costs, Piece, finish_time, plan, unit_s
from mlcpu.records.config import TaskConfig

PLANS = ("sequential", "whole", "pieces", "prefixes")


def makespans(
    configs: Sequence[TaskConfig],
    workers: int,
    costs: Costs,
    *,
    fit_overhead_s: float = 0.0,
    cores: int | None = None,
) -> dict[str, float]:
    """Predicted seconds of each plan (``PLANS``) for ``configs`` on ``workers`` workers."""
    sizes = [c.n_estimators for c in configs]
    scored = costs.per_tree_s + costs.score_per_tree_s
    sequential = sum(fit_overhead_s + n * scored for n in sizes)
    whole = sorted((Piece(i, 0, n) for i, n in enumerate(sizes)), key=lambda p: -p.trees)
    ranges = [(0, n) for n in sizes]
    sweep = plan_sweep(configs, workers, DEFAULT_CHUNKS_PER_WORKER)
    pieces = plan(ranges, sizes, workers, costs)
    if cores is None or cores >= workers:
        return {
            "sequential": sequential,
            "whole": finish_time(whole, workers, costs, sizes),
            "pieces": pieces.finish,
            "prefixes": predicted_s(sweep, workers, costs),
        }
    chunks = [c for g in sweep.groups for c in g.chunks] + [
        (0, c.n_estimators) for _, c in sweep.whole
    ]
    return {
        "sequential": sequential,
        "whole": shared_finish([_unit(p.trees, costs, scored=True) for p in whole], workers, cores),
        "pieces": shared_finish([_unit(p.trees, costs) for p in pieces.pieces], workers, cores),
        "prefixes": shared_finish(
            sorted((_unit(stop - start, costs) for start, stop in chunks), reverse=True),
            workers,
            cores,
        ),
    }


def _unit(trees: int, costs: Costs, *, scored: bool = False) -> float:
    """One core's seconds for a unit of ``trees`` trees (scored by its worker, or sent back)."""
    return unit_s(trees, costs, costs.score_per_tree_s if scored else costs.transfer_per_tree_s)


def shared_finish(units: Sequence[float], workers: int, cores: int) -> float:
    """When ``units`` (one core's seconds each, in submission order) end on ``workers`` workers
    sharing ``cores`` cores: each free worker takes the next unit; while ``n`` units run, each
    advances at ``min(1, cores / n)`` (the kernel shares cores fairly among busy processes)."""
    waiting = list(units)[::-1]
    running: list[float] = []  # work left, one core's seconds
    now = 0.0
    while waiting or running:
        while waiting and len(running) < workers:
            running.append(waiting.pop())
        rate = min(1.0, cores / len(running))
        step = min(running) / rate
        now += step
        running = [left - step * rate for left in running]
        running = [left for left in running if left > 1e-12]
    return now
