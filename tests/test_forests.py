"""Pieces of a forest trained apart and joined predict exactly what one fit predicts."""

from __future__ import annotations

import numpy as np
import pytest

from mlcpu.errors import InputError
from mlcpu.records.config import TaskConfig
from mlcpu.training import forests


@pytest.mark.parametrize("model", ["random_forest", "extra_trees"])
@pytest.mark.parametrize("seed", [0, 7])
def test_joined_pieces_equal_one_fit(synthetic_small, model, seed):
    config = TaskConfig(23, model=model, params=(("max_depth", 6),))
    whole = config.build(random_state=seed).fit(synthetic_small.X_train, synthetic_small.y_train)
    pieces = [
        forests.fit_trees(config, synthetic_small, seed, start, stop)
        for start, stop in forests.chunks(23, 5)
    ]
    joined = forests.join(pieces)
    assert joined.n_estimators == 23
    X = synthetic_small.X_test
    assert np.array_equal(joined.predict_proba(X), whole.predict_proba(X))
    assert np.array_equal(joined.predict(X), whole.predict(X))
    assert joined.score(X, synthetic_small.y_test) == whole.score(X, synthetic_small.y_test)


def test_prefix_is_the_smaller_forest(iris):
    big = TaskConfig(40).build(random_state=3).fit(iris.X_train, iris.y_train)
    small = TaskConfig(15).build(random_state=3).fit(iris.X_train, iris.y_train)
    assert np.array_equal(
        forests.prefix(big, 15).predict_proba(iris.X_test), small.predict_proba(iris.X_test)
    )


def test_chunks_cover_every_tree_once():
    assert forests.chunks(23, 10) == [(0, 10), (10, 20), (20, 23)]
    assert forests.chunks(5, 10) == [(0, 5)]


def test_only_builtin_forests_without_oob_or_warm_start_qualify():
    assert forests.supports(TaskConfig(10, model="extra_trees"))
    assert not forests.supports(TaskConfig(10, params=(("oob_score", True),)))
    assert not forests.supports(TaskConfig(10, model="tests.faulty_models:kill"))
    with pytest.raises(InputError, match=r"the balanced strategy trains forests tree by tree"):
        forests.check_supported(TaskConfig(10, params=(("warm_start", True),)), "balanced")
