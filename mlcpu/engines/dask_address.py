"""Reading a Dask scheduler address, without importing Dask (the command line checks it early)."""

from __future__ import annotations

import os

from mlcpu.errors import InputError

SCHEDULER_ENV = "MLCPU_DASK_SCHEDULER"
SCHEMES = ("tcp", "tls")
EXPECTED = "tcp://HOST:PORT (or tls://HOST:PORT)"


def scheduler_address(text: str, source: str = "--scheduler") -> str:
    """``HOST:PORT`` or ``tcp://HOST:PORT`` -> ``tcp://HOST:PORT``; anything else is refused."""
    address = text.strip()
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    host, colon, port = rest.rpartition(":")
    valid = (
        scheme in SCHEMES
        and colon == ":"
        and host.strip("[]") != ""
        and "/" not in host
        and port.isdigit()
        and 0 < int(port) < 65536
    )
    if not valid:
        raise InputError(f"{source} expects {EXPECTED}, got {text!r}")
    return f"{scheme}://{host}:{int(port)}"


def configured_scheduler(given: str | None) -> str | None:
    """The scheduler to connect to: ``given`` (``--scheduler``), else ``$MLCPU_DASK_SCHEDULER``."""
    if given:
        return scheduler_address(given)
    from_env = os.environ.get(SCHEDULER_ENV, "").strip()
    return scheduler_address(from_env, SCHEDULER_ENV) if from_env else None
