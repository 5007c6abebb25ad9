"""A cross-validated search's candidates for people: rank, parameters, mean +- std of the folds."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mlcpu.records import search
from mlcpu.records.results import RunResults


def candidate_records(results: RunResults) -> list[dict[str, Any]]:
    """The candidates of the first strategy that scored all of them (``search.completed``)."""
    return search.candidates(search.completed(s.tasks for s in results.strategies))


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in params.items())


def candidates_table(results: RunResults) -> Table | None:
    records = candidate_records(results)
    if not records:
        return None
    folds = len(records[0]["split_test_scores"])
    table = Table(title=f"Candidates ({folds}-fold cross-validation on the training split)")
    table.add_column("rank", justify="right")
    table.add_column("params")
    table.add_column("mean test score", justify="right")
    table.add_column("std", justify="right")
    for record in sorted(records, key=lambda r: r["rank_test_score"]):
        mean, std = record["mean_test_score"], record["std_test_score"]
        table.add_row(
            str(record["rank_test_score"]),
            params_text(record["params"]),
            "-" if mean is None else f"{mean:.4f}",
            "-" if std is None else f"± {std:.4f}",
        )
    return table


def best_line(results: RunResults) -> str | None:
    best = results.extra.get("best")
    if not isinstance(best, dict):
        return None
    return (
        f"Best: {params_text(best['params'])} (mean test score {best['mean_test_score']:.4f}); "
        f"refit on the whole training split: {best['test_accuracy']:.4f} on the held-out split."
    )
