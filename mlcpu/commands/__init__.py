"""Subcommands of the ``mlcpu`` command line; each module adds its parser and a handler."""

from mlcpu.commands import compare, gate, report, run, sweep

COMMANDS = [run, sweep, report, compare, gate]
