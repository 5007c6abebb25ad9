"""A self-pipe: how threads of a pool wake the supervisor's loop."""

from __future__ import annotations

import contextlib
import os
import threading


class Wakeup:
    """A self-pipe that pool threads write to when something happened.

    Pool threads may still report after a run has ended (tasks still running when a failure
    stopped the run). Writing to a closed descriptor is worse than an error: the number may
    already belong to a new pipe of another pool, whose reader would then block forever on
    the stray byte. So writes and closing are serialised, and writes after close are dropped.
    """

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._lock = threading.Lock()
        self._closed = False

    def notify(self) -> None:
        with self._lock:
            if not self._closed:
                with contextlib.suppress(OSError):
                    os.write(self._write_fd, b"!")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read_fd, 4096):
                pass

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self.read_fd)
                os.close(self._write_fd)
