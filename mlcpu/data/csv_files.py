"""Reading a user's CSV file into features and class labels, with errors that point at the cell.

The fast path is numpy's C parser; when it refuses a file, a slower pass with the csv module
finds the first offending line and column so the message can name them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlcpu.data.arrays import FEATURE_DTYPE, check_memory
from mlcpu.errors import InputError

_DELIMITERS = (",", ";", "\t", "|")
_MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MAX_FIELD_CHARS = 1_000_000
_SNIFF_BYTES = 64 * 1024
_BLOCK_ROWS = 8192


@dataclass(frozen=True)
class CsvTable:
    X: np.ndarray
    labels: np.ndarray
    feature_names: list[str]
    target_name: str


def read_csv(path_name: str, target: str | None = None) -> CsvTable:
    """Read ``path_name``: a header row, numeric feature columns and one target column."""
    path = Path(path_name)
    shown = repr(path_name)
    try:
        if path.is_dir():
            raise InputError(f"dataset {shown} is a directory, not a CSV file")
        if not path.exists():
            raise InputError(f"dataset file {shown} does not exist")
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:  # a name too long for the system, a file used as a folder
        raise InputError(f"cannot read dataset file {shown}: {exc.strerror or exc}") from None
    if not head.strip():
        raise InputError(f"dataset file {shown} is empty; expected a header row and data rows")
    if b"\x00" in head:
        raise InputError(f"dataset file {shown} is not a text CSV file (it contains binary data)")
    check_memory(path.stat().st_size * 2, f"CSV file {shown}")

    delimiter = _sniff_delimiter(head.decode("utf-8", errors="replace"))
    csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = csv.reader(fh, delimiter=delimiter)
            header = _read_header(rows, shown)
            if target is None:
                target_index = len(header) - 1
            elif target in header:
                target_index = header.index(target)
            else:
                raise InputError(
                    f"target column {target!r} is not in {shown}; its columns are "
                    f"{_list_names(header)}"
                )
            feature_index = [i for i in range(len(header)) if i != target_index]
            X, labels = _parse_rows(rows, header, feature_index, target_index, shown)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"dataset file {shown} is not UTF-8 text "
            f"(undecodable byte {exc.object[exc.start : exc.start + 1]!r})"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read dataset file {shown}: {exc.strerror or exc}") from None
    return CsvTable(
        X=X,
        labels=labels,
        feature_names=[header[i] for i in feature_index],
        target_name=header[target_index],
    )


def _read_header(rows: Iterator[list[str]], shown: str) -> list[str]:
    try:
        header = [name.strip() for name in next(rows)]
    except csv.Error as exc:
        raise InputError(f"line 1 of {shown} is not valid CSV ({_csv_reason(exc)})") from None
    if len(header) < 2:
        raise InputError(
            f"dataset file {shown} has {len(header)} column; it needs at least one feature "
            "column and a target column, with a header row naming them"
        )
    for i, name in enumerate(header):
        if not name:
            raise InputError(f"column {i + 1} of {shown} has an empty name in the header row")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(f"column name {name!r} appears twice in the header of {shown}")
        seen.add(name)
    if all(_is_number(name) for name in header):
        raise InputError(
            f"the first row of {shown} holds only numbers; mlcpu needs a header row naming "
            "the columns"
        )
    return header


def _csv_reason(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a field is longer than {MAX_FIELD_CHARS} characters; is this really CSV?"
    return str(exc)


def _sniff_delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    best = max(_DELIMITERS, key=first_line.count)
    return best if first_line.count(best) > 0 else ","


def _parse_rows(
    rows: Iterator[list[str]],
    header: list[str],
    feature_index: list[int],
    target_index: int,
    shown: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse data rows in blocks, so memory stays near the size of the final float32 array."""
    blocks: list[np.ndarray] = []
    block: list[list[float]] = []
    labels: list[str] = []
    width = len(header)
    line = 1
    try:
        for line, row in enumerate(rows, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise InputError(
                    f"line {line} of {shown} has {len(row)} fields but the header has {width}"
                )
            block.append([_feature_value(row[i], header[i], line, shown) for i in feature_index])
            label = row[target_index].strip()
            if label.lower() in _MISSING:
                raise InputError(
                    f"target column {header[target_index]!r} has a missing value on line {line} "
                    f"of {shown}; mlcpu does not fill in missing values"
                )
            labels.append(label)
            if len(block) == _BLOCK_ROWS:
                blocks.append(np.asarray(block, dtype=FEATURE_DTYPE))
                block = []
    except csv.Error as exc:
        raise InputError(
            f"line {line + 1} of {shown} is not valid CSV ({_csv_reason(exc)})"
        ) from None
    if block:
        blocks.append(np.asarray(block, dtype=FEATURE_DTYPE))
    if not blocks:
        raise InputError(f"dataset file {shown} has a header row but no data rows")
    return np.concatenate(blocks), np.asarray(labels, dtype=str)


def _feature_value(text: str, column: str, line: int, shown: str) -> float:
    value = text.strip()
    if value.lower() in _MISSING:
        raise InputError(
            f"column {column!r} has a missing value on line {line} of {shown}; "
            "mlcpu does not fill in missing values"
        )
    try:
        number = float(value)
    except ValueError:
        raise InputError(
            f"column {column!r} is not numeric: {value[:40]!r} on line {line} of {shown}; "
            "feature columns must hold numbers (only the target column may hold labels)"
        ) from None
    if not math.isfinite(number) or abs(number) > np.finfo(FEATURE_DTYPE).max:
        raise InputError(
            f"column {column!r} has the non-finite or out-of-range value {value[:40]!r} on "
            f"line {line} of {shown}"
        )
    return number


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _list_names(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
