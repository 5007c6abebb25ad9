"""Engines: where units of work run. See ``base`` for the contract and the data flow.

``inprocess`` (the calling thread), ``supervised`` (loky, a ``multiprocessing.Pool``, threads,
each a ``pools`` backend watched by the ``supervisor``), ``dask_cluster`` (Dask distributed).
All report failures through ``failures.FailurePolicy``. Engines import ``training.units``,
``records``, ``data.shared`` and ``host``; never a plan or a strategy.
"""
