"""A search's scores: mean cross-validated score vs forest size, one line per other parameters,
with the folds' standard deviation as error bars (what ``GridSearchCV`` users plot by hand)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcpu.records.results import RunResults
from mlcpu.reporting import _mpl
from mlcpu.reporting.candidates import candidate_records, params_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure


def lines(results: RunResults) -> dict[str, list[tuple[int, float, float]]]:
    """Other parameters -> (n_estimators, mean, std) in forest-size order; failed ones left out."""
    found: dict[str, list[tuple[int, float, float]]] = {}
    for record in candidate_records(results):
        params = dict(record["params"])
        trees = params.pop("n_estimators")
        if record["mean_test_score"] is None:
            continue
        found.setdefault(params_text(params) or "every candidate", []).append(
            (trees, record["mean_test_score"], record["std_test_score"])
        )
    return {name: sorted(points) for name, points in found.items()}


def figure(results: RunResults) -> Figure:
    return _mpl.drawn(8, 5, lambda fig: draw(fig, results))


def draw(fig: Figure | SubFigure, results: RunResults) -> Axes:
    ax = fig.add_subplot()
    found = lines(results)
    folds = results.workload.get("cv")
    fig.suptitle(
        f"Mean test score vs forest size\n{folds}-fold cross-validation · bars: ± std of the folds",
        fontsize=12,
    )
    if not found:
        return _mpl.nothing_to_draw(ax, "No scored candidates to draw.")
    for i, (name, points) in enumerate(found.items()):
        xs, means, stds = zip(*points, strict=True)
        ax.errorbar(
            xs, means, yerr=stds, marker="o", capsize=4, linewidth=1.5,
            color=_mpl.line_colour(i, len(found)), label=name,
        )  # fmt: skip
    sizes = sorted({x for points in found.values() for x, _, _ in points})
    if sizes[-1] / sizes[0] >= 8:
        ax.set_xscale("log")
        _mpl.plain_log_ticks(ax.xaxis)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("forest size (n_estimators, trees)")
    ax.set_ylabel("mean accuracy over the folds")
    ax.legend(title="other parameters", loc="best", fontsize=8)
    return ax
