"""Per-benchmark limits for the gate: ``'iris=20%,*=10%'`` on the command line or in pyproject.toml.

A rule is ``PATTERN=VALUE``; a bare ``VALUE`` or ``*=VALUE`` is the default. A pattern with ``*``
or ``?`` is a wildcard over the whole benchmark name (``test_run[*-iris]``); any other pattern
matches a name that has it as one of its parts: the test function (``test_train`` or just
``train``) or one of the parameter ids (``iris``, ``joblib``, ``100`` in
``test_train[joblib-100-iris]``). The first
matching rule, in the order written, wins.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcpu.errors import InputError

CONFIG_TABLE = "tool.mlcpu.compare"
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")


def parse_percent(text: str) -> float:
    """``"10%"`` -> 0.10. The sign is required: is ``0.1`` a tenth or a tenth of a percent?"""
    match = _PERCENT.match(text)
    if not match:
        raise ValueError(f"expected a percentage like 10%, got {text!r}")
    return float(match.group(1)) / 100


def parse_accuracy(text: str) -> float:
    """An absolute accuracy difference: ``0.01`` or ``1%`` (one percentage point)."""
    match = _PERCENT.match(text)
    try:
        value = float(match.group(1)) / 100 if match else float(text)
    except ValueError:
        raise ValueError(
            f"expected an accuracy difference like 0.01 or 1% (absolute), got {text!r}"
        ) from None
    if not 0 <= value <= 1:
        raise ValueError(
            f"an accuracy difference must be from 0 to 1 (or 0% to 100%), got {text!r}"
        )
    return value


@dataclass(frozen=True)
class Rules:
    """Ordered ``(pattern, limit)`` pairs plus the default limit."""

    rules: tuple[tuple[str, float], ...]
    default: float

    def limit(self, name: str) -> float:
        """The limit for benchmark ``name``: the first rule that matches, else the default."""
        for pattern, value in self.rules:
            if matches(pattern, name):
                return value
        return self.default

    def describe(self, show: Callable[[float], str]) -> str:
        """``10%`` alone, or ``iris=20%, otherwise 10%`` when there are rules."""
        if not self.rules:
            return show(self.default)
        parts = [f"{p}={show(v)}" for p, v in self.rules]
        return ", ".join([*parts, f"otherwise {show(self.default)}"])


def matches(pattern: str, name: str) -> bool:
    if "*" in pattern or "?" in pattern:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, name) is not None
    function, _, ids = name.partition("[")
    family = function.removeprefix("test_")
    return pattern in {name, function, family, *ids.rstrip("]").split("-")}


# What a rule list looks like for each kind of value, quoted in errors.
_EXAMPLES: dict[Callable[[str], float], str] = {
    parse_percent: "iris=20%,*=10%",
    parse_accuracy: "synthetic=0.01,*=0",
}


def parse_rules(
    spec: str | Mapping[str, Any], value: Callable[[str], float], default: float
) -> Rules:
    """``"iris=20%,*=10%"`` or ``{"iris": "20%", "*": "10%"}`` -> ``Rules``."""
    example = _EXAMPLES.get(value, "PATTERN=VALUE,*=VALUE")
    if isinstance(spec, Mapping):
        items = [(str(k), str(v)) for k, v in spec.items()]
    else:
        items = []
        for part in str(spec).split(","):
            pattern, sep, raw = part.rpartition("=")
            if not part.strip() or (sep and not pattern.strip()):
                raise ValueError(
                    f"expected rules like {example!r} (PATTERN=VALUE, comma-separated), "
                    f"got {spec!r}"
                )
            items.append((pattern.strip() if sep else "*", raw.strip()))
    rules: list[tuple[str, float]] = []
    seen: set[str] = set()
    for pattern, raw in items:
        if pattern in seen:
            raise ValueError(f"pattern {pattern!r} appears twice in {spec!r}")
        seen.add(pattern)
        limit = value(raw)
        if pattern == "*":
            default = limit
        else:
            rules.append((pattern, limit))
    return Rules(tuple(rules), default)


def load_config(path: Path | None, table_name: str = CONFIG_TABLE) -> dict[str, Any]:
    """The ``[tool.mlcpu.compare]`` (or ``table_name``) table of ``path``; ``{}`` when absent."""
    if path is None:
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config file {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    table: Any = document
    for part in table_name.split("."):
        table = table.get(part, {}) if isinstance(table, dict) else {}
    if not isinstance(table, dict):
        raise InputError(f"[{table_name}] in {str(path)!r} must be a table")
    return table


def rules_argument(value: Callable[[str], float], default: float) -> Callable[[str], Rules]:
    """An argparse ``type`` reading a rule list (``--max-slowdown``, ``--max-accuracy-drop``)."""
    import argparse

    def parse(text: str) -> Rules:
        try:
            return parse_rules(text, value, default)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def config_text(value: Any) -> Any:
    """TOML numbers (``max-accuracy-drop = 0.01``) read as the same text a flag would give."""
    if isinstance(value, bool):
        raise TypeError(f"expected rules or a number, got {value!r}")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return {k: config_text(v) for k, v in value.items()}
    return value
