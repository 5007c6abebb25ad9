"""Cutting forests into pieces of trees and ordering them so every worker finishes together.

A piece costs a fixed amount (fit set-up, hand-off to a worker and back) plus a per-tree
amount. Many small pieces balance well but pay the fixed cost often; whole forests pay it
once but leave workers idle while the largest forest finishes. ``plan`` tries a range of piece
sizes, simulates the pool pulling pieces largest-first (what a ``multiprocessing.Pool`` fed in
that order does), and keeps the plan with the earliest predicted finish. On iris-sized work the
fixed cost wins and pieces are whole forests; on large work forests are cut so the tail is small.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

# More pieces than this per worker never pay: the tail is already a few percent of the work.
MAX_PIECES_PER_WORKER = 16
# Plans whose predicted finish is within this fraction of the best count as equally fast;
# among those the one with fewer pieces wins (less hand-off, less memory in flight).
TIE = 0.005
# Cost ratios are rounded to powers of this before planning (see ``plan``).
RATIO_STEP = 1.25


@dataclass(frozen=True)
class Costs:
    """What the planner assumes: a piece costs a worker ``per_piece_s + trees * per_tree_s``;
    scoring a finished forest costs the parent ``score_per_tree_s`` per tree, one forest at a
    time (a forest finishing last leaves that scoring as the run's tail)."""

    per_tree_s: float
    per_piece_s: float
    score_per_tree_s: float = 0.0
    #: pickling a fitted tree in a worker, and again unpickling it in the parent. A forest
    #: trained whole in one piece is scored in its worker instead and never sent back.
    transfer_per_tree_s: float = 0.0

    def piece(self, trees: int) -> float:
        return self.per_piece_s + trees * self.per_tree_s


@dataclass(frozen=True)
class Piece:
    """Trees ``start .. stop-1`` of configuration ``config`` (an index into the workload)."""

    config: int
    start: int
    stop: int

    @property
    def trees(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Schedule:
    pieces: tuple[Piece, ...]  # in submission order: largest first
    size: int  # the piece size the plan was cut with
    style: str  # "fixed" (size, size, ..., remainder) or "even" (near-equal pieces)
    predicted_s: float | None  # predicted wall time of the pool part (None: not planned)
    by: str = "piece"  # submission order: largest "piece" or largest "forest" first

    @property
    def finish(self) -> float:
        return float("inf") if self.predicted_s is None else self.predicted_s

    def describe(self) -> dict[str, object]:
        return {
            "pieces": len(self.pieces),
            "piece_size": self.size,
            "style": self.style,
            "order": f"largest {self.by} first",
            "predicted_s": self.predicted_s,
        }


def cut(start: int, stop: int, size: int, style: str) -> list[tuple[int, int]]:
    """``[start, stop)`` in pieces of at most ``size`` trees."""
    count = stop - start
    if count <= size:
        return [(start, stop)]
    if style == "fixed":
        return [(s, min(s + size, stop)) for s in range(start, stop, size)]
    parts = math.ceil(count / size)
    bounds = [start + (count * k) // parts for k in range(parts + 1)]
    return list(itertools.pairwise(bounds))


def order(pieces: list[Piece], totals: Sequence[int], by: str = "piece") -> list[Piece]:
    """Largest piece first (``by="piece"``), or largest forest first (``by="forest"``: large
    forests complete early and are scored while the workers go on with small ones). Ties go to
    larger forests, so the last forest to complete tends to be a small one."""
    if by == "forest":
        return sorted(pieces, key=lambda p: (-totals[p.config], p.config, -p.trees, p.start))
    return sorted(pieces, key=lambda p: (-p.trees, -totals[p.config], p.config, p.start))


def unit_s(trees: int, costs: Costs, extra_per_tree_s: float) -> float:
    """A worker's seconds for one unit of ``trees`` trees: its fixed cost, the trees, and per
    tree what follows them (scoring in the worker, or sending the trees back)."""
    return costs.per_piece_s + trees * (costs.per_tree_s + extra_per_tree_s)


def finish_time(
    pieces: Sequence[Piece], workers: int, costs: Costs, totals: Sequence[int] | None = None
) -> float:
    """When the run ends if each idle worker takes the next piece in order.

    With ``totals`` (full forest sizes), a forest cut into several pieces is sent back and
    joined and scored by the parent, one forest at a time, once its last piece is in; a forest
    that is one whole piece is scored by its worker.
    """
    counts: dict[int, int] = {}
    for piece in pieces:
        counts[piece.config] = counts.get(piece.config, 0) + 1
    loads = [0.0] * workers
    complete: dict[int, float] = {}
    for piece in pieces:
        trees = piece.stop - piece.start
        whole = totals is not None and counts[piece.config] == 1 and trees == totals[piece.config]
        extra = costs.score_per_tree_s if whole else costs.transfer_per_tree_s
        i = loads.index(min(loads))
        loads[i] += unit_s(trees, costs, extra)
        if not whole:
            complete[piece.config] = max(complete.get(piece.config, 0.0), loads[i])
    end = max(loads)
    if totals is not None:
        parent = 0.0
        per_tree = costs.score_per_tree_s + costs.transfer_per_tree_s
        for config, done in sorted(complete.items(), key=lambda item: item[1]):
            parent = max(parent, done) + per_tree * totals[config]
        end = max(end, parent)
    return end


def plan(
    ranges: Sequence[tuple[int, int]], totals: Sequence[int], workers: int, costs: Costs
) -> Schedule:
    """The fastest predicted way to cut ``ranges`` (per configuration, trees still to train).

    ``totals`` are the configurations' full forest sizes. The choice depends only on the cost
    ratios, which are rounded to steps of 25% so that repeated runs of one workload (whose
    probes differ by noise) reuse the plan instead of searching again (about 2 ms).
    """
    unit = costs.per_tree_s
    if unit <= 0:
        raise ValueError(f"per-tree cost must be positive, got {unit!r}")
    shape = _plan(
        tuple(ranges), tuple(totals), workers, _step(costs.per_piece_s / unit),
        _step(costs.score_per_tree_s / unit), _step(costs.transfer_per_tree_s / unit),
    )  # fmt: skip
    return dataclasses.replace(shape, predicted_s=(shape.predicted_s or 0.0) * unit)


def _step(ratio: float) -> int | None:
    return None if ratio <= 0 else round(math.log(ratio) / math.log(RATIO_STEP))


@functools.lru_cache(maxsize=256)
def _plan(
    ranges: tuple[tuple[int, int], ...],
    totals: tuple[int, ...],
    workers: int,
    piece_step: int | None,
    score_step: int | None,
    transfer_step: int | None,
) -> Schedule:
    """``plan`` in units of one tree's cost."""
    steps = (piece_step, score_step, transfer_step)
    costs = Costs(1.0, *(0.0 if step is None else RATIO_STEP**step for step in steps))
    spans = [stop - start for start, stop in ranges]
    largest = max(spans)
    if largest < 1:
        raise ValueError("nothing to plan")
    total = sum(spans)
    floor = max(1, math.ceil(total / (MAX_PIECES_PER_WORKER * workers)))
    sizes = {largest}
    sizes.update(math.ceil(span / k) for span in spans if span for k in range(1, 4 * workers + 1))
    sizes.update(math.ceil(total / (j * workers)) for j in range(1, MAX_PIECES_PER_WORKER + 1))
    candidates: list[Schedule] = []
    for size in sorted(s for s in sizes if floor <= s <= largest):
        for style in ("fixed", "even"):
            pieces = [
                Piece(config, a, b)
                for config, (start, stop) in enumerate(ranges)
                if stop > start
                for a, b in cut(start, stop, size, style)
            ]
            for by in ("piece", "forest"):
                ordered = tuple(order(pieces, totals, by))
                predicted = finish_time(ordered, workers, costs, totals)
                candidates.append(Schedule(ordered, size, style, predicted, by))
    # Each forest cut into k pieces per worker, largest forest first: every forest is spread
    # over all workers, so each completes early and is scored while the rest still trains.
    for k in range(1, MAX_PIECES_PER_WORKER + 1):
        pieces = [
            Piece(config, a, b)
            for config, (start, stop) in enumerate(ranges)
            if stop > start
            for a, b in cut(start, stop, math.ceil((stop - start) / (k * workers)), "even")
        ]
        if len(pieces) > MAX_PIECES_PER_WORKER * workers + len(ranges):
            break
        by_forest = tuple(order(pieces, totals, "forest"))
        predicted = finish_time(by_forest, workers, costs, totals)
        size = max(p.trees for p in pieces)
        candidates.append(
            Schedule(by_forest, size, f"{k * workers} per forest", predicted, "forest")
        )
    best = min(c.finish for c in candidates)
    return min(
        (c for c in candidates if c.finish <= best * (1 + TIE)),
        key=lambda c: (len(c.pieces), c.finish),
    )
