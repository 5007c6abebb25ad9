"""The thread that sees worker processes die, in the order they die."""

from __future__ import annotations

import multiprocessing.connection
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from mlcpu.engines.backend import Backend
from mlcpu.engines.wakeup import Wakeup
from mlcpu.host.thirdparty import recover_tracker


class DeathWatch:
    """A thread that only waits on worker sentinels, so deaths are seen in the order they happen.

    When one loky worker dies, loky kills the others a moment later. A thread that is already
    blocked on every sentinel wakes with only the first death in its ready set (the kernel
    fills it in before loky's own thread can run), so the culprit is told from the bystanders.
    Deaths seen in one wake-up are reported together as one batch.
    """

    def __init__(self, backend: Backend, report: Callable[[list[tuple[int, int | None]]], None]):
        self.backend = backend
        self.report = report
        self._stop = Wakeup()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="mlcpu-death-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._stop.notify()
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():  # else leave the pipe to the thread rather than
            self._stop.close()  # let it wait on a descriptor number that gets reused

    def _loop(self) -> None:
        watched: dict[int, BaseProcess] = {}
        dead: set[int] = set()
        while not self._stopping:
            recover_tracker()  # before loky's next message finds it dead (see _thirdparty)
            for process in self.backend.watched():
                watched.setdefault(process.pid, process)  # type: ignore[arg-type]
            live = {p.sentinel: p for pid, p in watched.items() if pid not in dead}
            ready = multiprocessing.connection.wait([self._stop.read_fd, *live], timeout=0.05)
            batch = [live[s] for s in ready if s in live]
            if batch and not self._stopping:
                for process in batch:
                    dead.add(process.pid)  # type: ignore[arg-type]
                self.report([(p.pid, exit_code(p)) for p in batch])  # type: ignore[misc]


def exit_code(process: BaseProcess, patience: float = 1.0) -> int | None:
    """The exit status of a worker whose sentinel just fired.

    ``multiprocessing.Pool``'s own thread reaps dead workers too: when it wins the race, our
    ``waitpid`` finds nothing, and the status appears on the shared process object only once
    that thread has stored it. So look again for a moment instead of giving up at once.
    """
    deadline = time.monotonic() + patience
    while process.exitcode is None and time.monotonic() < deadline:
        process.join(timeout=0.01)
    return process.exitcode
