"""One side of ``mlcpu gate``: a process that times benchmarks with *its own tree's* ``mlcpu``.

The gate copies this file out of the package and runs it as ``python side.py TREE``, so nothing
of the gate's own ``mlcpu`` is importable here: only the standard library, then the ``mlcpu``
found first in TREE. It uses that tree's **public** API only (the names of ``mlcpu.__all__``
and ``Strategy.start/run/close``), so a base commit from before the gate existed still works;
a tree whose ``mlcpu`` lacks one of ``REQUIRED`` is reported as too old.

Protocol: one JSON object a line. Requests come on stdin (``prepare``, ``round``, ``quit``);
replies go to the original stdout, which is kept for them alone: whatever the code under test
prints goes to stderr. Datasets are loaded and pools started in ``prepare``, outside every
timed region; ``round`` times exactly one unit (``Strategy.run``, or for a cold start-up
creating a pool plus its first result), as the benchmark suite does.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

REQUIRED = (
    "__version__",
    "load_dataset",
    "make_configs",
    "Workload",
    "create_strategy",
    "strategy_names",
)


class Side:
    """The prepared benchmarks of one side: datasets loaded once, warm pools started once."""

    def __init__(self, mlcpu: Any) -> None:
        self.mlcpu = mlcpu
        self.datasets: dict[tuple[Any, ...], Any] = {}
        self.pools: dict[str, Any] = {}
        self.benchmarks: dict[str, dict[str, Any]] = {}
        self.workloads: dict[str, Any] = {}

    def dataset(self, spec: dict[str, Any]) -> Any:
        key = (spec["dataset"], spec.get("n_samples"), spec.get("n_features"), spec["seed"])
        if key not in self.datasets:
            options: dict[str, Any] = {"seed": spec["seed"]}
            if spec.get("n_samples") is not None:
                options.update(n_samples=spec["n_samples"], n_features=spec["n_features"])
            self.datasets[key] = self.mlcpu.load_dataset(spec["dataset"], **options)
        return self.datasets[key]

    def pool(self, name: str) -> Any:
        if name not in self.pools:
            strategy = self.mlcpu.create_strategy(name)
            strategy.start()
            self.pools[name] = strategy
        return self.pools[name]

    def prepare(self, specs: list[dict[str, Any]]) -> dict[str, Any]:
        """Load data and start warm pools; describe each benchmark so the two sides can be
        checked to measure the same thing."""
        available = set(self.mlcpu.strategy_names())
        described = {}
        for spec in specs:
            if spec["strategy"] not in available:
                raise LookupError(
                    f"strategy {spec['strategy']!r} does not exist in this tree "
                    f"(it has {', '.join(sorted(available))})"
                )
            data = self.dataset(spec)
            params = spec.get("params") or {}
            configs = self.mlcpu.make_configs(
                spec["estimators"], model=spec.get("model", "random_forest"), params=params
            )
            self.workloads[spec["name"]] = self.mlcpu.Workload(data, configs, seed=spec["seed"])
            self.benchmarks[spec["name"]] = spec
            workers = None
            if spec["kind"] != "startup" or spec.get("mode") == "warm":
                workers = getattr(self.pool(spec["strategy"]), "workers", None)
            described[spec["name"]] = {
                "dataset": {
                    "name": spec["dataset"],
                    "shape": [int(x) for x in data.X_train.shape],
                    "test_rows": int(data.X_test.shape[0]),
                },
                "workers": workers,
            }
        return {"benchmarks": described}

    def round(self, name: str) -> dict[str, Any]:
        """Time one unit of benchmark ``name``; only ``Strategy.run`` (or a cold start) is
        inside the clock."""
        spec = self.benchmarks[name]
        workload = self.workloads[name]
        if spec["kind"] == "startup" and spec.get("mode") == "cold":
            began = time.perf_counter()
            strategy = self.mlcpu.create_strategy(spec["strategy"])
            try:
                strategy.start()
                results = strategy.run(workload)
                seconds = time.perf_counter() - began
            finally:
                strategy.close()
        else:
            strategy = self.pool(spec["strategy"])
            began = time.perf_counter()
            results = strategy.run(workload)
            seconds = time.perf_counter() - began
        accuracy = {str(r.n_estimators): r.accuracy for r in results}
        return {"seconds": seconds, "accuracy": accuracy}

    def close(self) -> None:
        for strategy in self.pools.values():
            try:
                strategy.close()
            except Exception:  # closing after a failure: the failure was already reported
                traceback.print_exc()
        self.pools.clear()


def main(argv: list[str]) -> int:
    tree = os.path.abspath(argv[1])
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints of the code under test

    def send(**message: Any) -> None:
        replies.write(json.dumps(message) + "\n")

    sys.path.insert(0, tree)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [tree, *filter(None, [os.environ.get("PYTHONPATH")])]
    )  # spawned workers (loky) import this tree's mlcpu too
    try:
        import mlcpu
    except BaseException as exc:
        send(event="error", phase="import", message=f"cannot import mlcpu: {exc!r}")
        return 2
    missing = [name for name in REQUIRED if not hasattr(mlcpu, name)]
    send(
        event="hello",
        mlcpu_file=os.path.abspath(mlcpu.__file__ or ""),
        version=str(getattr(mlcpu, "__version__", "?")),
        missing=missing,
        strategies=[] if missing else list(mlcpu.strategy_names()),
        python=sys.version.split()[0],
        pid=os.getpid(),
    )
    if missing:
        return 2
    side = Side(mlcpu)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            op = request.get("op")
            if op == "quit":
                break
            try:
                if op == "prepare":
                    reply = side.prepare(request["benchmarks"])
                elif op == "round":
                    reply = side.round(request["name"])
                else:
                    raise ValueError(f"unknown request {op!r}")
            except Exception as exc:
                send(
                    event="error",
                    phase=op,
                    message=f"{type(exc).__name__}: {exc}".splitlines()[0],
                    traceback=traceback.format_exc(),
                )
                return 1
            send(event="ok", **reply)
    finally:
        side.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
