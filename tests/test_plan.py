"""``mlcpu plan``: the plans' cost model on W workers, and the command that exposes it."""

from __future__ import annotations

import json

import pytest

from mlcpu.plans.makespan import makespans, shared_finish
from mlcpu.plans.schedule import Costs
from mlcpu.records.config import make_configs
from tests.conftest import run_cli

TUTORIAL = make_configs([10, 50, 100, 200])


def test_whole_configurations_saturate_at_total_over_largest():
    costs = Costs(per_tree_s=0.01, per_piece_s=0.0)
    many = makespans(TUTORIAL, 128, costs)
    assert many["sequential"] == pytest.approx(3.6)
    assert many["sequential"] / many["whole"] == pytest.approx(360 / 200)
    assert makespans(TUTORIAL, 4, costs)["whole"] == pytest.approx(many["whole"])
    # Pieces and prefixes keep scaling; prefixes train 200 trees, not 360.
    assert many["sequential"] / many["pieces"] > 50
    assert many["prefixes"] < many["pieces"]
    assert makespans(TUTORIAL, 1, costs)["prefixes"] == pytest.approx(2.0)


def test_the_per_unit_cost_ends_the_scaling():
    cheap, dear = Costs(0.01, 0.0), Costs(0.01, 0.05)
    assert makespans(TUTORIAL, 128, dear)["pieces"] > 2 * makespans(TUTORIAL, 128, cheap)["pieces"]


def test_workers_sharing_cores_share_their_time():
    costs = Costs(per_tree_s=0.01, per_piece_s=0.0)
    own = makespans(TUTORIAL, 2, costs)
    shared = makespans(TUTORIAL, 4, costs, cores=2)
    assert shared["pieces"] == pytest.approx(own["pieces"], rel=0.05)
    assert shared["sequential"] == own["sequential"]
    # The 200-tree forest shares a core only while others run, then ends alone at full
    # speed: a little slower than on 2 workers of their own, far from twice as slow.
    assert own["whole"] < shared["whole"] < 1.2 * own["whole"]
    assert shared["prefixes"] == pytest.approx(own["prefixes"], rel=0.1)


def test_processor_sharing_gives_a_lone_unit_its_core_back():
    # four units on 4 workers and 2 cores: all at half speed until the short ones end at 2 s,
    # then the long one alone at full speed for its 3 s left
    assert shared_finish([4, 1, 1, 1], 4, 2) == pytest.approx(5.0)
    assert shared_finish([1, 1, 1, 1], 4, 2) == pytest.approx(2.0)
    assert shared_finish([4, 1, 1, 1], 2, 2) == pytest.approx(4.0)  # no sharing: greedy
    assert shared_finish([3, 3], 1, 4) == pytest.approx(6.0)


def test_the_command_measures_and_predicts(tmp_path):
    path = tmp_path / "plan.json"
    done = run_cli("plan", "--dataset", "iris", "--workers", "1,2,8,32", "--json", str(path))
    assert done.returncode == 0, done.stderr
    assert "Predicted seconds" in done.stdout
    document = json.loads(path.read_text())
    assert document["schema"] == "mlcpu.plan/1"
    rows = {row["workers"]: row["predicted_s"] for row in document["rows"]}
    assert sorted(rows) == [1, 2, 8, 32]
    assert len({r["sequential"] for r in rows.values()}) == 1
    assert rows[8]["whole"] == pytest.approx(rows[32]["whole"])  # 4 configurations: saturated
    assert rows[32]["prefixes"] < rows[2]["prefixes"]
    assert document["costs"]["per_tree_s"] > 0


def test_the_unit_cost_can_be_measured_on_dask(tmp_path):
    """--engine dask measures a unit's round trip on a real embedded LocalCluster: dearer than
    on a fork pool (a scheduler between the parent and the worker)."""
    pytest.importorskip("distributed")
    costs = {}
    for engine in ("pool", "dask"):
        path = tmp_path / f"{engine}.json"
        extra = ["--probe-workers", "1"] if engine == "dask" else []
        done = run_cli(
            "plan", "--dataset", "iris", "--workers", "2", "--engine", engine, *extra,
            "--json", str(path), timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert ("on Dask" in done.stdout) == (engine == "dask"), done.stdout
        document = json.loads(path.read_text())
        assert document["engine"] == engine
        costs[engine] = document["costs"]["per_piece_s"]
    assert costs["dask"] > costs["pool"] > 0, costs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers"),
        (["--cores", "-1"], "--cores"),
        (["--engine", "ray"], "--engine"),
        (["--probe-workers", "2"], "--engine dask only"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--engine dask only"),
        (["--engine", "dask", "--scheduler", "nowhere"], "--scheduler expects"),
        (
            ["--engine", "dask", "--scheduler", "tcp://127.0.0.1:1", "--probe-workers", "2"],
            "--probe-workers sizes an embedded cluster",
        ),
    ],
)
def test_bad_plan_options_exit_2(args, message):
    done = run_cli("plan", *args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr
