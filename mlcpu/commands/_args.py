"""Argument types shared by the commands: each rejects bad input with one clear sentence."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcpu import strategies as registry


def _always(_: Any) -> bool:
    return True


def _number(
    text: str, expected: str, kind: Callable[[str], Any] = int, ok: Callable[[Any], bool] = _always
) -> Any:
    """``kind(text)`` if it parses and is ``ok``, else the sentence saying what was expected."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return int(_number(text, "a positive integer", ok=lambda v: v >= 1))


def seed(text: str) -> int:
    value = int(_number(text, "an integer seed"))
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"seed must be from 0 to 4294967295, got {text!r}")
    return value


def positive_float(text: str) -> float:
    return float(_number(text, "a positive number", float, lambda v: 0 < v < float("inf")))


def fraction(text: str) -> float:
    value = float(_number(text, "a fraction like 0.2", float))
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """``"10,50,100"`` -> ``(10, 50, 100)``: positive, distinct, at least one."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of positive integers like 10,50,100, got {text!r}"
        )
    values = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not an integer (in {text!r}); expected positive integers"
            ) from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{part!r} is not a positive integer (in {text!r})")
        if value in values:
            raise argparse.ArgumentTypeError(f"{part!r} appears twice in {text!r}")
        values.append(value)
    return tuple(values)


def strategy_list(text: str) -> tuple[str, ...]:
    """``"all"`` or a comma-separated list of registered strategy names."""
    if text.strip() == "all":
        return tuple(n for n in registry.names() if registry.available(n))
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected strategy names separated by commas, got {text!r}; "
            f"choose from {registry.choices()}"
        )
    for part in parts:
        if not registry.known(part):
            raise argparse.ArgumentTypeError(
                f"unknown strategy {part!r}; choose from {registry.choices()}"
            )
        if parts.count(part) > 1:
            raise argparse.ArgumentTypeError(f"strategy {part!r} is listed twice")
    return tuple(parts)


def max_depth(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    return int(_number(text, "a positive integer or 'none'", ok=lambda v: v >= 1))


def max_depths(text: str) -> tuple[int | None, ...]:
    """``"none,8"`` -> ``(None, 8)``: one or more depths, each a positive integer or none."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected depths like 8 or none,8 (positive integers or none), got {text!r}"
        )
    depths = tuple(max_depth(p) for p in parts)
    if len(set(depths)) != len(depths):
        raise argparse.ArgumentTypeError(f"a depth appears twice in {text!r}")
    return depths


def folds(text: str) -> int:
    """``--cv K``: at least 2 folds (one fold would train on nothing)."""
    value = int(_number(text, "a number of folds (2 or more)"))
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"cross-validation needs at least 2 folds, got {value} (omit --cv for one split)"
        )
    return value


def model_param(text: str) -> tuple[str, tuple[Any, ...]]:
    """``KEY=VALUE[,VALUE...]``; each VALUE is read as JSON when it parses (3, 0.5, true, null),
    else as a string. Several values make a grid over that parameter."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE such as min_samples_leaf=3, got {text!r}"
        )
    if key in {"n_estimators", "random_state", "n_jobs"}:
        raise argparse.ArgumentTypeError(
            f"{key} is set by mlcpu itself (use --estimators, --seed or --workers)"
        )
    parts = [p.strip() for p in raw.split(",")]
    if any(not p for p in parts):
        raise argparse.ArgumentTypeError(
            f"{key} needs at least one value, none empty: KEY=VALUE or KEY=V1,V2, got {text!r}"
        )
    values = tuple(_json_or_text(p) for p in parts)
    if len({repr(v) for v in values}) != len(values):
        raise argparse.ArgumentTypeError(f"a value of {key} appears twice in {text!r}")
    return key, values


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def unusable_path(text: str) -> str | None:
    """Why the system refuses ``text`` as a path (too long, a file used as a folder), or None.

    ``Path.exists`` raises rather than answers for such names on Python 3.11.
    """
    try:
        os.stat(text)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot use {text!r} as a path: {exc.strerror or exc}"
    return None


def output_file(text: str) -> Path:
    """A file path whose folder exists and is writable (checked before any work starts)."""
    path = _usable("file", text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file path")
    _writable(path.parent, text)
    return path


def output_folder(text: str) -> Path:
    """A folder to write into: existing and writable, or to be made in one that is."""
    path = _usable("folder", text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file; give a folder")
    _writable(path if path.is_dir() else path.parent, text)
    return path


def _usable(what: str, text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a {what} path, got an empty string")
    if problem := unusable_path(text):
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def _writable(folder: Path, text: str) -> None:
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"folder {str(folder)!r} does not exist (for {text!r})")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"folder {str(folder)!r} is not writable")


def image_file(text: str) -> Path:
    """An output file whose suffix names an image format the charts can be written in."""
    from mlcpu.errors import InputError
    from mlcpu.reporting.charts import image_format

    path = output_file(text)
    try:
        image_format(path)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path
