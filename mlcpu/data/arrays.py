"""How loaded features are stored, and whether a dataset fits in memory before it is loaded.

Shared by ``mlcpu.data.datasets`` and ``mlcpu.data.csv_files``, so neither imports the other.
"""

from __future__ import annotations

import numpy as np
import psutil

from mlcpu.errors import InputError

# Features are stored as C-contiguous float32, the precision scikit-learn's trees compute in.
FEATURE_DTYPE = np.float32
# Loading briefly holds the raw float64 data, the float32 copy and the split: about this many
# bytes per stored byte. Used to refuse a dataset that cannot fit before any work starts.
_LOAD_PEAK_FACTOR = 4.0


def check_memory(nbytes: int, what: str) -> None:
    """Refuse up front a dataset that cannot fit, instead of swapping or being OOM-killed."""
    available = psutil.virtual_memory().available
    needed = int(nbytes * _LOAD_PEAK_FACTOR)
    if needed > available:
        raise InputError(
            f"{what} needs about {_format_bytes(needed)} of memory to load and split, but only "
            f"{_format_bytes(available)} is available; choose a smaller dataset"
        )


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
