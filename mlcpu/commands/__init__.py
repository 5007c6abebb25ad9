"""Subcommands of the ``mlcpu`` command line; each module adds its parser and a handler."""

from mlcpu.commands import compare, gate, plan, report, run, sweep

COMMANDS = [run, plan, sweep, report, compare, gate]
