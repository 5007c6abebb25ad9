"""How far to trust ``mlcpu gate``: false alarms on identical trees, detection of real slowdowns.

Not a test (pytest does not collect it); it takes hours of machine time at the defaults::

    python benchmarks/evaluate_gate.py --runs 10 --neighbour ../shared/tools/noisy-neighbour.py

It exports the committed project (``git archive HEAD``) into a base tree, an identical copy, and
copies made slower by a real code change: after every forest fit in ``mlcpu/training/fit.py`` the
slowed copy also fits a throwaway forest with 10% (or 5%) as many trees on the same data -- the
same CPU work per tree, the same model and accuracy, as a library upgrade that made fitting
slower would. Each gate run holds the CPU lock (``flock``), so only one measurement of ours runs
at a time; ``--neighbour`` keeps a noisy neighbour burning a core for the whole evaluation.
``--compare`` also runs the benchmark suite in both trees back to back and ``mlcpu compare``s
the two files, the method the gate replaces. Results: one JSON per run and ``summary.json``
in ``--out``, and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = "/tmp/mlcpu-cpu.lock"
FIT_LINE = "    estimator.fit(*fit_rows(dataset, config))\n"
SLOW_PATCH = """    estimator.fit(*fit_rows(dataset, config))
    _extra = round(config.n_estimators * {fraction})  # evaluate_gate.py: a genuine slowdown
    if _extra:
        config.build(random_state=seed + 1, n_jobs=n_jobs).set_params(n_estimators=_extra).fit(
            *fit_rows(dataset, config)
        )
"""
SCENARIOS = {"same": None, "slow5": 0.05, "slow10": 0.10, "slow20": 0.20, "slow50": 0.50}


def export_tree(folder: Path, slowdown: float | None) -> Path:
    """The committed project in ``folder``; with ``slowdown``, fits do that much more work."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    if slowdown is not None:
        slow(folder, slowdown)
    return folder


def slow(tree: Path, fraction: float) -> None:
    training = tree / "mlcpu" / "training" / "fit.py"
    text = training.read_text(encoding="utf-8")
    if text.count(FIT_LINE) != 1:
        raise SystemExit(f"cannot find the one fit line to slow down in {training}")
    variables = ("config", "seed", "n_jobs")
    body = text.split(FIT_LINE)[0].rsplit("\ndef ", 1)[-1]
    if not all(v in body for v in variables):
        raise SystemExit(f"the fit in {training} no longer has {variables} in scope")
    training.write_text(text.replace(FIT_LINE, SLOW_PATCH.format(fraction=fraction)))


def gate(base: Path, candidate: Path, out: Path, extra: list[str]) -> dict:
    command = [
        "flock",
        LOCK,
        sys.executable,
        "-m",
        "mlcpu",
        "gate",
        str(base),
        str(candidate),
        "--json",
        str(out),
        *extra,
    ]
    began = time.monotonic()
    # the gate itself runs from the exported base tree: the method under evaluation stays the
    # committed one even while the checkout changes
    done = subprocess.run(command, capture_output=True, text=True, cwd=base, check=False)
    record = {"exit": done.returncode, "wall_s": time.monotonic() - began}
    if out.exists():
        document = json.loads(out.read_text())
        mdes = [
            b["minimum_detectable_slowdown"]
            for b in document["benchmarks"]
            if b["minimum_detectable_slowdown"] is not None
        ]
        record.update(
            summary=document["summary"],
            elapsed_s=document["elapsed_s"],
            mde_median=sorted(mdes)[len(mdes) // 2] if mdes else None,
            mde_min=min(mdes) if mdes else None,
            regressions=[b["name"] for b in document["benchmarks"] if b["verdict"] == "regression"]
            + [f["name"] for f in document.get("families", []) if f["verdict"] == "regression"],
            families={
                f["family"]: {
                    key: f[key] for key in ("rounds", "ratio", "ratio_low", "ratio_high", "verdict")
                }
                | {"mde": f["minimum_detectable_slowdown"]}
                for f in document.get("families", [])
            },
            inconclusive=[
                b["name"] for b in document["benchmarks"] if b["verdict"] == "inconclusive"
            ],
        )
    else:
        record["stderr"] = done.stderr.strip().splitlines()[-3:]
    return record


def compare(base: Path, candidate: Path, out: Path, select: str) -> dict:
    """The method the gate replaces: the suite in each tree, back to back, then mlcpu compare."""
    files = []
    for label, tree in (("base", base), ("candidate", candidate)):
        path = out.with_name(f"{out.stem}-{label}.json")
        command = [
            "flock",
            LOCK,
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            select,
            f"--benchmark-json={path}",
        ]
        subprocess.run(command, cwd=tree, capture_output=True, check=False)
        files.append(path)
    done = subprocess.run(
        [sys.executable, "-m", "mlcpu", "compare", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return {"exit": done.returncode, "last": done.stdout.strip().splitlines()[-1:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--scenarios", default="same,slow5,slow10,slow20")
    parser.add_argument("--neighbour", type=Path, help="noisy-neighbour.py to run throughout")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "gate-eval")
    parser.add_argument("--compare", action="store_true", help="also mlcpu compare, back to back")
    parser.add_argument("--compare-runs", type=int, help="mlcpu compare in the first N runs only")
    parser.add_argument("--compare-select", default="test_run", help="pytest -k for --compare")
    parser.add_argument("--table", type=Path, help="only print the table of this summary.json")
    parser.add_argument("gate_options", nargs="*", help="passed to mlcpu gate (after --)")
    args = parser.parse_args()
    if args.table is not None:
        print(table(json.loads(args.table.read_text())))
        return 0
    scenarios = args.scenarios.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    trees = args.out / "trees"
    base = export_tree(trees / "base", None)
    candidates = {name: export_tree(trees / name, SCENARIOS[name]) for name in scenarios}
    neighbour = None
    if args.neighbour is not None:
        neighbour = subprocess.Popen(
            [sys.executable, str(args.neighbour), "--seconds", "86400", "--seed", "1"],
            start_new_session=True,
        )
    results: dict[str, list[dict]] = {name: [] for name in scenarios}
    try:
        for run in range(args.runs):
            for name in scenarios:  # interleaved, so drift over the hours hits all alike
                out = args.out / f"{name}-{run}.json"
                load = os.getloadavg()[0]
                record = gate(base, candidates[name], out, args.gate_options)
                record["load_before"], record["load_after"] = load, os.getloadavg()[0]
                if args.compare and (args.compare_runs is None or run < args.compare_runs):
                    record["compare"] = compare(base, candidates[name], out, args.compare_select)
                results[name].append(record)
                print(json.dumps({"scenario": name, "run": run, **record}), flush=True)
                (args.out / "summary.json").write_text(json.dumps(results, indent=1))
    finally:
        if neighbour is not None:
            os.killpg(neighbour.pid, signal.SIGTERM)
    print(table(results))
    return 0


def table(results: dict[str, list[dict]]) -> str:
    """The README's table: exits, what the gate estimated and could detect, and the contrast."""
    lines = [
        "| candidate | runs | exit 0 | exit 1 | exit 3 | exit 2 | gate s (max) "
        "| run family: estimate (median) | could detect, one benchmark / a family (medians) "
        "| mlcpu compare exit 1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, records in results.items():
        codes = [r["exit"] for r in records]
        compared = [r["compare"]["exit"] for r in records if "compare" in r]
        walls = [r.get("elapsed_s", r["wall_s"]) for r in records]
        runs = [r["families"]["run"] for r in records if "run" in r.get("families", {})]
        estimate = _median_pct([f["ratio"] - 1 for f in runs if f["ratio"] is not None])
        single = _median_pct(
            [r["mde_median"] for r in records if r.get("mde_median") is not None], signed=False
        )
        broad = _median_pct(
            [f["mde"] for r in records for f in r.get("families", {}).values() if f["mde"]],
            signed=False,
        )
        contrast = f"{compared.count(1)} of {len(compared)}" if compared else "-"
        lines.append(
            f"| {name} | {len(codes)} | {codes.count(0)} | {codes.count(1)} | {codes.count(3)} "
            f"| {codes.count(2)} | {max(walls):.0f} | {estimate} | {single} / {broad} "
            f"| {contrast} |"
        )
    return "\n".join(lines)


def _median_pct(values: list[float], signed: bool = True) -> str:
    if not values:
        return "-"
    middle = sorted(values)[len(values) // 2] * 100
    return f"{middle:+.1f}%" if signed else f"{middle:.1f}%"


if __name__ == "__main__":
    sys.exit(main())
