"""Checks on pictures the project draws: a real decoder reads them, and their content is measured.

Pillow comes with matplotlib, so these need the ``plot`` extra like the charts themselves.
"""

from __future__ import annotations

import io
import itertools
from typing import Any

from PIL import Image


def decode_png(data: bytes) -> Image.Image:
    """Decode ``data`` fully as a PNG (a truncated or corrupt file raises here)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    with Image.open(io.BytesIO(data)) as probe:
        probe.verify()
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image.convert("RGB")


def assert_chart_image(data: bytes, *, min_width: int = 600, min_height: int = 300) -> Image.Image:
    """A decodable PNG of sensible size that is not blank: many colours, plenty of ink."""
    image = decode_png(data)
    width, height = image.size
    assert min_width <= width <= 4000, f"width {width}px"
    assert min_height <= height <= 6000, f"height {height}px"
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None
    assert len(colours) > 50, f"only {len(colours)} colours: an empty or flat picture"
    white = next((count for count, rgb in colours if rgb == (255, 255, 255)), 0)
    ink = 1 - white / (width * height)
    assert ink > 0.03, f"only {ink:.1%} of the picture is not white"
    return image


def count_near(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """How many pixels are within ``tolerance`` of ``rgb`` on every channel."""
    colours = image.getcolors(maxcolors=1 << 22) or []
    return sum(
        count
        for count, pixel in colours
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=True))
    )


def hex_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def drawn_texts(figure: Any) -> list[Any]:
    """Every non-empty visible text the figure draws (tick labels only for ticks in view)."""
    from matplotlib.axes import Axes
    from matplotlib.text import Text

    figure.canvas.draw()
    hidden: set[int] = set()
    for ax in figure.findobj(Axes):
        for axis, (low, high) in (
            (ax.xaxis, sorted(ax.get_xlim())),
            (ax.yaxis, sorted(ax.get_ylim())),
        ):
            span = high - low
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - span * 1e-9 <= tick.get_loc() <= high + span * 1e-9:
                    hidden.update({id(tick.label1), id(tick.label2)})
    return [
        t
        for t in figure.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden
    ]


def text_problems(figure: Any) -> list[str]:
    """Texts that overlap one another or stick out of the picture: the chart reads badly."""
    renderer = figure.canvas.get_renderer()
    texts = drawn_texts(figure)
    boxes = [(t, t.get_window_extent(renderer).padded(-1)) for t in texts]
    width, height = figure.canvas.get_width_height()
    problems = []
    for text, box in boxes:
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            problems.append(f"{text.get_text()!r} is cut off at the picture's edge")
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        if box_a.overlaps(box_b):
            problems.append(f"{a.get_text()!r} overlaps {b.get_text()!r}")
    return problems
