"""One conformance suite run against every strategy (as loky tests every start method)."""

from __future__ import annotations

import pickle

import pytest

import mlcpu.strategies as registry
from mlcpu.errors import InputError, TaskFailedError
from mlcpu.records.config import make_configs
from mlcpu.strategies.pools import START_METHODS, shared
from mlcpu.training.units import Job
from mlcpu.training.workload import Workload
from tests.conftest import FAULTY, worker_children


def _variants() -> list:
    """One case per registered strategy (one per start method for multiprocessing)."""
    cases = []
    for name in [*registry.names(), *registry.variants()]:
        variants = (
            [{"start_method": m} for m in START_METHODS] if name == "multiprocessing" else [{}]
        )
        for options in variants:
            label = "-".join([name, *options.values()])
            marks = [] if registry.available(name) else [pytest.mark.skip(f"{name}: not installed")]
            cases.append(pytest.param((name, options), id=label, marks=marks))
    return cases


VARIANTS = _variants()


@pytest.fixture(scope="module")
def reference(iris_workload):
    with registry.create("sequential") as strategy:
        return strategy.run(iris_workload)


@pytest.fixture(scope="module", params=VARIANTS)
def strategy(request):
    name, options = request.param
    with registry.create(name, workers=2, **options) as started:
        yield started
    assert worker_children() == [], f"{started.label} left worker processes behind"


def test_same_accuracy_as_sequential_in_workload_order(strategy, iris_workload, reference):
    results = strategy.run(iris_workload)
    assert [r.n_estimators for r in results] == [10, 30, 20, 5]
    assert [r.accuracy for r in results] == [r.accuracy for r in reference]
    assert all(r.error is None for r in results)


def test_records_where_and_when_each_task_ran(strategy, iris_workload):
    import os

    results = strategy.run(iris_workload)
    for record in results:
        assert record.seconds > 0
        assert 0 <= record.start_s <= record.end_s
        assert record.end_s - record.start_s == pytest.approx(record.seconds, abs=0.05)
        assert record.cpu is not None
        assert 0 <= record.cpu < (os.cpu_count() or 1)
    pids = {r.pid for r in results}
    # auto may find that no pool pays (on a busy machine, say) and train here instead
    ran_here = strategy.result_extra().get("choice", {}).get("engine") == "in process"
    if getattr(strategy, "uses_processes", False) and not ran_here:
        assert os.getpid() not in pids
        assert 1 <= len(pids) <= strategy.workers
    else:
        assert pids == {os.getpid()}


def test_task_exception_comes_through_with_message(strategy, iris):
    workload = Workload(iris, make_configs([10, 100], model=FAULTY + "raise_error"), 0)
    with pytest.raises(TaskFailedError, match=r"100 estimators .* deliberate failure") as info:
        strategy.run(workload)
    error = info.value
    assert error.strategy == strategy.name
    assert error.config.n_estimators == 100
    assert isinstance(error.__cause__, ValueError)
    assert "deliberate failure at 100 trees" in error.remote_traceback
    assert "Traceback" in error.remote_traceback
    # The strategy is still usable after a failure.
    assert all(r.accuracy is not None for r in strategy.run(Workload(iris, make_configs([5]), 0)))


def test_keep_going_records_the_failure_and_finishes_the_rest(strategy, iris):
    strategy.keep_going = True
    try:
        workload = Workload(iris, make_configs([10, 100, 20], model=FAULTY + "raise_error"), 0)
        results = strategy.run(workload)
    finally:
        strategy.keep_going = False
    assert [r.n_estimators for r in results] == [10, 100, 20]
    assert results[1].accuracy is None
    assert "ValueError: deliberate failure at 100 trees" in results[1].error
    assert results[0].ok
    assert results[2].ok


def test_on_result_sees_every_task_as_it_finishes(strategy, iris_workload):
    seen = []
    results = strategy.run(iris_workload, on_result=seen.append)
    assert sorted(r.n_estimators for r in seen) == sorted(r.n_estimators for r in results)


def test_a_strategy_is_a_plan_on_an_engine_that_says_what_it_is(strategy):
    """What the runner and the fault tests read from the class is what its engine really is."""
    engine = strategy.engine
    assert type(strategy).uses_processes == engine.uses_processes
    assert type(strategy).supervised == engine.supervised
    assert strategy.workers == engine.workers
    assert engine.policy is strategy.policy  # one failure policy, shared
    strategy.keep_going = not strategy.keep_going
    try:
        assert engine.policy.keep_going == strategy.keep_going
    finally:
        strategy.keep_going = not strategy.keep_going


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(InputError, match=r"unknown strategy 'gpu'; choose from sequential, joblib"):
        registry.get("gpu")


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(InputError, match=r"workers must be a positive integer, got"):
        registry.create("joblib", workers=workers)


def test_unavailable_start_method_is_refused():
    with pytest.raises(InputError, match=r"start method 'teleport' is not available here"):
        registry.create("multiprocessing", start_method="teleport")


def test_every_registered_strategy_runs_the_conformance_suite():
    """A strategy registered without a case in the shared suite would escape every test."""
    covered = {case.values[0][0] for case in VARIANTS}
    assert covered == set(registry.names()) | set(registry.variants())
    assert {"balanced@dask", "incremental@dask", "auto@dask"} <= covered


def test_create_refuses_an_unknown_option_and_lists_the_accepted_ones():
    with pytest.raises(
        InputError,
        match=r"strategy 'joblib' has no option 'task_timout'; "
        r"it accepts workers, task_timeout, keep_going",
    ):
        registry.create("joblib", task_timout=5)
    with pytest.raises(InputError, match=r"'sequential' has no option 'start_method'"):
        registry.create("sequential", start_method="spawn")


def test_create_shared_passes_only_the_options_a_strategy_accepts():
    options = {"workers": 4, "start_method": "spawn", "keep_going": True, "scheduler": None}
    strategy = registry.create_shared("sequential", options)
    assert strategy.workers == 1  # sequential is one worker whatever is asked
    assert strategy.keep_going is True
    assert registry.create_shared("multiprocessing", options).label == "multiprocessing (spawn)"
    with pytest.raises(InputError, match=r"no strategy has an option 'task_timout'"):
        registry.create_shared("sequential", {"task_timout": 5})


def test_summaries_come_from_the_classes():
    summaries = registry.summaries()
    assert summaries
    for name, summary in summaries.items():
        assert summary == registry.get(name).summary
    assert [n for n in registry.names() if registry.available(n)] == list(summaries)


def test_a_task_for_a_worker_carries_the_data_by_reference(synthetic_small):
    workload = Workload(synthetic_small, make_configs([10]), 0)
    with shared(workload) as ready:
        job = Job(0, ready.configs[0], ready.dataset, ready.seed)
        payload = pickle.dumps(job)
        assert len(payload) < 2_000 < synthetic_small.nbytes
        clone = pickle.loads(payload).dataset
        assert (clone.X_train == synthetic_small.X_train).all()


def blas_threads(_: object) -> list[int]:
    """Run in a worker: the thread count of every BLAS/OpenMP pool loaded there."""
    import numpy  # noqa: F401 - make sure a BLAS is loaded
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info()]


@pytest.mark.parametrize(
    "backend",
    ["loky", *[f"pool-{m}" for m in START_METHODS]],
)
def test_worker_processes_cap_blas_and_openmp_threads_at_one(backend):
    import queue

    from mlcpu.engines.pools import LokyBackend, PoolBackend

    pool = LokyBackend(2) if backend == "loky" else PoolBackend(2, backend.split("-", 1)[1])
    answers: queue.SimpleQueue = queue.SimpleQueue()
    pool.start()
    try:
        for _ in range(2):
            pool.submit(blas_threads, None, lambda result, error: answers.put((result, error)))
        for _ in range(2):
            counts, error = answers.get(timeout=60)
            assert error is None
            assert counts
            assert set(counts) == {1}
    finally:
        pool.terminate()
