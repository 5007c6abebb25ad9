"""Gating any pytest-benchmark suite the same way: whole suite runs interleaved, AB then BA.

``mlcpu gate BASE CANDIDATE --pytest benchmarks`` runs ``python -m pytest benchmarks
--benchmark-json=...`` in each tree (the tree first on ``sys.path``, so each side imports its
own code), one run a side per round, base first in one round and candidate first in the next;
a round's observation per benchmark is log(candidate median / base median). pytest-benchmark
times the rounds inside a run; the gate pairs runs that were next to each other in time, which
is what the suite alone cannot do (its issues #2 and #24 ask for in-job A/B comparison).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlcpu.gate.catalogue import Benchmark, select
from mlcpu.gate.judge import Tally
from mlcpu.gate.session import SIDES, Gate
from mlcpu.gate.sides import Hello, SideFailed

RUN_TIMEOUT_S = 1800.0


class SuiteGate(Gate):
    """A gate whose unit is one pytest run of the suite in each tree."""

    def __init__(
        self,
        trees: dict[str, Any],
        suite: str,
        pytest_args: list[str],
        only: tuple[str, ...] = (),
        **kw: Any,
    ) -> None:
        super().__init__(trees, [], **kw)
        self.suite = suite
        self.pytest_args = pytest_args
        self.only = only
        self._running: subprocess.Popen[str] | None = None
        self._round_s = self._discovery_s = 0.0
        self._folder = Path(".")

    def _start(self, folder: Path) -> dict[str, Hello]:
        self._folder = folder  # the gate's private folder, removed at the end
        hellos = {}
        for label in SIDES:
            tree = Path(self.trees[label])
            if not (tree / self.suite).exists():
                raise SideFailed(f"{label} tree {str(tree)!r} has no {self.suite!r}")
            hellos[label] = Hello(
                mlcpu_file=str(tree),
                version="-",
                strategies=[],
                python=sys.version.split()[0],
                pid=0,
            )
            self.progress(f"{label}: python -m pytest {self.suite} in {tree}")
        return hellos

    def _prepare(self) -> list[Tally]:
        """One run a side (discarded, like a warm-up): both suites must hold the same names."""
        found = {label: self._run_suite(label) for label in SIDES}
        names = {label: set(results) for label, results in found.items()}
        if names["base"] != names["candidate"]:
            only = sorted(names["base"] ^ names["candidate"])
            raise SideFailed(
                "the two trees do not offer the same workloads: benchmarks only in one tree: "
                + ", ".join(only[:5])
                + (" ..." if len(only) > 5 else "")
            )
        self.benchmarks = [found["base"][name][2] for name in sorted(names["base"])]
        if self.only:
            self.benchmarks = select(self.benchmarks, self.only)
        return [self.tally(b) for b in self.benchmarks]

    def _round(self, tallies: list[Tally], rng: random.Random, index: int, keep: bool) -> None:
        if not keep:
            return  # the discovery runs were the warm-up
        first, second = SIDES if index % 2 == 0 else SIDES[::-1]
        began = time.monotonic()
        runs = {label: self._run_suite(label) for label in (first, second)}
        self._round_s = time.monotonic() - began
        for tally in tallies:
            if all(tally.name in runs[label] for label in SIDES):
                for label in SIDES:
                    tally.record_accuracy(label, runs[label][tally.name][1])
                base, candidate = (runs[label][tally.name][0] for label in SIDES)
                tally.add_round(base, candidate, index)

    def _projected(self, active: list[Tally]) -> float:
        return self._round_s  # a round runs the whole suite whatever is left to decide

    def _reachable_rounds(self, began: float) -> int:
        if not self._round_s:  # before the first round: from the discovery runs
            self._round_s = 2 * self._discovery_s
        return super()._reachable_rounds(began)

    def _run_suite(self, label: str) -> dict[str, tuple[float, dict[str, Any], Benchmark]]:
        tree = Path(self.trees[label])
        output = self._folder / f"{label}.json"
        output.unlink(missing_ok=True)
        command = [sys.executable, "-m", "pytest", self.suite, "-q", "-p", "no:cacheprovider"]
        command += [f"--benchmark-json={output}", *self.pytest_args]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
        began = time.monotonic()
        self._running = subprocess.Popen(
            command,
            cwd=tree,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = self._running.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._kill_running()
            raise SideFailed(f"{label} suite run did not finish in {RUN_TIMEOUT_S:.0f} s") from None
        code, self._running = self._running.returncode, None
        self._discovery_s = time.monotonic() - began
        if code != 0 or not output.exists():
            tail = " | ".join(line for line in out.strip().splitlines()[-3:])
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise SideFailed(f"{label} suite run (pytest {self.suite}) {how}: {tail}")
        return _read(json.loads(output.read_text()))

    def _kill_running(self) -> None:
        if self._running is not None and self._running.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._running.pid, signal.SIGKILL)
            self._running.wait(timeout=10)

    def _stop(self, kill: bool) -> None:
        self._kill_running()


def _read(document: dict[str, Any]) -> dict[str, tuple[float, dict[str, Any], Benchmark]]:
    """name -> (median seconds, accuracy by configuration, the benchmark as the gate names it)."""
    found = {}
    benchmarks = document.get("benchmarks") or []
    short = [bench["name"] for bench in benchmarks]
    for bench in benchmarks:
        extra = bench.get("extra_info") or {}
        accuracy = extra.get("accuracies") or (
            {"accuracy": extra["accuracy"]} if extra.get("accuracy") is not None else {}
        )
        # the test's own name where it is unique (the limits' patterns match it), else in full
        name = bench["name"] if short.count(bench["name"]) == 1 else bench["fullname"]
        params = bench.get("params") or {}
        found[name] = (
            float(bench["stats"]["median"]),
            {str(k): v for k, v in accuracy.items()},
            Benchmark(
                name=name,
                kind="pytest",
                strategy=str(params.get("strategy", extra.get("strategy", "-"))),
                dataset=str(params.get("dataset", extra.get("dataset", "-"))),
                estimators=(),
                group=str(bench.get("group") or ""),
                params=params,
                source=str(bench.get("fullname") or name),
            ),
        )
    return found
