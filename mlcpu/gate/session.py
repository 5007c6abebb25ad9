"""The gate's loop: both sides prepared, then rounds interleaved pair by pair until decided.

::

    gate process                      base side (own tree)      candidate side (own tree)
    ------------                      --------------------      -------------------------
    hello: which mlcpu? ------------> import mlcpu from BASE    import mlcpu from CANDIDATE
    prepare: data, warm pools ------> load, start (untimed)     load, start (untimed)
    warm-up round per benchmark ----> discarded                 discarded
    round k, each active benchmark (in a new shuffled order each round):
        AB if k + i even else BA, so each benchmark's rounds alternate AB, BA, AB, ...
        base.round(b) --------------> time Strategy.run
        candidate.round(b) ---------------------------------> time Strategy.run
        observation = log(candidate run / base run), two runs next to each other in time
    at each planned look: interval of log(candidate/base) per active benchmark, and of each
    family's rounds pooled (run, train, startup); decided ones leave (a member once its family
    is decided too); the rest get more rounds until all are decided, one is a regression
    (fail fast), or the budget is spent.

The two sides never run at once: on a small machine they would measure each other. One pair
per round, not an ABBA quartet with each side's faster run: measured on this project's shared
machine, the speed drifts within a second, so the closest two runs in time pair best; per run
spent, single adjacent pairs had about half the variance of quartet minima (README, "How far to
trust the gate"), and the alternating order cancels any first-or-second effect. Half the
error budget goes to the benchmarks, half to the families; within each half every interval at
every look holds together (Bonferroni), so looking often, or judging a family as well as its
members, cannot manufacture a regression.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from mlcpu.comparing import ratios
from mlcpu.comparing.thresholds import Rules
from mlcpu.gate.catalogue import Benchmark
from mlcpu.gate.judge import INCONCLUSIVE, PASS, REGRESSION, FamilyTally, Tally, families
from mlcpu.gate.sides import Hello, SideFailed, SideProcess, program_folder

SIDES = ("base", "candidate")
PREPARE_TIMEOUT_S = 300.0
MIN_ROUND_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Settings:
    max_slowdown: Rules
    max_accuracy_drop: Rules
    alpha: float = 0.05
    budget_s: float = 600.0
    max_rounds: int = 109
    warmup_rounds: int = 1
    seed: int = 0


@dataclass
class Outcome:
    """A finished gate: per benchmark tallies, which mlcpu each side ran, how long it took."""

    tallies: list[Tally]
    hellos: dict[str, Hello]
    settings: Settings
    looks: tuple[int, ...]
    per_look_alpha: float
    elapsed_s: float
    budget_spent: bool = False
    families: list[FamilyTally] = field(default_factory=list)
    family_looks: tuple[int, ...] = ()
    family_alpha: float | None = None

    @property
    def regressions(self) -> list[Tally | FamilyTally]:
        return regressions(self.tallies, self.families)

    @property
    def inconclusive(self) -> list[Tally]:
        return [t for t in self.tallies if t.verdict == INCONCLUSIVE]

    @property
    def verdict(self) -> str:
        if self.regressions:
            return REGRESSION
        return INCONCLUSIVE if self.inconclusive else "pass"


class LookPlan(NamedTuple):
    """The rounds at which a kind of test is judged, and each interval's two-sided alpha."""

    rounds: tuple[int, ...]
    alpha: float


def plan_looks(family_alpha: float, benchmarks: int, max_rounds: int) -> LookPlan:
    """The rounds at which to judge, and the (two-sided) alpha of each interval.

    Only an interval's lower bound can raise a false alarm and only its upper bound can pass
    a slowdown, so each side of it gets the Bonferroni share of ``family_alpha``: all lower
    bounds hold together at ``1 - family_alpha``, and so do all upper bounds. Looks too early
    for any interval at the resulting alpha are dropped (they would only spend alpha); the end
    of the budget is one more look.
    """
    looks = ratios.looks_up_to(max(max_rounds, ratios.LOOKS[0]))
    while True:
        alpha = 2 * ratios.family_alpha(family_alpha, benchmarks, len(looks) + 1)
        usable = tuple(n for n in looks if n >= ratios.fewest_rounds(alpha))
        if usable == looks or not usable:
            return LookPlan(usable or looks[-1:], alpha)
        looks = usable


def plan_family_looks(family_alpha: float, count: int, max_rounds: int) -> LookPlan:
    """The same for families: their pooled intervals have many observations from the first
    look on, so every look up to the reachable rounds is usable; each bound gets the
    Bonferroni share of the half of the error budget kept for families."""
    looks = ratios.looks_up_to(max(max_rounds, ratios.LOOKS[0]))
    return LookPlan(looks, 2 * ratios.family_alpha(family_alpha, max(count, 1), len(looks) + 1))


def regressions(tallies: list[Tally], families: list[FamilyTally]) -> list[Tally | FamilyTally]:
    """Every benchmark and family judged a regression, benchmarks first."""
    judged: list[Tally | FamilyTally] = [*tallies, *families]
    return [j for j in judged if j.verdict == REGRESSION]


Progress = Callable[[str], None]


class Gate:
    """Runs one gate; ``progress`` gets a line per stage and per look."""

    def __init__(
        self,
        trees: Mapping[str, Path],
        benchmarks: Sequence[Benchmark],
        settings: Settings,
        progress: Progress | None = None,
    ) -> None:
        self.trees = trees
        self.benchmarks = list(benchmarks)
        self.settings = settings
        self.progress = progress or (lambda line: None)
        self.sides: dict[str, SideProcess] = {}
        self._pair_s: dict[str, float] = {}
        self._all: list[Tally] = []
        self._families: list[FamilyTally] = []
        self._family_of: dict[str, FamilyTally] = {}
        self._parity: dict[str, int] = {}

    def tally(self, benchmark: Benchmark) -> Tally:
        return Tally(
            benchmark,
            max_slowdown=self.settings.max_slowdown.limit(benchmark.name),
            max_accuracy_drop=self.settings.max_accuracy_drop.limit(benchmark.name),
        )

    def run(self) -> Outcome:
        began = time.monotonic()
        settings = self.settings
        with program_folder() as folder:
            try:
                hellos = self._start(folder)
                tallies = self._all = self._prepare()
                self._families = families(tallies)
                self._family_of = {m.name: f for f in self._families for m in f.members}
                self._parity = {t.name: i for i, t in enumerate(tallies)}
                rng = random.Random(settings.seed)
                for _ in range(settings.warmup_rounds):
                    self._round(tallies, rng, 0, keep=False)
                reachable = self._reachable_rounds(began)
                share = settings.alpha / 2 if self._families else settings.alpha
                plan = plan_looks(share, len(tallies), reachable)
                family_plan = plan_family_looks(share, len(self._families), reachable)
                (looks, alpha), (family_looks, family_alpha) = plan, family_plan
                self.progress(
                    f"warm-up done in {time.monotonic() - began:.0f} s; judging benchmarks at "
                    f"rounds {', '.join(map(str, looks))} (each bound at alpha {alpha / 2:.2g})"
                    + (
                        f", families at {', '.join(map(str, family_looks))} "
                        f"(alpha {family_alpha / 2:.2g})"
                        if self._families
                        else ""
                    )
                )
                spent = self._rounds(tallies, plan, family_plan, rng, began)
            except BaseException:
                self._stop(kill=True)  # Ctrl-C, SIGTERM, a failed side: no waiting
                raise
            self._stop(kill=False)
        return Outcome(
            tallies=tallies,
            hellos=hellos,
            settings=settings,
            looks=looks,
            per_look_alpha=alpha,
            elapsed_s=time.monotonic() - began,
            budget_spent=spent,
            families=self._families,
            family_looks=family_looks,
            family_alpha=family_alpha,
        )

    def _stop(self, kill: bool) -> None:
        for side in self.sides.values():
            side.kill() if kill else side.close()

    def _projected(self, active: list[Tally]) -> float:
        """What the next round of these benchmarks should cost."""
        return sum(self._pair_s.get(t.name, 0.0) for t in active)

    def _reachable_rounds(self, began: float) -> int:
        """How many rounds to plan looks for: three times what the budget allows with every
        benchmark active (decided ones leave, so the rest get more), at the warm-up's costs.
        Looks beyond what can be reached would only spend alpha. Timing costs, not ratios,
        decide it, so planning on them cannot bias a verdict."""
        left = self.settings.budget_s - (time.monotonic() - began)
        per_round = self._projected(self._all)
        reachable = int(3 * left / per_round) if per_round > 0 else self.settings.max_rounds
        return max(1, min(self.settings.max_rounds, reachable))

    def _start(self, folder: Path) -> dict[str, Hello]:
        for label in SIDES:
            self.sides[label] = SideProcess(label, self.trees[label], folder)
        hellos = {label: side.hello() for label, side in self.sides.items()}
        for label, hello in hellos.items():
            self.progress(f"{label}: mlcpu {hello.version} from {hello.mlcpu_file}")
        for benchmark in self.benchmarks:
            for label, hello in hellos.items():
                if benchmark.strategy not in hello.strategies:
                    raise SideFailed(
                        f"the two trees do not offer the same workloads: {label} has no "
                        f"strategy {benchmark.strategy!r} (it has {', '.join(hello.strategies)}); "
                        "leave it out with --strategies"
                    )
        return hellos

    def _prepare(self) -> list[Tally]:
        """Data loaded and pools started on both sides; both must describe the same work."""
        specs = [b.spec() for b in self.benchmarks]
        described = {
            label: side.request(PREPARE_TIMEOUT_S, "prepare", benchmarks=specs)["benchmarks"]
            for label, side in self.sides.items()
        }
        for benchmark in self.benchmarks:
            base, candidate = (described[label][benchmark.name] for label in SIDES)
            if base != candidate:
                raise SideFailed(
                    f"the two trees do not measure the same workload for {benchmark.name}: "
                    f"base {base} vs candidate {candidate}"
                )
        return [self.tally(b) for b in self.benchmarks]

    def _needed(self, tally: Tally) -> bool:
        """Still to be run: undecided itself, or a member of a family still undecided."""
        if not tally.decided:
            return True
        family = self._family_of.get(tally.name)
        if family is None or family.decided:
            return False
        # members that all passed leave a family nothing to find
        return any(m.verdict != PASS for m in family.members)

    def _rounds(
        self,
        tallies: list[Tally],
        plan: LookPlan,
        family_plan: LookPlan,
        rng: random.Random,
        began: float,
    ) -> bool:
        """Rounds until every benchmark and family is decided; True when the budget stopped
        them."""
        (looks, alpha), (family_looks, family_alpha) = plan, family_plan
        last = max(looks[-1], family_looks[-1] if self._families else 0)
        budget = self.settings.budget_s
        index = 0
        while True:
            active = [t for t in tallies if self._needed(t)]
            if not active:
                return False
            projected = self._projected(active)
            # a regression fails fast, as CI wants: more rounds could not change the exit
            found = regressions(tallies, self._families)
            if found or time.monotonic() - began + projected > budget or index >= last:
                undecided = [t for t in tallies if not t.decided]
                for tally in undecided:
                    tally.look(alpha, final=True)
                for family in self._families:
                    if not family.decided:
                        family.look(family_alpha, final=True)
                why = f"a regression in {found[0].name}, so exit 1 is certain; " if found else ""
                self.progress(
                    f"stopped after {index} rounds ({time.monotonic() - began:.0f} s of "
                    f"{budget:.0f} s): {why}{len(undecided)} benchmark(s) judged on what was "
                    "measured"
                )
                return not found and index < last
            index += 1
            self._round(active, rng, index, keep=True)
            if index in looks:
                for tally in active:
                    if not tally.decided:
                        tally.look(alpha)
            if index in family_looks:
                for family in self._families:
                    if not family.decided:
                        family.look(family_alpha)
            if index in looks or index in family_looks:
                left = sum(not t.decided for t in tallies)
                families_left = sum(not f.decided for f in self._families)
                self.progress(
                    f"round {index}: {len(tallies) - left} of {len(tallies)} benchmarks decided"
                    + (
                        f", {len(self._families) - families_left} of {len(self._families)} families"
                        if self._families
                        else ""
                    )
                    + f" ({time.monotonic() - began:.0f} s of {budget:.0f} s)"
                )

    def _round(self, tallies: list[Tally], rng: random.Random, index: int, keep: bool) -> None:
        order = list(range(len(tallies)))
        rng.shuffle(order)
        for position in order:
            tally = tallies[position]
            # a benchmark's own parity, so its rounds alternate AB, BA whoever is left
            parity = self._parity[tally.name]
            first, second = SIDES if (index + parity) % 2 == 0 else SIDES[::-1]
            began = time.monotonic()
            # a warm-up round is the same, discarded
            seconds = {label: self._measure(label, tally) for label in (first, second)}
            # what one round of this benchmark costs, for the budget
            self._pair_s[tally.name] = time.monotonic() - began
            if keep:
                tally.add_round(seconds["base"], seconds["candidate"], index)

    def _measure(self, label: str, tally: Tally) -> float:
        timeout = max(MIN_ROUND_TIMEOUT_S, 10 * self._pair_s.get(tally.name, 0.0))
        reply = self.sides[label].request(timeout, "round", name=tally.name)
        tally.record_accuracy(label, reply["accuracy"])
        return float(reply["seconds"])
