"""matplotlib, imported only when a chart is asked for, plus the look every chart shares.

Charts are drawn on ``matplotlib.figure.Figure`` objects directly (no ``pyplot``): no global
figure registry, no GUI backend to select, nothing left open between charts.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mlcpu.errors import MissingExtraError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
SEQUENTIAL_COLOR = "#555555"
# Okabe–Ito plus two: distinguishable for colour-blind readers, ten strategies before reuse.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#8C564B",
    "#F0C808",
    "#7F3C8D",
    "#1B9E77",
)
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 9,
    "legend.framealpha": 0.9,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
}


def require() -> Any:
    """Import matplotlib or raise the error that names the ``plot`` extra (exit code 2)."""
    try:
        import matplotlib
        from matplotlib.figure import Figure  # noqa: F401 - fails early on a broken install
    except ImportError:
        raise MissingExtraError("drawing charts", "plot", "matplotlib") from None
    return matplotlib


def new_figure(width: float, height: float) -> Figure:
    """A figure in the shared style, sized in inches (at ``DPI`` pixels per inch)."""
    require()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # a real renderer, so text extents can be measured before saving
    return figure


def drawn(width: float, height: float, draw: Callable[[Figure], object]) -> Figure:
    """A ``new_figure`` that ``draw`` has drawn on, in the shared style."""
    with styled():
        figure = new_figure(width, height)
        draw(figure)
    return figure


def styled() -> Any:
    """Context manager applying the shared style while axes and artists are created."""
    return require().rc_context(STYLE)


def strategy_colors(names: Sequence[str]) -> dict[str, str]:
    """One stable colour per strategy, sequential always grey, in the order given."""
    colors: dict[str, str] = {}
    others = [n for n in names if n != "sequential"]
    for i, name in enumerate(others):
        colors[name] = PALETTE[i % len(PALETTE)]
    if "sequential" in names:
        colors["sequential"] = SEQUENTIAL_COLOR
    return colors


def nothing_to_draw(ax: Axes, text: str, **kwargs: Any) -> Axes:
    """Turn ``ax`` into a note saying why there is no chart."""
    ax.text(0.5, 0.5, text, ha="center", transform=ax.transAxes, **kwargs)
    ax.set_axis_off()
    return ax


def to_image(figure: Figure, fmt: str = "png") -> bytes:
    """Render ``figure`` to bytes (``png``, ``svg`` or ``pdf``)."""
    buffer = io.BytesIO()
    with styled():
        figure.savefig(buffer, format=fmt, dpi=DPI, facecolor="white")
    return buffer.getvalue()


def text_color_on(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a bar of colour ``rgba``."""
    red, green, blue = rgba[:3]
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "black" if luminance > 0.5 else "white"


def plain_log_ticks(axis: Any) -> None:
    """On a log axis, write the labelled ticks as 0.3 and 20 rather than 3×10⁻¹ and 2×10¹."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainLog(LogFormatterSciNotation):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    axis.set_major_formatter(PlainLog())
    axis.set_minor_formatter(PlainLog(labelOnlyBase=False))


def line_colour(index: int, count: int) -> Any:
    """Lines get shades of one scale, never a strategy's colour from the other charts."""
    if count == 1:
        return "black"
    return require().colormaps["plasma"](0.85 * index / (count - 1))
