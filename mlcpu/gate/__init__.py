"""``mlcpu gate``: a regression gate for shared, noisy CI machines.

Both trees are measured in one job, round by round, each in its own process importing its own
``mlcpu`` (``sides``, running ``side.py``); ``session`` interleaves them and decides when to
look; ``judge`` turns paired rounds into a verdict with ``mlcpu.comparing.ratios``; ``output``
writes the table, ``mlcpu.gate/1`` JSON and pytest-benchmark files. ``catalogue`` names what is
measured, as the benchmark suite names it.
"""
