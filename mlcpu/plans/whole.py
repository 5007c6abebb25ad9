"""Whole configurations, one unit each: the tutorial's way, and what every other plan is against."""

from __future__ import annotations

from typing import Any

from mlcpu.plans.base import Emit, Plan
from mlcpu.records.task import TaskResult
from mlcpu.training.units import Job, execute
from mlcpu.training.workload import Workload


class WholePlan(Plan):
    """Each configuration trained and scored in one unit, ``n_jobs`` threads inside its fit.

    In workload order by default (what a pool given the list does); ``largest_first`` for an
    engine that hands units out one at a time (Dask), so no big forest is left to the end.
    """

    job_function = staticmethod(execute)

    def __init__(
        self,
        workload: Workload,
        emit: Emit,
        *,
        keep_estimators: bool = False,
        n_jobs: int = 1,
        largest_first: bool = False,
    ) -> None:
        super().__init__(workload, emit, keep_estimators=keep_estimators)
        self.n_jobs = n_jobs
        self.largest_first = largest_first

    def units(self) -> list[Any]:
        w = self.workload
        jobs = [
            Job(i, c, w.dataset, w.seed, n_jobs=self.n_jobs, keep_estimator=self.keep_estimators)
            for i, c in enumerate(w.configs)
        ]
        if self.largest_first:
            jobs.sort(key=lambda job: (-job.config.n_estimators, job.index))
        return jobs

    def take(self, record: TaskResult) -> TaskResult:
        self.finish(record.index, record)
        return record
