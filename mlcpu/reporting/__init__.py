"""Charts and the HTML report drawn from saved results (needs the ``plot`` extra: matplotlib).

``charts.write(source, path)`` draws a run or sweep (``sources.load``) into one overview image
or a folder of charts; ``html.write(source, path)`` makes one self-contained HTML page.
"""
