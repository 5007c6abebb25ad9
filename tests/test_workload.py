"""Configurations, models and the up-front parameter check."""

from __future__ import annotations

import pytest

from mlcpu.errors import InputError
from mlcpu.records.config import TaskConfig, make_configs
from mlcpu.training.workload import Workload, validate


def test_configs_keep_the_given_order_and_parameters():
    configs = make_configs([50, 10], params={"max_depth": 3})
    assert [c.n_estimators for c in configs] == [50, 10]
    assert configs[0].param_dict == {"max_depth": 3}
    assert configs[0].label == "50 estimators, max_depth=3"


@pytest.mark.parametrize(
    ("estimators", "message"),
    [
        ([], r"at least one"),
        ([10, 10], r"must not repeat a value, got 10 twice"),
        ([0], r"n_estimators must be a positive integer, got 0"),
        ([2.5], r"n_estimators must be a positive integer, got 2.5"),
    ],
)
def test_bad_estimator_lists(estimators, message):
    with pytest.raises(InputError, match=message):
        make_configs(estimators)


def test_extra_trees_model_is_built(iris):
    estimator = TaskConfig(5, model="extra_trees").build(random_state=0)
    assert type(estimator).__name__ == "ExtraTreesClassifier"


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("nope", {}, r"unknown model 'nope'; choose one of random_forest, extra_trees"),
        ("no_such_module_xyz:make", {}, r"cannot import module 'no_such_module_xyz'"),
        ("os:no_such_attr", {}, r"module 'os' has no attribute 'no_such_attr'"),
        ("random_forest", {"max_depth": -2}, r"'max_depth' parameter .* Got -2 instead"),
        ("random_forest", {"colour": "red"}, r"unexpected keyword argument 'colour'"),
    ],
)
def test_bad_models_and_parameters_fail_before_any_work(iris, model, params, message):
    with pytest.raises(InputError, match=message):
        validate(Workload(iris, make_configs([10], model=model, params=params), 0))
