"""Cross-validated grids: every strategy's scores equal scikit-learn's ``GridSearchCV`` exactly.

The reference is computed here with scikit-learn itself (``GridSearchCV`` over the same grid,
``StratifiedKFold(K, shuffle=True, random_state=seed)``, a seeded forest), never written down.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold

import mlcpu.strategies as registry
from mlcpu.data.datasets import load_dataset
from mlcpu.errors import InputError
from mlcpu.records import search
from mlcpu.records.config import Fold, TaskConfig, make_grid, with_folds
from mlcpu.records.task import TaskResult
from mlcpu.runner import Runner
from mlcpu.training.folds import fit_rows, score_rows
from mlcpu.training.workload import Workload
from tests.conftest import run_cli

GRID = {"n_estimators": [4, 12], "max_depth": [None, 3]}
K = 3
SEED = 7


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", n_samples=300, n_features=6, seed=SEED)


@pytest.fixture(scope="module")
def reference(data):
    """What a GridSearchCV user gets on the same training split."""
    return GridSearchCV(
        RandomForestClassifier(random_state=SEED),
        GRID,
        cv=StratifiedKFold(K, shuffle=True, random_state=SEED),
        n_jobs=1,
    ).fit(data.X_train, data.y_train)


def search_workload(data) -> Workload:
    candidates = make_grid(GRID["n_estimators"], grid={"max_depth": GRID["max_depth"]})
    return Workload(data, with_folds(candidates, K, SEED), SEED, {"cv": K})


def test_grid_order_is_parameter_grids():
    grid = {"max_features": ["sqrt", 0.5], "min_samples_leaf": [1, 5], "max_depth": [None, 8]}
    configs = make_grid([10, 50], grid=grid)
    expected = list(ParameterGrid({**grid, "n_estimators": [10, 50]}))
    assert [c.grid_params() for c in configs] == expected
    # one value per parameter: the tutorial's sweep, in the order given
    assert [c.n_estimators for c in make_grid([200, 10, 50])] == [200, 10, 50]


def test_folds_are_stratified_kfolds_of_the_training_split(data):
    splits = list(
        StratifiedKFold(K, shuffle=True, random_state=SEED).split(data.X_train, data.y_train)
    )
    for index, (train, test) in enumerate(splits):
        config = TaskConfig(5, fold=Fold(index, K, SEED))
        X_fit, y_fit = fit_rows(data, config)
        X_score, y_score = score_rows(data, config)
        assert np.array_equal(X_fit, data.X_train[train])
        assert np.array_equal(y_fit, data.y_train[train])
        assert np.array_equal(X_score, data.X_train[test])
        assert np.array_equal(y_score, data.y_train[test])
    plain = TaskConfig(5)
    assert fit_rows(data, plain)[0] is data.X_train
    assert score_rows(data, plain)[1] is data.y_test


def test_every_strategy_scores_every_candidate_as_gridsearchcv_does(data, reference):
    names = [n for n in registry.names() if registry.available(n)] + ["balanced@dask"]
    runner = Runner(search_workload(data), names, workers=2, ceiling=False)
    results = runner.run()
    assert results.status == "ok", results.error
    expected = reference.cv_results_
    for strategy in results.strategies:
        found = search.candidates(strategy.tasks)
        assert [c["params"] for c in found] == expected["params"], strategy.name
        for key in ("mean_test_score", "std_test_score", "rank_test_score"):
            assert [c[key] for c in found] == list(expected[key]), (strategy.name, key)
        for k in range(K):
            scores = [c["split_test_scores"][k] for c in found]
            assert scores == list(expected[f"split{k}_test_score"]), (strategy.name, k)
    best = results.extra["best"]
    assert best["params"] == reference.best_params_
    assert best["mean_test_score"] == reference.best_score_
    assert best["test_accuracy"] == reference.best_estimator_.score(data.X_test, data.y_test)
    assert not results.accuracy_mismatches()


def test_gridsearchcv_without_folds_scores_the_held_out_split_like_the_others(data):
    workload = Workload(data, make_grid([4, 12]), SEED)
    results = Runner(workload, ["sequential", "gridsearchcv"], workers=2, ceiling=False).run()
    sequential, gridsearchcv = (s.tasks for s in results.strategies)
    assert [t.accuracy for t in gridsearchcv] == [t.accuracy for t in sequential]
    assert all(t.accuracy is not None for t in gridsearchcv)
    assert "best" not in results.extra
    assert not search.is_search(sequential)


def test_a_task_keeps_its_fold_through_json():
    config = TaskConfig(30, params=(("max_depth", 3),), fold=Fold(2, 5, 1))
    record = TaskResult(0, config, 0.9, 1.0, 0, 1, 0.0, 1.0).to_dict()
    assert record["fold"] == 2
    assert TaskResult.from_dict(json.loads(json.dumps(record)), 0).config == config


def test_bad_folds_and_grids_are_refused():
    with pytest.raises(InputError, match="at least 2 folds"):
        with_folds(make_grid([5]), 1, 0)
    with pytest.raises(InputError, match="max_depth needs at least one value"):
        make_grid([5], grid={"max_depth": []})
    with pytest.raises(InputError, match="lists a value twice"):
        make_grid([5], grid={"max_depth": [3, 3]})


def test_a_cross_validated_run_from_the_command_line(tmp_path):
    path = tmp_path / "r.json"
    done = run_cli(
        "run", "--dataset", "iris", "--estimators", "5,10", "--max-depth", "none,2",
        "--param", "min_samples_leaf=1,3", "--cv", "3", "--strategies", "sequential,incremental",
        "--no-ceiling", "--quiet", "--json", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Candidates (3-fold cross-validation" in done.stdout
    assert "Best: " in done.stdout
    document = json.loads(path.read_text())
    assert document["workload"]["cv"] == 3
    strategy = document["strategies"][1]
    assert len(strategy["candidates"]) == 8
    assert len(strategy["tasks"]) == 24
    assert [t["fold"] for t in strategy["tasks"][:3]] == [0, 1, 2]
    keys = {"params", "mean_test_score", "std_test_score", "split_test_scores", "rank_test_score"}
    assert set(strategy["candidates"][0]) == keys
    assert set(document["best"]) >= {"params", "mean_test_score", "test_accuracy"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cv", "1"], "at least 2 folds"),
        (["--cv", "41"], "--cv 41 needs at least 41 training rows of every class"),
        (["--param", "no_such_parameter=1,2"], "rejected its parameters"),
        (["--param", "min_samples_leaf="], "needs at least one value"),
        (["--param", "min_samples_leaf=1,,2"], "needs at least one value"),
        (["--max-depth", ""], "expected depths"),
        (["--max-depth", "3,3"], "appears twice"),
        (["--param", "max_depth=2", "--max-depth", "3"], "both --max-depth and --param"),
        (["--param", "min_samples_leaf=1", "--param", "min_samples_leaf=2"], "given twice"),
    ],
)
def test_bad_search_input_is_one_line_and_exit_2(args, message):
    done = run_cli("run", "--dataset", "iris", "--strategies", "sequential", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
