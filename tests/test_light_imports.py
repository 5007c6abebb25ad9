"""Reading results imports none of the machinery that produced them.

``mlcpu compare`` and ``mlcpu report`` read JSON files: each runs here for real in a fresh
interpreter, which then says which heavy packages it loaded. scikit-learn and the engines must
not be among them (they cost about a second, and a result file must be readable without them).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tests.sweeps import assemble

# scikit-learn, then the engines: loky (joblib's processes), Dask, mlcpu's pools.
HEAVY = ("sklearn", "loky", "distributed", "mlcpu.engines.supervised", "mlcpu.engines.pools")
# what runs training: reading a saved result needs none of it
RUNNING = ("mlcpu.runner", "mlcpu.strategies.base", "mlcpu.training.fit")

PROBE = """
import json, sys
from mlcpu.cli import main
code = main(sys.argv[1:])
heavy = {heavy!r}
print(json.dumps({{"code": code, "loaded": [m for m in heavy if m in sys.modules]}}))
"""


def loaded_by(*args: str, extra: tuple[str, ...] = ()) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=(*HEAVY, *extra)), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=cli_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("light") / "run.json"
    done = run_cli(
        "run", "--strategies", "sequential,threads", "--estimators", "5,10", "--workers", "2",
        "--repeat", "2", "--no-ceiling", "--quiet", "--json", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


def test_compare_imports_no_scikit_learn_nor_engines(run_file):
    outcome = loaded_by("compare", str(run_file), str(run_file), extra=RUNNING)
    assert outcome == {"code": 0, "loaded": []}


def test_report_imports_no_scikit_learn_nor_engines(run_file, tmp_path):
    pytest.importorskip("matplotlib")
    document = json.loads(run_file.read_text())
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps(assemble("n_samples", [(100, document), (200, document)])))
    for source in (run_file, sweep):
        charts = tmp_path / f"charts-{source.stem}"
        report = tmp_path / f"{source.stem}.html"
        outcome = loaded_by(
            "report", str(source), "-o", str(charts), "--html", str(report), extra=RUNNING
        )
        assert outcome == {"code": 0, "loaded": []}, source.name
        assert report.stat().st_size > 0
