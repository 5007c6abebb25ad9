"""Every private part of another library that mlcpu relies on, read in this one place.

A private attribute is a contract nobody promised to keep. Each one is read through a function
here that checks it when it is needed and, if an upgrade removed it, raises ``InternalsChanged``
naming the library and its version, instead of falling back to a default that would quietly
switch off worker-death detection (which brings back the hangs the supervisor exists to
prevent). ``tests/test_thirdparty.py`` pins every accessor against the installed versions.

=======================================  ==========================================
what                                     read from
=======================================  ==========================================
a ``multiprocessing.Pool``'s workers     ``Pool._pool`` (no public way to them)
a loky executor's workers                ``ProcessPoolExecutor._processes``
a loky executor's queued task ids        ``ProcessPoolExecutor._work_ids``
the fork server's process                ``forkserver._forkserver._forkserver_pid``,
                                         ``._stop``
loky's resource tracker's process        ``resource_tracker._resource_tracker._pid``
joblib's reusable loky executor          ``loky.reusable_executor._executor``
=======================================  ==========================================
"""

from __future__ import annotations

import contextlib
import os
import platform
import queue
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.process import BaseProcess
from typing import Any

import psutil


class InternalsChanged(RuntimeError):
    """A private part of another library that mlcpu reads is gone (an upgrade changed it)."""


def _python() -> str:
    return f"Python {platform.python_version()}'s multiprocessing"


def _joblib() -> str:
    import joblib
    from joblib.externals import loky

    return f"joblib {joblib.__version__} (loky {loky.__version__})"


_OPTIONAL_INT = (int, type(None))


def _read(
    owner: object,
    attribute: str,
    library: Callable[[], str],
    purpose: str,
    kind: type | tuple[type, ...] | None,
) -> Any:
    """``owner.attribute``, checked to exist (and be of ``kind``); else ``InternalsChanged``
    naming ``library()`` (its name and version, worked out only then)."""
    try:
        value = getattr(owner, attribute)
    except AttributeError:
        found = "it is missing"
    else:
        if kind is None or isinstance(value, kind):
            return value
        found = f"it holds a {type(value).__name__}"
    raise InternalsChanged(
        f"{library()} changed: mlcpu reads its private {type(owner).__name__}.{attribute} to "
        f"{purpose}, but {found}; use a version mlcpu supports or update mlcpu.host.thirdparty"
    )


# -- worker processes --------------------------------------------------------------------------
def pool_processes(pool: object) -> list[BaseProcess]:
    """The worker processes of a ``multiprocessing.Pool`` (its ``_pool`` list)."""
    workers = _read(pool, "_pool", _python, "watch the pool's worker processes", list)
    return list(workers)


def loky_processes(executor: object) -> list[BaseProcess]:
    """The worker processes of a loky ``ProcessPoolExecutor`` (its ``_processes`` dict)."""
    workers = _read(executor, "_processes", _joblib, "watch the pool's worker processes", dict)
    return list(workers.values())


def loky_forget_queued(executor: object) -> None:
    """Empty a loky executor's queue of task ids not yet handed to a worker.

    ``shutdown(kill_workers=True)`` forgets every pending task, but its manager thread then
    looks up the ids still queued and dies with a ``KeyError`` traceback on stderr (seen with
    more tasks than workers when a run fails fast). Only that thread reads the queue, so
    emptying it first is safe.
    """
    work_ids = _read(executor, "_work_ids", _joblib, "drop queued tasks at shutdown", queue.Queue)
    with contextlib.suppress(queue.Empty):
        while True:
            work_ids.get_nowait()


def stop_reusable_executor() -> None:
    """Shut joblib's reusable loky executor down, if one runs (``GridSearchCV``'s workers).

    ``get_reusable_executor().shutdown()`` would first *replace* an executor made with other
    arguments (joblib's own) by a new one, starting workers only to stop them.
    """
    from joblib.externals.loky import reusable_executor

    executor = _read(
        reusable_executor, "_executor", _joblib, "stop GridSearchCV's worker processes", None
    )
    if executor is not None:
        executor.shutdown(wait=True)


def _forkserver() -> object:
    from multiprocessing import forkserver

    return _read(forkserver, "_forkserver", _python, "see the fork server", None)


def forkserver_running() -> bool:
    """Whether this process's fork server is running (so a pool need not stop it)."""
    server = _forkserver()
    _read(server, "_stop", _python, "stop the fork server a pool started", None)
    pid = _read(server, "_forkserver_pid", _python, "see the fork server", _OPTIONAL_INT)
    return pid is not None


def stop_forkserver() -> None:
    """Stop this process's fork server, so no helper process outlives the pool that started it."""
    stop = _read(_forkserver(), "_stop", _python, "stop the fork server a pool started", None)
    with contextlib.suppress(OSError):
        stop()


# -- loky's resource tracker -------------------------------------------------------------------
# A SIGKILLed tracker is relaunched by loky at the next message, empty: every later UNREGISTER
# of a name the dead one knew makes the new tracker print a KeyError traceback to our stderr,
# and nothing registered before is removed any more if mlcpu is killed. So the names mlcpu
# registers are remembered, and before the points where messages are sent (pools starting and
# stopping, folders being removed) a dead tracker is relaunched here and told them again,
# together with this process's loky semaphores (which loky unregisters when they are freed).
_tracked: dict[str, str] = {}  # name -> resource type, registered by mlcpu and still live
_tracker_lock = threading.Lock()
_tracker_seen: int | None = None  # the tracker pid that knows every name in ``_tracked``
_LOKY_SEMAPHORES = "/dev/shm"


# The trackers (loky's, and the standard library's for a fork pool) write to our stderr at
# exit about "leaked" semaphores of a worker that was killed: mlcpu has reported that death in
# one line already, and the tracker still removes them. A tracker is started with this
# interpreter's -W options, so this filter, set before any pool starts, reaches it.
QUIET_TRACKERS = "ignore:resource_tracker:UserWarning"


def _tracker() -> Any:
    from joblib.externals.loky.backend import resource_tracker

    if QUIET_TRACKERS not in sys.warnoptions:
        sys.warnoptions.append(QUIET_TRACKERS)
    return resource_tracker


def tracker_pid() -> int | None:
    """The pid of loky's resource tracker as this process knows it (None: not started)."""
    tracker = _read(_tracker(), "_resource_tracker", _joblib, "see the resource tracker", None)
    return _read(tracker, "_pid", _joblib, "see whether the resource tracker died", _OPTIONAL_INT)


def track(name: str, rtype: str) -> None:
    """Register ``name`` with loky's resource tracker, which removes it if mlcpu is killed."""
    with _tracker_lock:
        _recover_locked()
        # A tracker that dies during the call is not an error here: loky's first write to one
        # it just launched is unguarded (BrokenPipeError), and a later one relaunches it but
        # drops the message. The look below finds it dead or new and tells it every name.
        with _relaunch_warning_ignored(), contextlib.suppress(OSError):
            _tracker().register(name, rtype)
        _tracked[name] = rtype
        _recover_locked()


def untrack(name: str, rtype: str) -> None:
    """Unregister ``name`` (mlcpu removes it itself)."""
    with _tracker_lock:
        _recover_locked()
        if _tracked.pop(name, None) is not None:
            with contextlib.suppress(Exception):
                _tracker().unregister(name, rtype)


def recover_tracker() -> None:
    """If loky's resource tracker died, start a new one that knows what the dead one knew."""
    with _tracker_lock:
        _recover_locked()


def _recover_locked() -> None:
    global _tracker_seen
    pid = tracker_pid()
    if pid is None and _tracker_seen is None:
        return  # not started in this process: nothing was registered yet
    alive = pid is not None and _alive(pid)
    if alive and pid == _tracker_seen:
        return
    if alive and _tracker_seen is None:
        _tracker_seen = pid  # first look at a tracker loky started: it knows loky's names
        return
    if not alive:
        with _relaunch_warning_ignored():
            _tracker().ensure_running()
        pid = tracker_pid()
    # A new tracker (relaunched here, or by loky since the last look) knows none of them.
    for name, rtype in [*_tracked.items(), *_loky_semaphores()]:
        with contextlib.suppress(Exception):
            _tracker().register(name, rtype)
    _tracker_seen = pid


@contextlib.contextmanager
def tracker_relaunch_handled() -> Iterator[None]:
    """Around code of loky's that may be first to find the tracker dead (an executor starting
    its workers): the relaunch is not reported as a leak, as it is made good right after."""
    with _relaunch_warning_ignored():
        yield
    recover_tracker()


@contextlib.contextmanager
def _relaunch_warning_ignored() -> Iterator[None]:
    with warnings.catch_warnings():
        # loky: "resource_tracker: process died unexpectedly, relaunching.  Some resources
        # might leak." Not so here: what the dead tracker knew is registered again.
        warnings.filterwarnings("ignore", "resource_tracker: process died", UserWarning)
        yield


def _alive(pid: int) -> bool:
    """Whether the tracker (a child of this process) still runs; a zombie does not count."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _loky_semaphores() -> Iterable[tuple[str, str]]:
    """This process's live loky semaphores (Linux keeps named semaphores in /dev/shm)."""
    prefix = f"sem.loky-{os.getpid()}-"
    with contextlib.suppress(OSError):
        for entry in os.listdir(_LOKY_SEMAPHORES):
            if entry.startswith(prefix):
                yield "/" + entry[len("sem.") :], "semlock"
