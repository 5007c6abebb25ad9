"""Private temporary folders that are removed even when mlcpu itself is killed.

Normal exits and Ctrl-C remove them in ``finally``. A SIGKILLed parent cannot clean up, so each
folder is also registered with loky's resource tracker (the helper process joblib uses for its
own memmap folders), which deletes what is still registered when the parent dies (a tracker
that died itself is replaced, see ``mlcpu.host.thirdparty``). As a last
resort, folders whose owning process no longer exists are removed when mlcpu next starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil

from mlcpu.host.thirdparty import track, untrack

PREFIX = "mlcpu-"
_OWNER = re.compile(re.escape(PREFIX) + r"[a-z]+-(\d+)-")


@contextlib.contextmanager
def private_folder(kind: str, root: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Create ``{root}/mlcpu-{kind}-{pid}-XXXX``, yield it, and always remove it."""
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    remove_stale(base)
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{os.getpid()}-", dir=base))
    track(str(folder), "folder")
    try:
        yield folder
    finally:
        untrack(str(folder), "folder")
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale(root: Path) -> None:
    """Remove folders left by mlcpu processes that died before they could clean up."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _OWNER.match(entry.name)
        if match and not psutil.pid_exists(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
