"""Set-up of every worker process: signals, parent-death, thread caps.

Kept free of heavy imports (no numpy, no scikit-learn): a worker runs this before it imports
the training stack, so the window in which a dying parent could leave it orphaned stays short.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import psutil

_PR_SET_PDEATHSIG = 1
_WATCHDOG_INTERVAL_S = 0.5


def init_process_worker(
    parent_pid: int, parent_started: float, from_main_thread: bool, inner_threads: int | None
) -> None:
    """Initializer of every worker process.

    - Ctrl-C reaches the whole process group; only the parent acts on it, then stops workers.
    - Handlers inherited through fork are reset, so SIGTERM ends a worker at once.
    - The worker dies with its parent even when the parent is SIGKILLed: a parent-death signal
      on Linux, and everywhere a watchdog thread that checks the parent is still the same
      running process (a zombie, or a new process that reused the pid, does not count).
      Linux sends the parent-death signal when the *thread* that started the worker ends, so
      it is only asked for when that was the main thread: a pool started or restarted from a
      short-lived thread (a library user's, or a test's) must outlive it; the watchdog covers.
    - BLAS/OpenMP pools are capped once, for the worker's lifetime, so workers x inner threads
      never oversubscribe the cores: the environment for libraries not loaded yet (spawned
      workers), threadpoolctl for those already loaded (forked workers). Capping per task
      instead would cost milliseconds each time.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked while forking, see ``terminable_forks``
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if inner_threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(inner_threads)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=inner_threads)
    if from_main_thread:
        _set_parent_death_signal()
    if not parent_alive(parent_pid, parent_started):
        os._exit(1)
    threading.Thread(
        target=_watch_parent,
        args=(parent_pid, parent_started),
        name="mlcpu-parent-watchdog",
        daemon=True,
    ).start()


@contextlib.contextmanager
def terminable_forks() -> Iterator[None]:
    """Around starting a pool that forks workers (now, and later from threads started here).

    A forked worker runs its parent's Python signal handlers until its initializer resets
    them: a pool stopping it in that moment (SIGTERM) would raise the command line's
    ``Terminated`` inside the worker, which prints a traceback. SIGTERM is blocked in the
    threads that fork (the mask is inherited by threads and forks), so a worker receives it
    only once its initializer has reset the handler and unblocked it: then it just ends.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def parent_identity() -> tuple[int, float, bool]:
    """What a worker needs to recognise its parent: pid, process start time, and whether the
    worker is started from the main thread (see ``init_process_worker``)."""
    me = psutil.Process()
    return me.pid, me.create_time(), threading.current_thread() is threading.main_thread()


def parent_alive(pid: int, started: float) -> bool:
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch_parent(parent_pid: int, parent_started: float) -> None:
    while parent_alive(parent_pid, parent_started):
        time.sleep(_WATCHDOG_INTERVAL_S)
    os._exit(1)
