"""Charts and the HTML report, drawn from the results of real runs.

Every picture is decoded by a real PNG decoder and measured; the chart objects are checked
against the numbers in the result file they were drawn from; the HTML page is opened in a real
headless Chromium and photographed.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mlcpu.cli import main
from mlcpu.data.datasets import load_dataset
from mlcpu.records.ceiling import Ceiling
from mlcpu.records.config import make_configs
from mlcpu.records.results import RunResults, StrategyResult
from mlcpu.reporting import console
from mlcpu.reporting.lines import of_ceiling_text
from mlcpu.runner import Runner
from mlcpu.strategies.pools import MultiprocessingStrategy, ThreadsStrategy
from mlcpu.training.workload import Workload
from tests import sweeps
from tests.conftest import ROOT, run_cli

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
needs_matplotlib = pytest.mark.skipif(
    not HAS_MATPLOTLIB, reason="matplotlib is not installed: pip install -e '.[plot]'"
)
pytestmark = pytest.mark.slow

# A tiny synthetic workload: big enough that parallel strategies overlap, small enough to be quick.
SMALL_RUN = ("--dataset", "synthetic", "--n-samples", "600", "--n-features", "8")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def images():
    """The image helpers import Pillow, which comes with matplotlib."""
    from tests import images as helpers

    return helpers


# ---------------------------------------------------------------- results of real runs


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """A real ``mlcpu run --json --plot`` over every strategy: the JSON and the overview PNG."""
    if not HAS_MATPLOTLIB:
        pytest.skip("matplotlib is not installed")
    folder = tmp_path_factory.mktemp("run")
    done = run_cli(
        "run",
        *SMALL_RUN,
        "--estimators",
        "5,20,40",
        "--strategies",
        "all",
        "--json",
        str(folder / "run.json"),
        "--plot",
        str(folder / "overview.png"),
        "--repeat",
        "2",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert f"Charts written to {folder / 'overview.png'}" in done.stdout
    return folder


@pytest.fixture(scope="module")
def run_document(run_files) -> dict[str, Any]:
    return json.loads((run_files / "run.json").read_text())


@pytest.fixture(scope="module")
def run_results(run_files) -> RunResults:
    from mlcpu.reporting import sources

    return sources.load(run_files / "run.json")


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    """A sweep over three dataset sizes, each point a real ``mlcpu run`` subprocess."""
    folder = tmp_path_factory.mktemp("sweep")
    points = []
    for n_samples in (200, 700, 2000):
        path = folder / f"run-{n_samples}.json"
        done = run_cli(
            "run",
            "--dataset",
            "synthetic",
            "--n-samples",
            str(n_samples),
            "--n-features",
            "8",
            "--estimators",
            "5,20",
            "--strategies",
            "sequential,joblib,threads",
            "--no-ceiling",  # the sweep's charts do not draw it
            "--json",
            str(path),
            "--quiet",
        )
        assert done.returncode == 0, done.stderr
        points.append((n_samples, json.loads(path.read_text())))
    sweep = folder / "sweep.json"
    sweep.write_text(json.dumps(sweeps.assemble("n_samples", points)))
    return sweep


@pytest.fixture(scope="module")
def estimators_sweep() -> dict[str, Any]:
    """A sweep over forest sizes, each point a real in-process ``Runner`` run on iris."""
    iris = load_dataset("iris", seed=0)
    points = []
    for size in (4, 16, 64):
        workload = Workload(iris, make_configs([size, size // 2]), seed=0)
        results = Runner(workload, ["sequential", "threads"], workers=2).run()
        points.append((size, results.to_dict()))
    return sweeps.assemble("estimators", points)


class _Forkserver(MultiprocessingStrategy):
    name = "mp-forkserver"


class _ThreadsOfThree(ThreadsStrategy):
    name = "threads-3"


class _OneThread(ThreadsStrategy):
    name = "threads-1"


@pytest.fixture(scope="module")
def eight_strategies() -> RunResults:
    """Eight real strategies (some are registered ones under a second name and other options)."""
    iris = load_dataset("iris", seed=0)
    workload = Workload(iris, make_configs([5, 10, 20, 40]), seed=0)
    strategies = [
        "sequential",
        "joblib",
        "multiprocessing",
        _Forkserver(2, start_method="forkserver"),
        "threads",
        _ThreadsOfThree(3),
        _OneThread(1),
        "sklearn",
    ]
    return Runner(workload, strategies, workers=2).run()


@pytest.fixture(scope="module")
def fifty_configurations() -> RunResults:
    iris = load_dataset("iris", seed=0)
    workload = Workload(iris, make_configs(range(1, 51)), seed=0)
    return Runner(workload, ["sequential", "multiprocessing", "threads"], workers=2).run()


# ---------------------------------------------------------------- pictures are real pictures


@needs_matplotlib
def test_run_plot_writes_one_overview_picture(run_files, run_results):
    helpers = images()
    image = helpers.assert_chart_image(
        (run_files / "overview.png").read_bytes(), min_width=1200, min_height=900
    )
    # Every strategy's bar colour is in it, so every strategy was drawn.
    from mlcpu.reporting import _mpl

    colours = _mpl.strategy_colors([s.name for s in run_results.strategies])
    for name, colour in colours.items():
        assert helpers.count_near(image, helpers.hex_rgb(colour)) > 200, name


@needs_matplotlib
def test_report_writes_one_valid_png_per_chart_into_a_folder(run_files, tmp_path):
    target = tmp_path / "charts"
    done = run_cli("report", str(run_files / "run.json"), "-o", str(target))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in target.iterdir())
    assert names == ["accuracy.png", "speedup.png", "timeline.png"]  # no temporary files left
    for name in names:
        assert f"wrote {target / name}" in done.stdout
        images().assert_chart_image((target / name).read_bytes(), min_width=700, min_height=400)


@needs_matplotlib
@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_report_overview_in_vector_formats(run_files, tmp_path, suffix, magic):
    target = tmp_path / f"overview{suffix}"
    assert main(["report", str(run_files / "run.json"), "-o", str(target)]) == 0
    data = target.read_bytes()
    assert data.startswith(magic)
    assert len(data) > 20_000


@needs_matplotlib
def test_report_replaces_an_existing_picture_whole(run_files, tmp_path):
    target = tmp_path / "overview.png"
    target.write_bytes(b"an old picture")
    assert main(["report", str(run_files / "run.json"), "-o", str(target)]) == 0
    images().assert_chart_image(target.read_bytes())
    assert [p.name for p in tmp_path.iterdir()] == ["overview.png"]


@needs_matplotlib
def test_every_chart_of_a_run_reads_cleanly(run_results):
    from mlcpu.reporting import charts

    assert run_results.repeat == 2  # titles carry the longest caption ("median of 2 runs")
    for name, figure in [
        *charts.figures(run_results).items(),
        ("overview", charts.overview(run_results)),
    ]:
        assert images().text_problems(figure) == [], name


# ---------------------------------------------------------------- what the charts show


@needs_matplotlib
def test_speedup_chart_draws_each_measured_speedup_and_both_limits(run_results, run_document):
    from mlcpu.reporting import speedup

    figure = speedup.figure(run_results)
    ax = figure.axes[0]
    labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    assert labels == [s["label"] for s in run_document["strategies"]]
    measured = sorted(round(s["speedup"], 9) for s in run_document["strategies"])
    warm_bars = [p for p in ax.patches if p.get_alpha() is None]
    assert sorted(round(p.get_width(), 9) for p in warm_bars) == measured
    sequential = next(s for s in run_document["strategies"] if s["name"] == "sequential")
    seconds = [t["seconds"] for t in sequential["tasks"]]
    bound = sum(seconds) / max(seconds)
    vertical = {round(line.get_xdata()[0], 9) for line in ax.get_lines() if len(line.get_xdata())}
    workers = {s["workers"] for s in run_document["strategies"] if s["workers"] > 1}
    assert vertical == {1.0, round(bound, 9)} | {float(w) for w in workers}
    legend = " ".join(t.get_text() for t in figure.legends[0].get_texts())
    assert f"workload bound {bound:.2f}×" in legend
    assert "ideal 2× = 2 workers" in legend or workers != {2}
    assert figure.get_suptitle().startswith("Speedup vs sequential")
    assert "speedup (×)" in ax.get_xlabel()


@needs_matplotlib
def test_timeline_has_a_panel_per_strategy_and_a_bar_per_task(run_results, run_document):
    from mlcpu.reporting import timeline

    figure = timeline.figure(run_results)
    panels = [ax for ax in figure.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left").split("  ·  ")[0] for ax in panels] == [
        s["label"] for s in run_document["strategies"]
    ]
    assert len({ax.get_xlim() for ax in panels}) == 1  # one shared time axis
    assert "time since" in panels[-1].get_xlabel()
    assert "(s)" in panels[-1].get_xlabel()
    for ax, strategy in zip(panels, run_document["strategies"], strict=True):
        bars = [p for p in ax.patches if p.get_zorder() == 2]
        drawn = sorted((round(b.get_x(), 9), round(b.get_x() + b.get_width(), 9)) for b in bars)
        recorded = sorted((round(t["start_s"], 9), round(t["end_s"], 9)) for t in strategy["tasks"])
        assert drawn == recorded, strategy["name"]
        # A lane is one worker: its bars never overlap.
        by_lane: dict[float, list[Any]] = {}
        for bar in bars:
            by_lane.setdefault(round(bar.get_y(), 6), []).append(bar)
        for lane in by_lane.values():
            lane.sort(key=lambda b: b.get_x())
            for first, second in itertools.pairwise(lane):
                assert first.get_x() + first.get_width() <= second.get_x() + 1e-6
        pids = {t["pid"] for t in strategy["tasks"]}
        parent = run_document["strategies"][0]["tasks"][0]["pid"]  # sequential runs in mlcpu
        if "trees_trained" in strategy or any(
            len(t.get("pids", ())) > 1 for t in strategy["tasks"]
        ):
            # incremental: sizes served from one forest share trees, so their spans overlap;
            # balanced: a forest cut into pieces spans several workers
            assert len(by_lane) >= len(pids)
        elif parent not in pids:
            assert len(by_lane) == len(pids)  # one lane per worker process
        else:
            assert pids == {parent}
            assert len(by_lane) <= strategy["workers"]
        visible = [t.get_text() for t in ax.texts if t.get_visible()]
        sizes = [str(t["n_estimators"]) for t in strategy["tasks"]]
        assert all(text.split()[0] in sizes for text in visible)


@needs_matplotlib
def test_timeline_lanes_are_workers_not_cores(run_results):
    from mlcpu.reporting import timeline

    threads = run_results.strategy("threads")
    lanes = timeline.lanes(threads)
    for lane in lanes:
        for first, second in itertools.pairwise(lane.tasks):
            assert first.end_s <= second.start_s + 1e-6
    overlapping = any(
        a.start_s < b.end_s and b.start_s < a.end_s
        for i, a in enumerate(threads.tasks)
        for b in threads.tasks[i + 1 :]
    )
    assert (len(lanes) == 2) == overlapping
    if len(lanes) == 2:
        assert [lane.label.split("\n")[-1] for lane in lanes] == ["thread 1", "thread 2"]


@needs_matplotlib
def test_accuracy_chart_shows_the_measured_accuracies(run_results, run_document):
    from mlcpu.reporting import accuracy

    figure = accuracy.figure([run_results])
    ax = figure.axes[0]
    (line,) = ax.get_lines()
    expected = sorted(
        (t["n_estimators"], t["accuracy"]) for t in run_document["strategies"][0]["tasks"]
    )
    assert list(zip(line.get_xdata(), line.get_ydata(), strict=True)) == expected
    assert line.get_label() == "synthetic 600×8"
    assert "identical under every strategy" in figure.get_suptitle()
    assert "n_estimators" in ax.get_xlabel()


@needs_matplotlib
def test_sweep_chart_has_log_axes_and_marks_the_crossover(sweep_file):
    from mlcpu.reporting import scaling, sources

    document = json.loads(sweep_file.read_text())
    sweep = sources.load(sweep_file)
    figure = scaling.figure(sweep)
    time_ax, speed_ax = figure.axes
    assert (time_ax.get_xscale(), time_ax.get_yscale()) == ("log", "log")
    assert speed_ax.get_xscale() == "log"
    assert "(s)" in time_ax.get_ylabel()
    stars = [line for line in speed_ax.get_lines() if line.get_marker() == "*"]
    crossed = {k: v for k, v in document["crossover"].items() if v is not None}
    assert sorted(float(s.get_xdata()[0]) for s in stars) == sorted(crossed.values())
    legend = " | ".join(t.get_text() for t in figure.legends[0].get_texts())
    for name, value in document["crossover"].items():
        expected = "never faster here" if value is None else f"first faster at {value}"
        assert expected in legend, (name, legend)
    # The sequential line passes through every measured elapsed time.
    sequential_times = [
        s["elapsed_s"]
        for p in document["points"]
        for s in p["run"]["strategies"]
        if s["name"] == "sequential"
    ]
    assert any(list(line.get_ydata()) == sequential_times for line in time_ax.get_lines())


@needs_matplotlib
def test_sweep_report_from_the_command_line(sweep_file, tmp_path):
    done = run_cli(
        "report",
        str(sweep_file),
        "-o",
        str(tmp_path / "charts"),
        "--html",
        str(tmp_path / "r.html"),
    )
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert names == ["accuracy.png", "scaling.png", "speedup.png", "timeline.png"]
    for name in names:
        images().assert_chart_image((tmp_path / "charts" / name).read_bytes())
    page = (tmp_path / "r.html").read_text()
    assert "n_samples sweep" in page
    assert "Crossover" in page


@needs_matplotlib
def test_sweep_over_forest_sizes(estimators_sweep, tmp_path):
    from mlcpu.reporting import accuracy, charts, scaling, sources

    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(estimators_sweep))
    sweep = sources.load(path)
    assert sweep.axis_label() == "forest size (n_estimators)"
    figure = scaling.figure(sweep)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["4", "16", "64"]
    lines = accuracy.figure([p.run for p in sweep.points]).axes[0].get_lines()
    assert len(lines) == 1  # one dataset (iris) at every size
    written = charts.write(sweep, tmp_path / "overview.png")
    images().assert_chart_image(written[0].read_bytes(), min_width=1200, min_height=1200)


@needs_matplotlib
def test_failed_tasks_are_drawn_as_failed(tmp_path):
    plot = tmp_path / "failed.png"
    done = run_cli(
        "run",
        "--estimators",
        "5,20,10",
        "--model",
        "tests.faulty_models:raise_error",
        "--strategies",
        "sequential,threads",
        "--keep-going",
        "--json",
        str(tmp_path / "r.json"),
        "--plot",
        str(plot),
        "--quiet",
        MLCPU_FAULTY_SIZE="20",
    )
    assert done.returncode == 1
    images().assert_chart_image(plot.read_bytes())
    from mlcpu.reporting import sources, timeline

    figure = timeline.figure(sources.load(tmp_path / "r.json"))
    hatched = [p for ax in figure.axes for p in ax.patches if p.get_hatch() == "xx"]
    assert len(hatched) == 2  # the 20-tree task, under each strategy
    texts = [t.get_text() for ax in figure.axes for t in ax.texts if t.get_visible()]
    assert any("20" in t and ("FAILED" in t or "✗" in t) for t in texts)


# ---------------------------------------------------------------- readable when crowded


def _chart(results: RunResults, chart: str) -> Any:
    from mlcpu.reporting import charts

    return charts.overview(results) if chart == "overview" else charts.figures(results)[chart]


@needs_matplotlib
@pytest.mark.parametrize("chart", ["speedup", "timeline", "accuracy", "overview"])
def test_charts_stay_readable_with_eight_strategies(eight_strategies, chart):
    assert len(eight_strategies.strategies) == 8
    figure = _chart(eight_strategies, chart)
    assert images().text_problems(figure) == []
    if chart == "timeline":
        panels = [ax for ax in figure.axes if ax.get_title(loc="left")]
        assert len(panels) == 8
        # Lanes are tall enough to read: at least 18 px each.
        rows = sum(len(ax.get_yticks()) for ax in panels)
        assert figure.get_size_inches()[1] * figure.dpi / rows >= 18
    if chart == "speedup":
        # Worker counts differ (1, 2, 3): the ideal is marked per bar, not as one line.
        ax = figure.axes[0]
        ideal = {
            line.get_xdata()[0]
            for line in ax.get_lines()
            if line.get_linestyle() == "--" and len(line.get_xdata())
        }
        assert ideal == {2.0, 3.0}


@needs_matplotlib
@pytest.mark.parametrize("chart", ["speedup", "timeline", "accuracy", "overview"])
def test_charts_stay_readable_with_fifty_configurations(fifty_configurations, chart):
    figure = _chart(fifty_configurations, chart)
    assert images().text_problems(figure) == []
    if chart == "timeline":
        # 50 sizes get a colour scale, not 50 legend entries.
        assert any(ax.get_ylabel() == "forest size (n_estimators)" for ax in figure.axes)
        assert len(figure.legends[0].get_texts()) <= 3
        bars = [p for ax in figure.axes for p in ax.patches if p.get_zorder() == 2]
        assert len(bars) == 150
    if chart == "accuracy":
        (line,) = figure.axes[0].get_lines()
        assert list(line.get_xdata()) == list(range(1, 51))
    if chart == "speedup":
        # 50 small tasks: the workload bound is far beyond 2 workers; drawing it would squash
        # the bars, so it is named in the legend instead.
        ax = figure.axes[0]
        legend = " ".join(t.get_text() for t in figure.legends[0].get_texts())
        assert "off this scale" in legend
        assert ax.get_xlim()[1] < 5


# ---------------------------------------------------------------- the HTML page


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.references: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if tag == "img" and key == "src":
                self.images.append(value or "")
            elif key in ("href", "src", "srcset", "action", "data"):
                self.references.append(value or "")


@needs_matplotlib
def test_html_report_is_one_self_contained_file(run_files, run_document, tmp_path):
    page_path = tmp_path / "report.html"
    assert main(["report", str(run_files / "run.json"), "--html", str(page_path)]) == 0
    text = page_path.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    assert len(parser.images) == 3
    for source in parser.images:
        assert source.startswith("data:image/png;base64,")
        images().assert_chart_image(base64.b64decode(source.split(",", 1)[1]))
    assert parser.references == []
    assert "link" not in parser.tags
    assert "script" not in parser.tags
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text.replace("\n", " "))
    assert "<th>of ceiling</th>" in text
    for strategy in run_document["strategies"]:
        assert f"<td>{strategy['label']}</td>" in text
        assert f"{strategy['speedup']:.2f}×" in text
        of_ceiling = of_ceiling_text(StrategyResult.from_dict(strategy))
        assert f'<td class="num">{of_ceiling}</td>' in text
    assert console.ceiling_line(Ceiling.from_dict(run_document["ceiling"])) in text
    machine = run_document["machine"]
    assert f"<td>usable CPUs (affinity, quota)</td><td>{machine['usable_cpus']}</td>" in text
    assert f"<td>Python</td><td>{machine['python']}</td>" in text
    assert "<td>dataset</td><td>synthetic</td>" in text
    assert "<td>n_estimators</td><td>5, 20, 40</td>" in text


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@needs_matplotlib
def test_html_report_renders_in_headless_chromium(run_files, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "Chromium is not installed (Debian package 'chromium', which .ci/run installs "
            "with apt-get): the HTML report cannot be opened in a browser here"
        )
    page_path = tmp_path / "report.html"
    assert main(["report", str(run_files / "run.json"), "--html", str(page_path)]) == 0
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory(prefix="mlcpu-chromium-") as profile:
        command = [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1280,3200",
            f"--screenshot={shot}",
            page_path.as_uri(),
        ]
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its helper processes go with it on a timeout
        )
        try:
            _, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail("headless Chromium did not finish its screenshot within 120 s")
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    helpers = images()
    image = helpers.assert_chart_image(shot.read_bytes(), min_width=1280, min_height=3200)
    # The timeline's darkest colour (viridis' first) exists only inside the embedded charts:
    # finding it proves the browser decoded and showed them.
    assert helpers.count_near(image, (68, 1, 84), tolerance=10) > 500


# ---------------------------------------------------------------- without matplotlib, bad input


def _without_matplotlib(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line in an interpreter where ``import matplotlib`` fails."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from mlcpu.cli import main\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_missing_matplotlib_names_the_extra_before_any_training(tmp_path):
    done = _without_matplotlib(
        "run", "--plot", str(tmp_path / "x.png"), "--json", str(tmp_path / "r.json")
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "pip install 'mlcpu[plot]'" in done.stderr
    assert "matplotlib" in done.stderr
    assert "Training on CPU core" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_report_without_matplotlib_names_the_extra(tmp_path):
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"schema": "mlcpu.run/1", "strategies": []}))
    done = _without_matplotlib("report", str(results), "-o", str(tmp_path / "charts"))
    assert done.returncode == 2
    assert done.stderr.startswith("mlcpu: error: drawing charts needs the optional dependency")
    assert "pip install 'mlcpu[plot]'" in done.stderr
    assert not (tmp_path / "charts").exists()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ("-o", "out"), r"results file .* does not exist"),
        ('{"schema": "mlcpu.run/1", "strat', ("-o", "out"), r"not valid JSON \(truncated"),
        ('{"hello": 1}', ("-o", "out"), r"not an mlcpu results file .* found 'none'"),
        (
            '{"schema": "mlcpu.sweep/1", "parameter": "depth", "points": []}',
            ("-o", "out"),
            r"sweep parameter 'depth' is not one of n_samples, estimators",
        ),
        ('{"schema": "mlcpu.run/1"}', (), r"say what to write: -o DIR\|FILE.png and/or --html"),
        ('{"schema": "mlcpu.run/1"}', ("-o", "x.gif"), r"argument -o/--output: .*\.gif"),
        ('{"schema": "mlcpu.run/1"}', ("-o", "no/such/folder/x.png"), r"does not exist"),
        ('{"schema": "mlcpu.run/1"}', ("-o", "results.json"), r"is an existing file"),
    ],
)
@needs_matplotlib
def test_report_rejects_bad_input_with_one_line(
    tmp_path, monkeypatch, capsys, content, args, message
):
    results = tmp_path / "results.json"
    if content is not None:
        results.write_text(content)
    monkeypatch.chdir(tmp_path)
    code = main(["report", str(results), *args])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.count("\n") == 0
    assert re.search(message, error), error
