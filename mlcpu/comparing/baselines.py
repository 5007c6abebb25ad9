"""Safe baseline files for pytest-benchmark: atomic saves, and no silent fall-back on a bad one.

pytest-benchmark (5.x) writes a baseline with a plain ``open(..., "wb")``: a run killed while
saving leaves a truncated ``NNNN_*.json`` under ``.benchmarks/``. Its loader then logs a warning
and skips the file, so ``--benchmark-compare`` quietly compares against the *previous* baseline,
and ``--benchmark-compare-fail`` passes or fails on the wrong numbers.

The fix is installed through pytest's own objects, for one session, instead of by replacing
pytest-benchmark's methods on its classes for the whole process. The project's ``conftest.py``
calls two functions from pytest's hooks:

- ``check_comparison``, from a ``pytest_configure`` that runs before pytest-benchmark's,
  reads the baseline a comparison would use (the latest, or the ones named by
  ``--benchmark-compare=NNNN``) through a storage of its own, made by pytest-benchmark's
  ``load_storage``. One that cannot be read stops pytest with a ``UsageError`` naming the
  file (exit 4). This has to come first: pytest-benchmark creates its session and loads the
  comparison inside one ``pytest_configure``, with no moment between the two to step in. An
  unreadable *older* file that no comparison uses is still only warned about, by
  pytest-benchmark.
- ``protect``, from ``pytest_sessionstart`` (pytest-benchmark saves only when the session
  ends), gives the session pytest-benchmark registered (the plugin named
  ``pytest-benchmark``) atomic saves: ``save`` on its storage and its own ``save_json``
  (``--benchmark-json PATH``) are replaced on those two instances only, and write through
  ``mlcpu.records.atomic`` (temporary file, fsync, rename): a reader sees no file or a whole one.
"""

from __future__ import annotations

import json
import logging
import types
from pathlib import Path
from typing import Any

import pytest

from mlcpu.records import atomic

_NUMBERED = "[0-9][0-9][0-9][0-9]_"


def check_comparison(config: pytest.Config) -> None:
    """Refuse to start if the baseline ``--benchmark-compare`` would use cannot be read."""
    compare = config.getoption("benchmark_compare", None)
    if not compare:
        return
    from pytest_benchmark.storage.file import FileStorage
    from pytest_benchmark.utils import get_machine_id, load_storage

    storage = load_storage(
        config.getoption("benchmark_storage"),
        logger=logging.getLogger(__name__),
        default_machine_id=get_machine_id(),
        netrc=config.getoption("benchmark_netrc", None),
    )
    if not isinstance(storage, FileStorage):
        return  # Elasticsearch: no files to be truncated
    named = compare is not True
    files = storage.query(compare) if named else storage.query(_NUMBERED)[-1:]
    for file in files:
        try:
            _read(file)
        except Exception as exc:  # what pytest-benchmark itself catches when loading
            raise pytest.UsageError(_unreadable(file, exc, named)) from None


def protect(config: pytest.Config) -> None:
    """Make this session's baseline saves atomic (once pytest-benchmark is configured)."""
    session = config.pluginmanager.get_plugin("pytest-benchmark")
    if session is None:
        return
    session.save_json = types.MethodType(_save_json, session)
    protect_storage(session.storage)


def protect_storage(storage: Any) -> None:
    """Make ``storage.save`` atomic, on that instance only (file storage; others are left)."""
    from pytest_benchmark.storage.file import FileStorage

    if isinstance(storage, FileStorage):
        storage.save = types.MethodType(_save, storage)  # type: ignore[method-assign]


def _read(file: Path) -> None:
    from pytest_benchmark.stats import normalize_stats

    data = json.loads(file.read_text(encoding="utf8"))
    for bench in data["benchmarks"]:
        normalize_stats(bench["stats"])


def _dumps(output_json: dict[str, Any]) -> bytes:
    from pytest_benchmark.utils import safe_dumps

    return safe_dumps(output_json, ensure_ascii=True, indent=4).encode()


def _save(self: Any, output_json: dict[str, Any], save: str) -> None:
    """``FileStorage.save``, written atomically (same name and numbering as pytest-benchmark)."""
    output_file = self.get(f"{_next_number(self)}_{save}.json")
    if output_file.exists():
        raise pytest.UsageError(f"benchmark baseline {output_file} already exists")
    atomic.write_bytes(output_file, _dumps(output_json))
    self.logger.info(f"Saved benchmark data in: {output_file}")


def _next_number(storage: Any) -> str:
    """The number pytest-benchmark gives the next saved file: one past the highest."""
    names = sorted((f.name for f in storage.query(_NUMBERED + "*")), reverse=True)
    return f"{int(names[0].split('_')[0]) + 1:04}" if names else "0001"


def _save_json(self: Any, output_json: dict[str, Any]) -> None:
    """``BenchmarkSession.save_json`` (``--benchmark-json PATH``), written atomically."""
    atomic.write_bytes(self.json, _dumps(output_json))
    self.logger.info(f"Wrote benchmark data in: {self.json}", purple=True)


def _unreadable(file: Path, exc: Exception, named: bool) -> str:
    which = "the baseline named for comparison" if named else "the latest benchmark baseline"
    reason = f"{type(exc).__name__}: {exc}"
    return (
        f"{which}, {file}, cannot be read ({reason}); it is probably truncated by a run that "
        "was stopped while saving. Comparing against an older baseline instead would judge the "
        "wrong numbers: delete or move that file, or name a good baseline with "
        "--benchmark-compare=NNNN."
    )
