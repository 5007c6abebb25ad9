"""The measured ceiling: how it is measured, when it is skipped, and of_ceiling in the results."""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console

from mlcpu import ceiling
from mlcpu.comparing import ratios
from mlcpu.records import results
from mlcpu.records.config import make_configs
from mlcpu.reporting import console, lines
from mlcpu.runner import Runner
from mlcpu.training.workload import Workload
from tests.conftest import FAULTY, run_cli, worker_children

FAST = ceiling.StoppingRule(time_bound_s=1.0)


def test_measures_the_same_unit_alone_and_on_every_worker_in_pairs(iris_workload):
    measured = ceiling.measure(iris_workload, workers=2, target_s=0.03, rule=FAST)
    assert worker_children() == []
    assert measured.skipped is None
    assert measured.rounds == len(measured.alone_s) == len(measured.together_s)
    assert measured.rounds >= ratios.fewest_rounds(0.05)
    logs = ceiling.log_ratios(measured.alone_s, measured.together_s, 2)
    interval = ratios.ratio_interval(logs, 0.05)
    assert (measured.ratio, measured.low, measured.high) == (
        interval.estimate,
        interval.low,
        interval.high,
    )
    assert measured.low <= measured.ratio <= measured.high
    assert measured.level == 0.95
    assert measured.stopped.startswith(("interval within", "time bound", "round limit"))
    assert 2 <= measured.trees <= ceiling.MAX_TREES
    assert measured.unit == f"a {measured.trees}-tree random_forest on iris"
    assert measured.seconds >= sum(measured.alone_s) + sum(measured.together_s)
    assert measured.for_workers(1) == 1.0
    assert measured.for_workers(2) == measured.ratio
    assert measured.for_workers(3) is None
    assert measured.interval_for(1) == (1.0, 1.0)
    assert measured.interval_for(2) == (measured.low, measured.high)
    assert measured.interval_for(3) is None


def _rounds_until_stop(rule, timings, round_s):
    """Feed (alone, together) timings one round at a time to the rule, as ``measure`` does."""
    alone, together = [], []
    for a, t in timings:
        alone.append(a)
        together.append(t)
        stopped = rule.stop(ceiling.log_ratios(alone, together, 2), len(alone) * round_s, round_s)
        if stopped is not None:
            return len(alone), stopped
    return len(alone), None


def _timings(ratios_seen):
    return [(0.1, 2 * 0.1 / r) for r in ratios_seen]


STEADY = _timings([1.80, 1.82, 1.79, 1.81, 1.80, 1.83, 1.78, 1.81] * 5)
NOISY = _timings([1.4, 1.9, 1.6, 2.0, 1.5, 1.8, 1.3, 1.95] * 5)


def test_steady_rounds_stop_at_the_precision_target_after_the_fewest_rounds():
    rule = ceiling.StoppingRule(time_bound_s=100.0)
    assert _rounds_until_stop(rule, STEADY, 0.1) == (
        max(rule.min_rounds, ratios.fewest_rounds(rule.alpha)),
        "interval within ±3%",
    )


def test_noisy_rounds_stop_before_a_round_would_pass_the_time_bound():
    rule = ceiling.StoppingRule(time_bound_s=1.05)
    assert _rounds_until_stop(rule, NOISY, 0.1) == (10, "time bound (1.05 s)")


def test_noisy_rounds_stop_at_the_round_limit():
    rule = ceiling.StoppingRule(time_bound_s=100.0, max_rounds=12)
    assert _rounds_until_stop(rule, NOISY, 0.1) == (12, "round limit (12)")


def test_the_minimum_rounds_are_measured_even_past_the_time_bound():
    rule = ceiling.StoppingRule(time_bound_s=0.1, min_rounds=8)
    assert _rounds_until_stop(rule, STEADY, 0.5) == (8, "interval within ±3%")
    assert _rounds_until_stop(rule, NOISY, 0.5) == (8, "time bound (0.1 s)")


def test_within_compares_both_ends_with_the_estimate():
    assert ceiling.within(1.75, 1.85, 1.80, 0.03)
    assert not ceiling.within(1.74, 1.85, 1.80, 0.03)
    assert not ceiling.within(1.75, 1.86, 1.80, 0.03)


def test_ceiling_json_round_trip_keeps_the_interval():
    measured = ceiling.Ceiling(
        ratio=1.86, workers=2, unit="a 40-tree random_forest on iris", trees=40,
        alone_s=[0.1] * 6, together_s=[0.107] * 6, seconds=2.1,
        low=1.81, high=1.91, level=0.95, rounds=6, stopped="interval within ±3%",
    )  # fmt: skip
    document = json.loads(json.dumps(measured.to_dict()))
    assert {"ratio", "low", "high", "level", "rounds", "stopped", "method"} <= set(document)
    assert ceiling.Ceiling.from_dict(document) == measured


def test_a_ceiling_recorded_before_it_had_an_interval_still_loads(tmp_path):
    old = {
        "ratio": 1.6, "workers": 2, "unit": "a 40-tree random_forest on iris", "trees": 40,
        "alone_s": [0.077, 0.0875], "together_s": [0.2018, 0.0962], "seconds": 0.68,
        "method": "one unit of training ...", "skipped": None,
    }  # fmt: skip
    loaded = ceiling.Ceiling.from_dict(old)
    assert (loaded.ratio, loaded.low, loaded.high, loaded.rounds) == (1.6, None, None, None)
    assert loaded.interval_for(2) is None
    run = _run_with(loaded, speedup=1.7)
    path = tmp_path / "old.json"
    document = run.to_dict()
    for record in document["strategies"]:
        del record["of_ceiling_low"], record["of_ceiling_high"]
    path.write_text(json.dumps(document))
    reloaded = results.load(str(path))
    assert reloaded.ceiling == loaded
    reloaded.compute_ratios()
    assert reloaded.strategies[1].of_ceiling == pytest.approx(1.7 / 1.6)
    assert reloaded.strategies[1].of_ceiling_low is None
    assert lines.of_ceiling_text(reloaded.strategies[1]) == "106% (ceiling has no interval)"
    assert "(best of each, no interval)" in console.ceiling_line(reloaded.ceiling)


def _run_with(measured, speedup, workers=2):
    run = results.RunResults(machine={}, workload={})
    run.ceiling = measured
    run.strategies = [
        results.StrategyResult("sequential", "sequential", 1, runs_s=[1.0]),
        results.StrategyResult("balanced", "balanced", workers, runs_s=[1.0 / speedup]),
    ]
    run.compute_ratios()
    return run


INTERVAL = ceiling.Ceiling(
    ratio=1.80, workers=2, unit="a 40-tree random_forest on iris", trees=40,
    low=1.75, high=1.86, level=0.95, rounds=9, stopped="interval within ±3%", seconds=2.0,
)  # fmt: skip


def test_of_ceiling_is_given_against_both_ends_of_the_interval():
    balanced = _run_with(INTERVAL, speedup=1.854).strategies[1]
    assert balanced.of_ceiling == pytest.approx(1.854 / 1.80)
    assert (balanced.of_ceiling_low, balanced.of_ceiling_high) == pytest.approx(
        (1.854 / 1.86, 1.854 / 1.75)
    )
    record = balanced.to_dict()
    assert record["of_ceiling_low"] == balanced.of_ceiling_low
    assert record["of_ceiling_high"] == balanced.of_ceiling_high
    assert lines.of_ceiling_text(balanced) == "103% (100-106%)"


@pytest.mark.parametrize("speedup", [1.2, 1.79, 1.80, 1.81, 1.854, 1.95, 2.3])
@pytest.mark.parametrize(
    "measured",
    [INTERVAL, ceiling.Ceiling.from_dict({**INTERVAL.to_dict(), "low": None, "high": None})],
)
def test_the_console_never_shows_more_than_100_percent_of_ceiling_without_a_range(
    measured, speedup
):
    run = _run_with(measured, speedup)
    screen = Console(record=True, width=200)
    console.print_summary(screen, run)
    text = screen.export_text()
    cells = [line.split("│")[7].strip() for line in text.splitlines() if "balanced" in line]
    assert len(cells) == 1
    percent = int(cells[0].split("%")[0])
    if percent > 100:
        assert re.fullmatch(r"\d+% \((\d+-\d+%|ceiling has no interval)\)", cells[0])
    assert "ceiling: 1.80x" in text


def test_the_ceiling_line_shows_the_interval_and_why_measuring_stopped():
    assert console.ceiling_line(INTERVAL) == (
        "ceiling: 1.80x (95% CI 1.75-1.86x, 9 rounds) on 2 workers (a 40-tree random_forest "
        "on iris, alone vs on every worker at once; measured in 2.00 s)"
    )
    bounded = ceiling.Ceiling.from_dict({**INTERVAL.to_dict(), "stopped": "time bound (3 s)"})
    assert "(95% CI 1.75-1.86x, 9 rounds; stopped by the time bound (3 s))" in (
        console.ceiling_line(bounded)
    )


def test_one_worker_needs_no_measurement(iris_workload):
    assert ceiling.measure(iris_workload, workers=1).ratio == 1.0


def test_a_custom_model_is_not_run_outside_its_tasks(iris):
    workload = Workload(iris, make_configs([5], model=FAULTY + "kill"), seed=0)
    measured = ceiling.measure(workload, workers=2)
    assert measured.ratio is None
    assert "custom model" in measured.skipped


@pytest.mark.parametrize(
    ("strategies", "options", "reason"),
    [
        (["sequential"], {}, "no parallel strategy in this run"),
        (["threads"], {}, "no sequential baseline"),
        (["sequential", "threads"], {"ceiling": False}, "not asked for"),
    ],
)
def test_skipped_when_it_could_not_be_related_to_a_speedup(
    iris_workload, strategies, options, reason
):
    produced = Runner(iris_workload, strategies, workers=2, **options).run()
    assert produced.ceiling.ratio is None
    assert reason in produced.ceiling.skipped
    assert all(s.of_ceiling is None or s.workers == 1 for s in produced.strategies)


def test_run_json_has_the_ceiling_and_each_strategy_of_ceiling(tmp_path):
    path = tmp_path / "run.json"
    done = run_cli(
        "run", "--strategies", "sequential,threads", "--estimators", "5,20", "--json", str(path)
    )
    assert done.returncode == 0, done.stderr
    assert "of ceiling" in done.stdout
    assert "ceiling: " in done.stdout
    document = json.loads(path.read_text())
    measured = document["ceiling"]
    assert measured["workers"] == 2
    assert measured["ratio"] > 0
    assert "alone" in measured["method"]
    assert measured["low"] <= measured["ratio"] <= measured["high"]
    assert measured["level"] == 0.95
    assert measured["rounds"] == len(measured["alone_s"]) >= 6
    assert f"{measured['rounds']} rounds" in done.stdout
    for record in document["strategies"]:
        limit = 1.0 if record["workers"] == 1 else measured["ratio"]
        ends = (1.0, 1.0) if record["workers"] == 1 else (measured["high"], measured["low"])
        assert record["of_ceiling"] == pytest.approx(record["speedup"] / limit)
        assert record["of_ceiling_low"] == pytest.approx(record["speedup"] / ends[0])
        assert record["of_ceiling_high"] == pytest.approx(record["speedup"] / ends[1])
    loaded = results.load(str(path))
    assert loaded.ceiling.ratio == measured["ratio"]
    assert "ceiling" not in loaded.extra


def test_no_ceiling_option_skips_it(tmp_path):
    path = tmp_path / "run.json"
    done = run_cli(
        "run", "--strategies", "sequential,threads", "--estimators", "5", "--no-ceiling",
        "--json", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(path.read_text())
    assert document["ceiling"]["ratio"] is None
    assert document["strategies"][1]["of_ceiling"] is None
