"""``mlcpu sweep`` through a real subprocess: the mlcpu.sweep/1 document and bad input."""

from __future__ import annotations

import json

import pytest

from mlcpu.commands.sweep import crossover
from tests.conftest import run_cli

SWEEP_KEYS = [
    "schema",
    "mlcpu_version",
    "created",
    "status",
    "machine",
    "parameter",
    "values",
    "points",
    "crossover",
]


def test_sweep_over_n_samples_writes_one_complete_run_per_size(tmp_path):
    path = tmp_path / "sweep.json"
    done = run_cli(
        "sweep", "--n-samples", "600,300", "--n-features", "6", "--estimators", "4,12",
        "--strategies", "balanced,threads", "--no-ceiling", "--json", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Sweep over n_samples" in done.stdout
    document = json.loads(path.read_text())
    assert list(document) == SWEEP_KEYS
    assert document["schema"] == "mlcpu.sweep/1"
    assert document["status"] == "ok"
    assert document["parameter"] == "n_samples"
    assert document["values"] == [300, 600]  # growing
    assert [p["value"] for p in document["points"]] == [300, 600]
    for point in document["points"]:
        assert list(point) == ["value", "run"]
        run = point["run"]
        assert run["schema"] == "mlcpu.run/1"
        assert run["workload"]["n_samples"] == point["value"]
        assert run["workload"]["estimators"] == [4, 12]
        assert [s["name"] for s in run["strategies"]] == ["sequential", "balanced", "threads"]
    assert set(document["crossover"]) == {"balanced", "threads"}
    assert all(v in (None, 300, 600) for v in document["crossover"].values())


def test_sweep_over_growing_estimator_lists(tmp_path):
    path = tmp_path / "sweep.json"
    done = run_cli(
        "sweep", "--dataset", "iris", "--estimators", "3", "--estimators", "3,9",
        "--strategies", "sequential,threads", "--no-ceiling", "--json", str(path), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(path.read_text())
    assert document["parameter"] == "estimators"
    assert document["values"] == [[3], [3, 9]]
    assert [p["run"]["workload"]["estimators"] for p in document["points"]] == [[3], [3, 9]]
    assert list(document["crossover"]) == ["threads"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--n-samples", "100,200", "--estimators", "5", "--estimators", "5,10"],
            "sweep one parameter at a time",
        ),
        (["--n-samples", "500"], "nothing to sweep: --n-samples 500 is one size"),
        (["--dataset", "iris"], "--n-samples sweeps the synthetic dataset only"),
        (["--n-samples", "100,x"], "'x' is not an integer"),
    ],
)
def test_bad_sweeps_are_refused_in_one_line(args, message):
    done = run_cli("sweep", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def point(value, **speedups):
    strategies = [{"name": "sequential", "speedup": 1.0}]
    strategies += [{"name": name, "speedup": s} for name, s in speedups.items()]
    return {"value": value, "run": {"strategies": strategies}}


def test_crossover_is_the_smallest_value_where_speedup_exceeds_one():
    points = [
        point(1000, joblib=0.4, balanced=0.9),
        point(10000, joblib=0.95, balanced=1.6),
        point(50000, joblib=1.3, balanced=1.8),
    ]
    assert crossover(points) == {"joblib": 50000, "balanced": 10000}
    assert crossover(points[:1]) == {"joblib": None, "balanced": None}
