"""Which charts a result gets, one by one or composed into one overview picture, and writing them.

A run gets a speedup chart, a timeline and accuracy vs n_estimators (a cross-validated search:
its mean score vs n_estimators, with error bars, instead). A sweep gets its scaling
chart, accuracy for every size, and the speedup chart and timeline of its largest size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlcpu.errors import InputError
from mlcpu.records import atomic
from mlcpu.records.results import RunResults
from mlcpu.records.sweeps import Sweep
from mlcpu.reporting import _mpl, accuracy, scaling, search_chart, speedup, timeline
from mlcpu.reporting.candidates import candidate_records

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
Source = RunResults | Sweep


def _runs(source: Source) -> list[RunResults]:
    return [p.run for p in source.points] if isinstance(source, Sweep) else [source]


def _detail(source: Source) -> RunResults:
    return source.largest if isinstance(source, Sweep) else source


def figures(source: Source) -> dict[str, Figure]:
    """Every chart for ``source`` by file stem, in the order a reader should see them."""
    _mpl.require()
    found: dict[str, Figure] = {}
    if isinstance(source, Sweep):
        found["scaling"] = scaling.figure(source)
    detail = _detail(source)
    found["speedup"] = speedup.figure(detail)
    found["timeline"] = timeline.figure(detail)
    if candidate_records(detail):  # a fold's accuracy is one score of many: draw the search
        found["search"] = search_chart.figure(detail)
    else:
        found["accuracy"] = accuracy.figure(_runs(source))
    return found


def overview(source: Source) -> Figure:
    """All charts in one picture (``mlcpu run --plot``, ``mlcpu report -o FILE.png``)."""
    detail = _detail(source)
    strategies = [s for s in detail.strategies if s.tasks]
    lanes = sum(len(timeline.lanes(s)) for s in strategies)
    top = 1.8 + 0.55 * max(len(detail.strategies), 4)
    bottom = 2.0 + 0.45 * len(strategies) + 0.38 * max(lanes, 1)
    heights = [top, bottom]
    if isinstance(source, Sweep):
        heights.insert(0, 5.6 + 0.25 * max(0, len(source.strategy_names()) - 4))
    with _mpl.styled():
        fig = _mpl.new_figure(15, sum(heights))
        parts = list(fig.subfigures(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0])
        if isinstance(source, Sweep):
            scaling.draw(parts.pop(0), source)
        left, right = parts[0].subfigures(1, 2, width_ratios=[1.5, 1])
        speedup.draw(left, detail)
        if candidate_records(detail):
            search_chart.draw(right, detail)
        else:
            accuracy.draw(right, _runs(source))
        timeline.fit_labels(fig, timeline.draw(parts[1], detail))
    return fig


def image_format(path: Path) -> str:
    """The image format a file name asks for; anything else is an InputError."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(
            f"cannot tell the image format of {str(path)!r}: the file name must end in "
            f"{', '.join('.' + f for f in FORMATS)}"
        )
    return fmt


def write_overview(source: Source, path: Path) -> Path:
    fmt = image_format(path)
    return atomic.write_bytes(path, _mpl.to_image(overview(source), fmt))


def write_figures(source: Source, folder: Path) -> list[Path]:
    """One PNG per chart into ``folder`` (created if missing); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        atomic.write_bytes(folder / f"{name}.png", _mpl.to_image(fig))
        for name, fig in figures(source).items()
    ]


def write(source: Source, target: Path) -> list[Path]:
    """A file name with a suffix (.png, .svg, .pdf) gets the overview; a path without, a folder."""
    if target.suffix and not target.is_dir():
        return [write_overview(source, target)]  # an unknown suffix is an InputError there
    if target.exists() and not target.is_dir():
        raise InputError(
            f"{str(target)!r} is an existing file without an image suffix; give a folder "
            f"or a file name ending in {', '.join('.' + f for f in FORMATS)}"
        )
    return write_figures(source, target)
