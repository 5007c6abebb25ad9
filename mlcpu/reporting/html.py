"""One self-contained HTML page: summary table, charts, machine facts and the workload.

Charts are embedded as ``data:`` URIs and the style sheet is inline, so the file can be mailed
or archived and opened anywhere with no network and no other files.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlcpu._version import __version__
from mlcpu.records import atomic
from mlcpu.records.results import RunResults
from mlcpu.records.sweeps import Sweep
from mlcpu.reporting import _mpl, charts
from mlcpu.reporting.candidates import best_line, candidate_records, params_text
from mlcpu.reporting.captions import workload_caption
from mlcpu.reporting.lines import ceiling_line, strategy_cells
from mlcpu.reporting.lines import number as _n

CHART_CAPTIONS = {
    "scaling": "Elapsed time and speedup at each work size; the star marks where a strategy "
    "first beat sequential.",
    "speedup": "Speedup vs sequential measured in the same run. Solid: the pool already warm; "
    "hatched: the pool's start-up charged to this one run. Dashed green: the ideal (one × per "
    "worker); dotted red: the workload's own bound when whole configurations go to workers.",
    "timeline": "One lane per worker (process, or thread of one process), one bar per task, "
    "coloured by forest size; grey is a worker waiting while the run had not ended.",
    "accuracy": "Accuracy on the held-out split for each forest size.",
}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 2px solid #0072B2; }
.sub { color: #555; margin-top: 0; }
.status-ok { color: #1b7a3a; font-weight: bold; }
.status-bad { color: #b00020; font-weight: bold; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef4fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; font-size: .9rem; margin-top: .3rem; }
details { margin: .6rem 0; }
code { background: #f3f3f3; padding: 0 .25rem; }
"""


def page(source: RunResults | Sweep) -> str:
    """The whole HTML document for a run or a sweep."""
    figures = charts.figures(source)
    detail = source.largest if isinstance(source, Sweep) else source
    status = source.status
    sections = [
        _header(source, detail, status),
        _section("Summary", _sweep_summary(source) if isinstance(source, Sweep) else ""),
        _section(
            "Strategies" + (" at the largest size" if isinstance(source, Sweep) else ""),
            _strategy_table(detail),
        ),
        _section(
            "Charts",
            "".join(_figure(name, _mpl.to_image(fig)) for name, fig in figures.items()),
        ),
        _section("Candidates", _candidates(detail)),
        _section("Tasks", _task_tables(detail)),
        _section("Workload", _facts_table(_workload_facts(detail.workload))),
        _section("Machine", _facts_table(_machine_facts(detail.machine))),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(_title(source, detail))}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{''.join(s for s in sections if s)}\n</body>\n</html>\n"
    )


def write(source: RunResults | Sweep, path: Path) -> Path:
    return atomic.write_text(path, page(source))


def _title(source: RunResults | Sweep, detail: RunResults) -> str:
    kind = f"{source.parameter} sweep" if isinstance(source, Sweep) else "run"
    return f"mlcpu {kind} report: {workload_caption(detail, width=10_000)}"


def _header(source: RunResults | Sweep, detail: RunResults, status: str) -> str:
    css = "status-ok" if status == "ok" else "status-bad"
    lines = [
        f"<h1>{_e(_title(source, detail))}</h1>",
        f'<p class="sub">Status: <span class="{css}">{_e(status)}</span>'
        f" · measured {_e(source.created or '?')}"
        f" · report by mlcpu {_e(__version__)}</p>",
    ]
    command = detail.extra.get("command")
    if isinstance(command, list) and not isinstance(source, Sweep):
        lines.append(f"<p>Command: <code>{_e(' '.join(str(c) for c in command))}</code></p>")
    error = detail.error if not isinstance(source, Sweep) else None
    if error:
        lines.append(f'<p class="status-bad">Error: {_e(error)}</p>')
    if not detail.accuracy_mismatches():
        lines.append("<p>Accuracy is identical across strategies for every configuration.</p>")
    else:
        mismatches = "; ".join(detail.accuracy_mismatches())
        lines.append(f'<p class="status-bad">Accuracy differs: {_e(mismatches)}</p>')
    return "\n".join(lines)


def _candidates(results: RunResults) -> str:
    records = candidate_records(results)
    if not records:
        return ""
    rows = [
        (
            r["rank_test_score"],
            params_text(r["params"]),
            _n(r["mean_test_score"], ".4f"),
            _n(r["std_test_score"], ".4f"),
            " ".join(_n(x, ".4f") for x in r["split_test_scores"]),
        )
        for r in sorted(records, key=lambda r: r["rank_test_score"])
    ]
    best = best_line(results)
    table = _table(["rank", "params", "mean test score", "std", "fold scores"], rows, 2)
    return table + (f"<p>{_e(best)}</p>\n" if best else "")


def _section(title: str, body: str) -> str:
    return f"\n<h2>{_e(title)}</h2>\n{body}\n" if body else ""


def _strategy_table(results: RunResults) -> str:
    results.compute_ratios()
    rows = [[*strategy_cells(s, "×"), len(s.runs_s)] for s in results.strategies]
    median = " (median of the runs)" if results.repeat > 1 else ""
    header = ["strategy", "workers", f"elapsed s{median}", "start-up s", "speedup", "efficiency"]
    table = _table([*header, "of ceiling", "with start-up", "runs"], rows, numeric_from=1)
    ceiling = results.ceiling
    if ceiling is None or ceiling.ratio is None:
        return table
    return f"{table}<p>{_e(ceiling_line(ceiling))}; of ceiling = speedup / ceiling.</p>"


def _sweep_summary(sweep: Sweep) -> str:
    names = sweep.strategy_names()
    labels = {s.name: s.label for p in sweep.points for s in p.run.strategies}
    header = [sweep.parameter] + [f"{labels.get(n, n)} s (speedup)" for n in names]
    rows = []
    for point in sweep.points:
        row: list[Any] = [_value(point.value)]
        for name in names:
            strategy = point.run.strategy(name)
            if strategy is None or strategy.elapsed_s is None:
                row.append("-")
            else:
                row.append(f"{strategy.elapsed_s:.4f} ({_n(strategy.speedup, '.2f', suffix='×')})")
        rows.append(row)
    crossover = [
        [labels.get(name, name), "never, at these sizes" if value is None else _value(value)]
        for name, value in sweep.crossover.items()
    ]
    text = _table(header, rows, numeric_from=1)
    if crossover:
        text += "<p>Crossover: the smallest size at which each strategy beat sequential.</p>"
        text += _table(["strategy", f"first {sweep.parameter} with speedup > 1"], crossover)
    return text


def _figure(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    caption = CHART_CAPTIONS.get(name, "")
    return (
        f'<figure id="chart-{_e(name)}"><img alt="{_e(name)} chart" '
        f'src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>\n"
    )


def _task_tables(results: RunResults) -> str:
    parts = []
    for s in results.strategies:
        rows = [
            [
                t.config.label,
                _n(t.accuracy, ".4f", "failed"),
                _n(t.seconds, ".4f"),
                _n(t.start_s, ".4f"),
                _n(t.end_s, ".4f"),
                "-" if t.cpu is None else t.cpu,
                t.worker or t.pid,
                t.error or "",
            ]
            for t in s.tasks
        ]
        table = _table(
            ["configuration", "accuracy", "seconds", "start s", "end s", "core", "worker", "error"],
            rows,
            numeric_from=1,
        )
        parts.append(
            f"<details><summary>{_e(s.label)}: {len(rows)} tasks</summary>{table}</details>"
        )
    return "\n".join(parts)


def _workload_facts(workload: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = (
        ("dataset", "dataset"),
        ("source", "source"),
        ("n_samples", "samples"),
        ("n_features", "features"),
        ("n_classes", "classes"),
        ("n_train", "training rows"),
        ("n_test", "test rows"),
        ("test_size", "test fraction"),
        ("estimators", "n_estimators"),
        ("model", "model"),
        ("params", "other parameters"),
        ("seed", "seed"),
    )
    facts = [(label, workload[key]) for key, label in keys if key in workload]
    shown = {key for key, _ in keys}
    facts += [(key, value) for key, value in workload.items() if key not in shown]
    return facts


def _machine_facts(machine: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = (
        ("cpu_model", "processor"),
        ("cpu_count", "CPUs (host)"),
        ("usable_cpus", "usable CPUs (affinity, quota)"),
        ("physical_cores", "physical cores"),
        ("cpu_affinity", "CPU affinity"),
        ("cpu_quota", "container CPU quota"),
        ("memory_total_bytes", "memory"),
        ("python", "Python"),
        ("platform", "platform"),
        ("versions", "library versions"),
    )
    facts = []
    for key, label in keys:
        if key not in machine:
            continue
        value = machine[key]
        if key == "memory_total_bytes" and isinstance(value, int):
            value = f"{value / 2**30:.1f} GiB"
        if key == "cpu_quota" and value is None:
            value = "none"
        facts.append((label, value))
    return facts


def _facts_table(facts: Iterable[tuple[str, Any]]) -> str:
    return _table(["", ""], [[k, _fact(v)] for k, v in facts], head=False)


def _fact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def _table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 99, head: bool = True
) -> str:
    top = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>" if head else ""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>' if i >= numeric_from else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return f"<table>{top}\n{body}</table>\n"


def _value(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
