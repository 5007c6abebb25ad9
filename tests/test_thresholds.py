"""Limits of the regression gate: percentages, accuracy differences, per-benchmark rules."""

from __future__ import annotations

import re

import pytest

from mlcpu.comparing.compare import natural_key
from mlcpu.comparing.thresholds import matches, parse_accuracy, parse_percent, parse_rules


@pytest.mark.parametrize(("text", "value"), [("10%", 0.10), (" 2.5 % ", 0.025), ("0%", 0.0)])
def test_percentages(text, value):
    assert parse_percent(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["10", "0.1", "-5%", "ten%", ""])
def test_a_percentage_needs_its_sign(text):
    with pytest.raises(ValueError, match="expected a percentage like 10%"):
        parse_percent(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("0.01", 0.01), ("1%", 0.01)])
def test_accuracy_differences_are_absolute(text, value):
    assert parse_accuracy(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["2", "-0.1", "150%", "a lot"])
def test_bad_accuracy_differences(text):
    with pytest.raises(ValueError, match="accuracy difference"):
        parse_accuracy(text)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("iris", "test_train[joblib-100-iris]", True),
        ("joblib", "test_train[joblib-100-iris]", True),
        ("100", "test_train[joblib-100-iris]", True),
        ("10", "test_train[joblib-100-iris]", False),
        ("test_train", "test_train[joblib-100-iris]", True),
        ("train", "test_train[joblib-100-iris]", True),
        ("startup", "test_startup[cold-joblib]", True),
        ("start", "test_startup[cold-joblib]", False),
        ("synthetic", "test_train[joblib-100-iris]", False),
        ("test_run[*-iris]", "test_run[threads-iris]", True),
        ("test_run[*-iris]", "test_train[threads-10-iris]", False),
        ("*startup*", "test_startup[cold-joblib]", True),
        ("joblib", "joblib", True),
    ],
)
def test_patterns(pattern, name, expected):
    assert matches(pattern, name) is expected


def test_first_matching_rule_wins_and_star_is_the_default():
    rules = parse_rules("*=10%,iris=20%,joblib=30%", parse_percent, 0.5)
    assert rules.limit("test_train[joblib-100-iris]") == pytest.approx(0.20)
    assert rules.limit("test_train[joblib-100-synthetic]") == pytest.approx(0.30)
    assert rules.limit("test_train[threads-100-synthetic]") == pytest.approx(0.10)
    assert rules.describe(lambda v: f"{v:.0%}") == "iris=20%, joblib=30%, otherwise 10%"


def test_a_bare_value_is_the_default_and_a_table_works_too():
    assert parse_rules("15%", parse_percent, 0.1).limit("anything") == pytest.approx(0.15)
    table = parse_rules({"iris": "20%", "*": "5%"}, parse_percent, 0.1)
    assert table.limit("test_run[threads-iris]") == pytest.approx(0.20)
    assert table.limit("test_run[threads-synthetic]") == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("iris=20%,iris=10%", "pattern 'iris' appears twice"),
        ("=20%", "PATTERN=VALUE"),
        ("iris=20%,", "PATTERN=VALUE"),
        ("iris=fast", "expected a percentage"),
    ],
)
def test_bad_rules(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_rules(spec, parse_percent, 0.1)


def test_a_bad_rule_list_is_shown_an_example_of_its_own_kind():
    with pytest.raises(ValueError, match=re.escape("'iris=20%,*=10%'")):
        parse_rules("", parse_percent, 0.1)
    with pytest.raises(ValueError, match=re.escape("'synthetic=0.01,*=0'")):
        parse_rules("", parse_accuracy, 0.0)


def test_groups_sort_naturally():
    groups = ["train: iris, 200 trees", "train: iris, 10 trees", "train: iris, 100 trees", None]
    assert sorted(groups, key=natural_key) == [
        None,
        "train: iris, 10 trees",
        "train: iris, 100 trees",
        "train: iris, 200 trees",
    ]
