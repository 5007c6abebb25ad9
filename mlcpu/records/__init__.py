"""Plain records: configurations, task and run results, sweeps, the ceiling, their JSON schemas.

A leaf package: its modules import only each other, ``mlcpu.errors`` and ``mlcpu._version``
(and numpy), never scikit-learn, a dataset loader or an engine, so ``mlcpu compare`` and
``mlcpu report`` read result files without loading the machinery that produced them.
"""
