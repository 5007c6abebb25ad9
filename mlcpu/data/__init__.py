"""Datasets: built-in, generated or a user's CSV, split once, shared with worker processes once.

Imports ``mlcpu.records``, ``mlcpu.host`` and ``mlcpu.errors``; never a plan, engine or strategy.
"""
