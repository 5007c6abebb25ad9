"""Subcommands of the ``mlcpu`` command line; each module adds its parser and a handler."""

from mlcpu.commands import run, sweep

COMMANDS = [run, sweep]
