"""What a report is drawn from: one ``mlcpu run`` result file, or one ``mlcpu sweep`` file.

A sweep file (schema ``mlcpu.sweep/1``) holds one complete ``mlcpu.run/1`` document per work
size, so everything drawn for a run can be drawn for any of its points too.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlcpu.errors import InputError
from mlcpu.records import results as run_results
from mlcpu.records import schemas, sweeps
from mlcpu.records.results import RunResults
from mlcpu.records.sweeps import Sweep


def load(path: str | Path) -> RunResults | Sweep:
    """Read a run or sweep result file; anything else is an InputError naming the file."""
    text = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"results file {text!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        # The run loader has the precise message for each of these.
        return run_results.load(text)
    if schemas.is_sweep(document):
        try:
            return sweeps.from_dict(document, text)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"sweep file {text!r} is malformed: {exc!r}") from None
    if not schemas.is_run(document):
        found = schemas.schema_of(document)
        raise InputError(
            f"{text!r} is not an mlcpu results file (expected schema {schemas.RUN!r} "
            f"or {schemas.SWEEP!r}, found {found or 'none'!r})"
        )
    results = run_results.load(text)
    results.compute_ratios()
    return results
