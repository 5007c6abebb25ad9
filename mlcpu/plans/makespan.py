"""What each plan's makespan would be on W workers: the plans' cost model, past this machine.

The same simulation the planners use (``schedule.finish_time``: each free worker takes the
next unit, largest first) with measured costs: a unit costs a worker ``per_piece_s`` plus its
trees' ``per_tree_s``. Whole configurations cannot end before the largest forest does, so
they saturate at total / largest trees; pieces and prefixes keep scaling until the per-unit
cost dominates. With fewer cores than workers (``cores``), each tree costs ``workers /
cores`` times as long: workers sharing a core share its time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mlcpu.plans.prefixes import DEFAULT_CHUNKS_PER_WORKER, plan_sweep, predicted_s
from mlcpu.plans.schedule import Costs, Piece, finish_time, plan
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
    share = max(1.0, workers / cores) if cores else 1.0
    shared = dataclasses.replace(costs, per_tree_s=costs.per_tree_s * share)
    whole = sorted((Piece(i, 0, n) for i, n in enumerate(sizes)), key=lambda p: -p.trees)
    ranges = [(0, n) for n in sizes]
    sweep = plan_sweep(configs, workers, DEFAULT_CHUNKS_PER_WORKER)
    return {
        "sequential": sequential,
        "whole": finish_time(whole, workers, shared, sizes),
        "pieces": plan(ranges, sizes, workers, shared).finish,
        "prefixes": predicted_s(sweep, workers, shared),
    }
