"""Safe baseline files for pytest-benchmark: atomic saves, and no silent fall-back on a bad one.

pytest-benchmark (5.x) writes a baseline with a plain ``open(..., "wb")``: a run killed while
saving leaves a truncated ``NNNN_*.json`` under ``.benchmarks/``. Its loader then logs a warning
and skips the file, so ``--benchmark-compare`` quietly compares against the *previous* baseline,
and ``--benchmark-compare-fail`` passes or fails on the wrong numbers. pytest-benchmark has no
hook around either step, so ``install()`` (called from the project's ``conftest.py``) replaces
the two methods on its classes:

- ``FileStorage.save`` and ``BenchmarkSession.save_json`` write through ``mlcpu.atomic``
  (temporary file, fsync, rename): a reader sees no file or a whole one.
- ``FileStorage.load`` refuses a baseline it cannot read when that file is the one a comparison
  would use (the latest, or one named by ``--benchmark-compare=NNNN``), with a ``UsageError``
  that names the file; pytest stops before running anything (exit 4). An unreadable *older*
  file that no comparison uses is still only warned about.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcpu import atomic

_INSTALLED = "_mlcpu_safe_baselines"


def install() -> None:
    """Patch pytest-benchmark's storage once per process (idempotent)."""
    from pytest_benchmark.session import BenchmarkSession
    from pytest_benchmark.storage.file import FileStorage

    if getattr(FileStorage, _INSTALLED, False):
        return
    FileStorage.save = _save  # type: ignore[method-assign]
    FileStorage.load = _load  # type: ignore[method-assign]
    BenchmarkSession.save_json = _save_json  # type: ignore[method-assign]
    setattr(FileStorage, _INSTALLED, True)


def _dumps(output_json: dict[str, Any]) -> bytes:
    from pytest_benchmark.utils import safe_dumps

    return safe_dumps(output_json, ensure_ascii=True, indent=4).encode()


def _save(self: Any, output_json: dict[str, Any], save: str) -> None:
    """``FileStorage.save``, written atomically (same name and numbering as pytest-benchmark)."""
    output_file = self.get(f"{self._next_num}_{save}.json")
    if output_file.exists():
        raise pytest.UsageError(f"benchmark baseline {output_file} already exists")
    atomic.write_bytes(output_file, _dumps(output_json))
    self.logger.info(f"Saved benchmark data in: {output_file}")


def _save_json(self: Any, output_json: dict[str, Any]) -> None:
    """``BenchmarkSession.save_json`` (``--benchmark-json PATH``), written atomically."""
    atomic.write_bytes(self.json, _dumps(output_json))
    self.logger.info(f"Wrote benchmark data in: {self.json}", purple=True)


def _load(self: Any, *globs_or_files: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``FileStorage.load``, except that the file a comparison would use must be readable."""
    from pytest_benchmark.stats import normalize_stats

    named = bool(globs_or_files)
    files = self.query(*(globs_or_files or ("[0-9][0-9][0-9][0-9]_",)))
    for position, file in enumerate(files):
        data = self._cache.get(file)
        if data is None:
            try:
                data = json.loads(file.read_text(encoding="utf8"))
                for bench in data["benchmarks"]:
                    normalize_stats(bench["stats"])
            except Exception as exc:  # what pytest-benchmark itself catches here
                if named or position == len(files) - 1:
                    raise pytest.UsageError(_unreadable(file, exc, named)) from None
                self.logger.warning(f"Failed to load {file}: {exc}")
                continue
            self._cache[file] = data
        try:
            relpath = file.relative_to(self.path)
        except ValueError:
            relpath = file
        yield relpath, data


def _unreadable(file: Path, exc: Exception, named: bool) -> str:
    which = "the baseline named for comparison" if named else "the latest benchmark baseline"
    reason = f"{type(exc).__name__}: {exc}"
    return (
        f"{which}, {file}, cannot be read ({reason}); it is probably truncated by a run that "
        "was stopped while saving. Comparing against an older baseline instead would judge the "
        "wrong numbers: delete or move that file, or name a good baseline with "
        "--benchmark-compare=NNNN."
    )
