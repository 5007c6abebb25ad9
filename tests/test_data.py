"""Datasets: bundled, synthetic and CSV, split once, stratified and seeded; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from mlcpu.data.datasets import DATASET_NAMES, load_dataset
from mlcpu.errors import InputError


@pytest.mark.parametrize("name", [n for n in DATASET_NAMES if n != "synthetic"])
def test_bundled_datasets_split_80_20_stratified(name):
    dataset = load_dataset(name, seed=1)
    assert dataset.n_test == pytest.approx(0.2 * dataset.n_samples, abs=1)
    assert dataset.X_train.dtype == np.float32
    assert dataset.X_train.flags.c_contiguous
    train_share = np.bincount(dataset.y_train) / dataset.n_train
    test_share = np.bincount(dataset.y_test) / dataset.n_test
    assert np.abs(train_share - test_share).max() < 0.05  # stratified
    assert len(dataset.feature_names) == dataset.n_features


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = (load_dataset("wine", seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X_test, c.X_test)


def test_synthetic_follows_the_requested_shape():
    dataset = load_dataset("synthetic", n_samples=500, n_features=20, seed=0)
    assert (dataset.n_samples, dataset.n_features) == (500, 20)
    assert dataset.generator["n_informative"] == 10
    assert dataset.generator["n_redundant"] == 10
    small = load_dataset("synthetic", n_samples=100, n_features=4, seed=0)
    assert small.generator["n_informative"] + small.generator["n_redundant"] <= 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 5}, r"--n-samples must be an integer >= 20, got 5"),
        ({"n_features": 1}, r"--n-features must be an integer >= 2, got 1"),
        ({"seed": -1}, r"seed must be an integer from 0 to 4294967295, got -1"),
        ({"test_size": 0.0}, r"test size must be a fraction between 0 and 1, got 0.0"),
        ({"n_samples": 10**12}, r"needs about .* of memory .* only .* is available"),
    ],
)
def test_synthetic_rejects_bad_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        load_dataset("synthetic", **kwargs)


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def rows(n=20, classes=("a", "b")):
    return "".join(f"{i},{i * 0.5},{classes[i % len(classes)]}\n" for i in range(n))


def test_csv_with_text_labels_and_default_last_column_target(tmp_path):
    dataset = load_dataset(write(tmp_path, "x1,x2,label\n" + rows()), seed=0)
    assert dataset.target_name == "label"
    assert dataset.feature_names == ("x1", "x2")
    assert dataset.classes == ("a", "b")
    assert dataset.n_samples == 20


def test_csv_target_by_name_unicode_header_bom_and_semicolons(tmp_path):
    text = "\ufeffklasse;größe;température\n" + "".join(
        f"{'ja' if i % 2 else 'nein'};{i};{i / 3}\n" for i in range(30)
    )
    dataset = load_dataset(write(tmp_path, text), target="klasse", seed=0)
    assert dataset.feature_names == ("größe", "température")
    assert set(dataset.classes) == {"ja", "nein"}


CSV_ERRORS = [
    ("", r"is empty; expected a header row and data rows"),
    ("a,b\n", r"has a header row but no data rows"),
    (b"\x00\x01\x02binary\x00", r"is not a text CSV file \(it contains binary data\)"),
    (b"a,b\n\xff\xfe,1\n", r"is not UTF-8 text"),
    ("only\n1\n2\n", r"has 1 column; it needs at least one feature column and a target column"),
    ("a,a,y\n1,2,x\n", r"column name 'a' appears twice"),
    ("1,2,3\n4,5,6\n", r"holds only numbers; mlcpu needs a header row"),
    ("x,color,y\n1,red,a\n2,blue,b\n", r"column 'color' is not numeric: 'red' on line 2"),
    ("x,z,y\n1,,a\n2,3,b\n", r"column 'z' has a missing value on line 2"),
    ("x,z,y\n1,nan,a\n", r"column 'z' has a missing value on line 2"),
    ("x,z,y\n1,inf,a\n", r"non-finite or out-of-range value 'inf' on line 2"),
    ("x,z,y\n1,2,a\n3,4\n", r"line 3 .* has 2 fields but the header has 3"),
    ("x,z,y\n1,2,\n", r"target column 'y' has a missing value on line 2"),
    ("x,y\n" + "".join(f"{i},same\n" for i in range(10)), r"has a single class \('same'\)"),
    ("x,y\n" + rows(9, ("a",))[0:0] + "1,a\n2,a\n3,a\n4,b\n", r"class 'b' .* only 1 row"),
    ("x,y\n1," + "9" * 1_100_000 + "\n", r"field .*longer than 1000000 characters"),
]


@pytest.mark.parametrize(("content", "message"), CSV_ERRORS, ids=[m for _, m in CSV_ERRORS])
def test_csv_errors_name_the_problem(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        load_dataset(write(tmp_path, content), seed=0)


def test_csv_unknown_target_lists_the_columns(tmp_path):
    with pytest.raises(InputError, match=r"target column 'kind' is not in .*'x1', 'x2', 'label'"):
        load_dataset(write(tmp_path, "x1,x2,label\n" + rows()), target="kind")


def test_csv_missing_or_directory(tmp_path):
    with pytest.raises(InputError, match=r"dataset file '.*nope.csv' does not exist"):
        load_dataset(str(tmp_path / "nope.csv"))
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(InputError, match=r"is a directory, not a CSV file"):
        load_dataset(str(folder))


def test_unknown_name_lists_choices():
    with pytest.raises(InputError, match=r"unknown dataset 'mnist'; choose one of iris, digits"):
        load_dataset("mnist")
