"""Reading a Dask scheduler address, without importing Dask (the command line checks it early)."""

from __future__ import annotations

import ipaddress
import os
import socket

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


def insecure_warning(address: str) -> str | None:
    """The warning for a plain ``tcp://`` scheduler off this machine (None: TLS or loopback).

    Dask moves pickles: whoever reaches such a scheduler can run code on every worker.
    """
    scheme, _, rest = address.partition("://")
    if scheme != "tcp" or _is_loopback(rest.rpartition(":")[0].strip("[]")):
        return None
    return (
        f"the Dask scheduler at {address} is reached over plain TCP: the traffic is neither "
        "authenticated nor encrypted, and anyone who can reach it can run code on every "
        "worker; use tls:// with certificates (README: Running on a cluster)"
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    addresses = [str(a).split("%")[0] for a in found]  # "fe80::1%eth0": the zone is not part
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)
