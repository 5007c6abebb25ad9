"""The ``mlcpu`` command line: parsing, exit codes and signals; the work lives in ``commands``.

Exit codes: 0 success, 1 a run failed, 2 bad input, 130 interrupted (SIGINT), 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import NoReturn

from mlcpu._version import __version__
from mlcpu.errors import InputError, TaskError, TaskFailedError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same clean-up runs; exits with 143."""


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument as one line (no usage dump) so the error is the first thing seen."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlcpu",
        description="Which way of spreading model training over your CPU cores is fastest, "
        "how close to the limit it gets, and did your last change make it slower or less "
        "accurate?",
    )
    parser.add_argument("--version", action="version", version=f"mlcpu {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Imported here, not at module level: the commands pull in scikit-learn (about a second),
    # which `--version` does not need and which Ctrl-C may interrupt (see ``main``).
    from mlcpu.commands import COMMANDS

    for module in COMMANDS:
        module.add_parser(commands)
    return parser


@contextlib.contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting (tests call it)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments == ["--version"]:  # answered without importing the training stack
        print(f"mlcpu {__version__}")
        return EXIT_OK
    with _sigterm_as_exception():
        try:
            parser = build_parser()
            args = parser.parse_args(arguments)
            if args.command is None:
                parser.print_help(sys.stderr)
                return EXIT_USAGE
            args.argv = arguments
            return int(args.handler(args))
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        except InputError as exc:
            _error(str(exc))
            return EXIT_USAGE
        except TaskError as exc:
            _error(str(exc))
            if isinstance(exc, TaskFailedError) and exc.remote_traceback:
                print("Remote traceback:", file=sys.stderr)
                print(_indent(exc.remote_traceback), file=sys.stderr)
            return EXIT_FAILED
        except Terminated:
            _error("terminated (SIGTERM); every worker was stopped")
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            _error("interrupted; every worker was stopped")
            return EXIT_INTERRUPTED


# A quoted value starts and ends at a word boundary: the text *between* two short quoted values
# ("'all'; choose from ... (or 'x')") is not one.
_LONG_QUOTE = re.compile(r"(?<!\w)'([^'\n]{120,})'(?!\w)")


def _error(message: str) -> None:
    print(f"mlcpu: error: {_abbreviate(message)}", file=sys.stderr, flush=True)


def _abbreviate(message: str) -> str:
    """Shorten a long quoted value (a pasted file, a runaway path) so the error stays one line."""

    def short(match: re.Match[str]) -> str:
        text = match.group(1)
        return f"'{text[:60]}…{text[-20:]}' ({len(text)} characters)"

    return _LONG_QUOTE.sub(short, message)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines())
