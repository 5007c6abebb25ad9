"""Handing one dataset to every worker process once, through memory-mapped files.

The parent writes the split arrays to a private folder (in ``/dev/shm`` when it has room) and
then uses the memory maps itself. The ``MappedDataset`` backed by such a folder pickles as the
folder's path only, so a task carries a few hundred bytes whatever the data size, and every
process maps the same pages: the data sits in memory once. ``in_memory`` gives the plain
``Dataset`` that pickles its arrays, for workers on other machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from mlcpu.data.datasets import Dataset
from mlcpu.errors import InputError
from mlcpu.host.tempdirs import private_folder

TEMP_FOLDER_ENV = "MLCPU_TEMP_FOLDER"
_ARRAYS = ("X_train", "X_test", "y_train", "y_test")

# One entry per process: a worker serves one run's dataset at a time.
_attached: dict[str, MappedDataset] = {}


@dataclass(frozen=True, eq=False)
class MappedDataset(Dataset):
    """A dataset whose arrays are memory-mapped from ``folder``; it pickles as that path."""

    folder: str = field(default="", repr=False)

    @property
    def shared_folder(self) -> str | None:
        return self.folder

    def __reduce__(self) -> tuple[Any, ...]:
        return (attach, (self.folder,))


def in_memory(dataset: Dataset) -> Dataset:
    """The same data as a plain ``Dataset``, which pickles the arrays themselves."""
    return Dataset(**{f.name: getattr(dataset, f.name) for f in fields(Dataset)})


def temp_root(nbytes: int) -> Path:
    """Where shared data goes: $MLCPU_TEMP_FOLDER, else /dev/shm if it has room, else /tmp."""
    configured = os.environ.get(TEMP_FOLDER_ENV)
    if configured:
        root = Path(configured)
        if not root.is_dir():
            raise InputError(f"{TEMP_FOLDER_ENV}={configured!r} is not an existing folder")
        candidates = [root]
    else:
        candidates = [Path("/dev/shm"), Path(tempfile.gettempdir())]
    for root in candidates:
        try:
            free = shutil.disk_usage(root).free
        except OSError:
            continue
        if os.access(root, os.W_OK) and free > nbytes * 1.1 + (16 << 20):
            return root
    raise InputError(
        f"no temporary folder has {nbytes / 2**20:.0f} MiB free to share the dataset with "
        f"worker processes (tried {', '.join(str(c) for c in candidates)}); set "
        f"{TEMP_FOLDER_ENV} to a folder with room"
    )


class SharedDataset:
    """Context manager: publish ``dataset`` to a folder, yield its memory-mapped twin, clean up."""

    def __init__(self, dataset: Dataset, root: Path | None = None) -> None:
        self.dataset: Dataset | None = dataset
        self.root = root
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Dataset:
        # Hold the private arrays only while writing them: afterwards the caller may drop its
        # own reference and keep just the shared copy.
        dataset, self.dataset = self.dataset, None
        if dataset is None:
            raise RuntimeError("a SharedDataset can be entered only once")
        root = self.root or temp_root(dataset.nbytes)
        folder = self._stack.enter_context(private_folder("data", root))
        self._stack.callback(_attached.pop, str(folder), None)
        try:
            for name in _ARRAYS:
                np.save(folder / f"{name}.npy", getattr(dataset, name))
            meta = {
                key: getattr(dataset, key)
                for key in Dataset.__dataclass_fields__
                if key not in _ARRAYS
            }
            (folder / "meta.json").write_text(json.dumps(meta))
            return attach(str(folder))
        except OSError as exc:
            self._stack.close()
            raise InputError(f"cannot write shared data to {root}: {exc.strerror or exc}") from None
        except BaseException:
            self._stack.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


def attach(folder: str) -> MappedDataset:
    """Open a shared dataset by folder; cached, so each process maps it once."""
    cached = _attached.get(folder)
    if cached is not None:
        return cached
    path = Path(folder)
    meta: dict[str, Any] = json.loads((path / "meta.json").read_text())
    arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    for key in ("feature_names", "classes"):
        meta[key] = tuple(meta[key])
    dataset = MappedDataset(**arrays, **meta, folder=folder)
    _attached.clear()
    _attached[folder] = dataset
    return dataset
