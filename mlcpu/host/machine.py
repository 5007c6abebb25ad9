"""What this machine can give us: usable cores (affinity and container quota) and versions."""

from __future__ import annotations

import os
import platform
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import psutil

from mlcpu._version import __version__

_VERSIONED = ("scikit-learn", "joblib", "numpy", "scipy", "threadpoolctl", "psutil")


def usable_cpus() -> int:
    """Cores this process may really use: the minimum of affinity, cgroup quota and count.

    ``os.cpu_count()`` reports the host's cores even inside ``docker run --cpus=1``;
    joblib's ``cpu_count`` reads affinity and the cgroup CPU quota as well.
    """
    return max(1, int(joblib.cpu_count()))


def cpu_affinity() -> list[int] | None:
    """The CPU ids this process may run on, or None where the OS does not say."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def cgroup_cpu_quota() -> float | None:
    """The container's CPU quota in cores (``--cpus``), or None when unlimited or unknown."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota_file = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        period_file = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if quota_file.exists() and period_file.exists():
            quota_us = int(quota_file.read_text())
            return None if quota_us <= 0 else quota_us / int(period_file.read_text())
    except (OSError, ValueError):
        return None
    return None


@cache
def cpu_model() -> str:
    """A human-readable processor name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"mlcpu": __version__}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_info() -> dict[str, Any]:
    """Facts that explain a measurement: cores, memory, interpreter, library versions."""
    versions = package_versions()
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "physical_cores": psutil.cpu_count(logical=False),
        "cpu_affinity": cpu_affinity(),
        "cpu_quota": cgroup_cpu_quota(),
        "cpu_model": cpu_model(),
        "memory_total_bytes": psutil.virtual_memory().total,
        "memory_available_bytes": psutil.virtual_memory().available,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": platform.node(),
        "executable": sys.executable,
        "scikit_learn": versions["scikit-learn"],
        "joblib": versions["joblib"],
        "numpy": versions["numpy"],
        "versions": versions,
    }


def benchmark_facts() -> dict[str, Any]:
    """What pytest-benchmark's ``machine_info`` lacks to explain a parallel timing.

    Only facts that stay the same between two runs on one machine (no free memory, no file
    paths), so pytest-benchmark's own "machine_info is different" warning stays meaningful.
    """
    import sklearn.ensemble  # noqa: F401 - loads OpenMP, so threadpoolctl can see it
    from threadpoolctl import threadpool_info

    versions = package_versions()
    keys = ("user_api", "internal_api", "version", "num_threads")
    pools = sorted(
        ({key: info.get(key) for key in keys} for info in threadpool_info()),
        key=lambda pool: [str(pool[key]) for key in keys],  # load order varies between runs
    )
    return {
        "usable_cpus": usable_cpus(),
        "cpu_affinity": cpu_affinity(),
        "cpu_quota": cgroup_cpu_quota(),
        "threadpools": pools,
        "scikit_learn": versions["scikit-learn"],
        "joblib": versions["joblib"],
        "numpy": versions["numpy"],
    }
