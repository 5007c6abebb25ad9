"""The gate's handle on one side: a ``side.py`` process started in its own tree and session.

Each side runs in a new session (its own process group), so its pools' workers can be killed
with it: on Ctrl-C, SIGTERM or any failure the gate kills both groups and nothing is left
behind. A side that dies, hangs past its deadline or answers with an error is a
``SideFailed`` naming the side: the gate then fails closed (exit 2).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcpu.errors import InputError

SIDE_PROGRAM = Path(__file__).with_name("side.py")
HELLO_TIMEOUT_S = 120.0  # importing scikit-learn on a loaded machine
STDERR_LINES = 12


class SideFailed(Exception):
    """A side crashed, hung or reported an error; the message names the side."""


def check_tree(label: str, tree: str, package: bool = True) -> Path:
    """A project tree: a folder holding an importable ``mlcpu`` package (unless ``package``
    is False: a pytest suite's tree needs only the suite)."""
    path = Path(tree)
    try:
        if not path.is_dir():
            what = "does not exist" if not path.exists() else "is not a folder"
            raise InputError(f"{label} tree {tree!r} {what}")
        if package and not (path / "mlcpu" / "__init__.py").is_file():
            raise InputError(
                f"{label} tree {tree!r} has no mlcpu/__init__.py: give the root of an mlcpu "
                "checkout (for a base commit: git worktree add ../base BASE_SHA)"
            )
    except OSError as exc:
        raise InputError(f"{label} tree {tree!r} cannot be read: {exc.strerror}") from None
    return path.resolve()


@dataclass
class Hello:
    """What a side imported: its ``mlcpu`` file and version, and the strategies it has."""

    mlcpu_file: str
    version: str
    strategies: list[str]
    python: str
    pid: int


class SideProcess:
    """One running side. ``request`` sends a line and waits for the reply, with a deadline."""

    def __init__(self, label: str, tree: Path, program_folder: Path) -> None:
        self.label = label
        self.tree = tree
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        program = program_folder / "mlcpu_gate_side.py"
        if not program.exists():
            shutil.copyfile(SIDE_PROGRAM, program)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
        env.pop("PYTHONSTARTUP", None)
        self.process = subprocess.Popen(
            [sys.executable, str(program), str(tree)],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line.rstrip())

    def hello(self) -> Hello:
        message = self._receive(HELLO_TIMEOUT_S, "starting")
        if message.get("event") == "error":
            raise SideFailed(f"{self.label} ({self.tree}): {message.get('message')}")
        missing = message.get("missing") or []
        found = message.get("mlcpu_file", "?")
        if missing:
            raise SideFailed(
                f"{self.label} tree {str(self.tree)!r} is too old for the gate: its mlcpu "
                f"({found}) lacks {', '.join(missing)} (public API since mlcpu 0.1)"
            )
        if not Path(found).is_relative_to(self.tree):
            raise SideFailed(
                f"{self.label} side imported mlcpu from {found}, not from its tree "
                f"{self.tree}: is PYTHONPATH or a .pth file forcing another copy?"
            )
        return Hello(
            mlcpu_file=found,
            version=str(message.get("version")),
            strategies=list(message.get("strategies") or []),
            python=str(message.get("python")),
            pid=int(message.get("pid", self.pid)),
        )

    def request(self, timeout_s: float, op: str, **fields: Any) -> dict[str, Any]:
        what = f"{op} {fields['name']}" if "name" in fields else op
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise SideFailed(self._death(what)) from None
        message = self._receive(timeout_s, what)
        if message.get("event") == "error":
            detail = message.get("message", "failed")
            raise SideFailed(f"{self.label} side failed in {what}: {detail}{self._tail()}")
        return message

    def _receive(self, timeout_s: float, what: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SideFailed(
                    f"{self.label} side did not answer within {timeout_s:.0f} s ({what}): hung"
                    f"{self._tail()}"
                )
            if self._selector.select(timeout=min(left, 1.0)):
                line = self.process.stdout.readline()
                if not line:
                    raise SideFailed(self._death(what))
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    continue  # not ours: a library wrote to the inherited descriptor
                if isinstance(message, dict):
                    return message
            elif self.process.poll() is not None:
                raise SideFailed(self._death(what))

    def _death(self, what: str) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with code {code}" if code is not None else "closed its output"
        return f"{self.label} side (pid {self.pid}) {how} during {what}{self._tail()}"

    def _tail(self) -> str:
        time.sleep(0.05)  # let the stderr thread catch the last lines
        lines = [line for line in self._stderr if line.strip()]
        return ("; its last output: " + " | ".join(lines[-3:])) if lines else ""

    def close(self, timeout_s: float = 10.0) -> None:
        """Ask the side to quit, then kill its whole process group if it lingers."""
        if self.process.poll() is None and self.process.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout_s)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the side's process group: the side and every worker it started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self._selector.close()


@contextlib.contextmanager
def program_folder() -> Any:
    """A private folder holding the copy of ``side.py`` both sides run."""
    with tempfile.TemporaryDirectory(prefix="mlcpu-gate-") as folder:
        yield Path(folder)
