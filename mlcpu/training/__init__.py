"""Training itself: the workload, fitting one configuration or a range of trees, and the units.

``units`` defines what travels to a worker (a ``Job``, a ``ChunkJob``) and the worker-side entry
points that run them; ``forests`` cuts and joins forests tree by tree. Imports ``data`` and
``records``; never a plan, engine or strategy.
"""
