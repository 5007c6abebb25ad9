"""pytest-benchmark's storage fix is installed on one session's objects, not on its classes."""

from __future__ import annotations

import pytest

from mlcpu.comparing import baselines


def test_the_fix_is_on_this_sessions_objects_only(pytestconfig: pytest.Config):
    from pytest_benchmark.session import BenchmarkSession
    from pytest_benchmark.storage.file import FileStorage

    session = pytestconfig.pluginmanager.get_plugin("pytest-benchmark")
    assert session is not None
    assert session.save_json.__func__ is baselines._save_json
    assert session.storage.save.__func__ is baselines._save
    assert FileStorage.save.__module__ == "pytest_benchmark.storage.file"
    assert FileStorage.load.__module__ == "pytest_benchmark.storage.file"
    assert BenchmarkSession.save_json.__module__ == "pytest_benchmark.session"
