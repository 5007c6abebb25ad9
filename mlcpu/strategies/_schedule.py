"""Cutting forests into pieces of trees and ordering them so every worker finishes together.

A piece costs a fixed amount (fit set-up, hand-off to a worker and back) plus a per-tree
amount. Many small pieces balance well but pay the fixed cost often; whole forests pay it
once but leave workers idle while the largest forest finishes. ``plan`` tries a range of piece
sizes, simulates the pool pulling pieces largest-first (what a ``multiprocessing.Pool`` fed in
that order does), and keeps the plan with the earliest predicted finish. On iris-sized work the
fixed cost wins and pieces are whole forests; on large work forests are cut so the tail is small.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

# More pieces than this per worker never pay: the tail is already a few percent of the work.
MAX_PIECES_PER_WORKER = 16
# Plans whose predicted finish is within this fraction of the best count as equally fast;
# among those the one with fewer pieces wins (less hand-off, less memory in flight).
TIE = 0.005


@dataclass(frozen=True)
class Costs:
    """What the planner assumes a piece costs: ``per_piece_s + trees * per_tree_s``."""

    per_tree_s: float
    per_piece_s: float

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
class Plan:
    pieces: tuple[Piece, ...]  # in submission order: largest first
    size: int  # the piece size the plan was cut with
    style: str  # "fixed" (size, size, ..., remainder) or "even" (near-equal pieces)
    predicted_s: float | None  # predicted wall time of the pool part (None: not planned)

    @property
    def finish(self) -> float:
        return float("inf") if self.predicted_s is None else self.predicted_s

    def describe(self) -> dict[str, object]:
        return {
            "pieces": len(self.pieces),
            "piece_size": self.size,
            "style": self.style,
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


def order(pieces: list[Piece], totals: Sequence[int]) -> list[Piece]:
    """Largest first; among equal pieces, those of larger forests first (the last forest to
    complete is then a small one, whose scoring in the parent is short)."""
    return sorted(pieces, key=lambda p: (-p.trees, -totals[p.config], p.config, p.start))


def finish_time(pieces: Sequence[Piece], workers: int, costs: Costs) -> float:
    """When the last worker finishes if each idle worker takes the next piece in order."""
    loads = [0.0] * workers
    for piece in pieces:
        i = loads.index(min(loads))
        loads[i] += costs.piece(piece.trees)
    return max(loads)


def plan(
    ranges: Sequence[tuple[int, int]], totals: Sequence[int], workers: int, costs: Costs
) -> Plan:
    """The fastest predicted way to cut ``ranges`` (per configuration, trees still to train).

    ``totals`` are the configurations' full forest sizes (used to order equal pieces).
    """
    spans = [stop - start for start, stop in ranges]
    largest = max(spans)
    if largest < 1:
        raise ValueError("nothing to plan")
    total = sum(spans)
    floor = max(1, math.ceil(total / (MAX_PIECES_PER_WORKER * workers)))
    sizes = {largest}
    sizes.update(math.ceil(span / k) for span in spans if span for k in range(1, 65))
    sizes.update(math.ceil(total / (j * workers)) for j in range(1, MAX_PIECES_PER_WORKER + 1))
    candidates: list[Plan] = []
    for size in sorted(s for s in sizes if floor <= s <= largest):
        for style in ("fixed", "even"):
            pieces = [
                Piece(config, a, b)
                for config, (start, stop) in enumerate(ranges)
                if stop > start
                for a, b in cut(start, stop, size, style)
            ]
            ordered = order(pieces, totals)
            candidates.append(
                Plan(tuple(ordered), size, style, finish_time(ordered, workers, costs))
            )
    best = min(c.finish for c in candidates)
    return min(
        (c for c in candidates if c.finish <= best * (1 + TIE)),
        key=lambda c: (len(c.pieces), c.finish),
    )
