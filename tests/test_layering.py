"""The package's shape: layers that import downwards only, no import cycle, no long module.

Every import counts, wherever it is written: at module level, inside a function, or under
``if TYPE_CHECKING:``. A cycle hidden in a function is still two modules that cannot be read,
tested or moved one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlcpu"
MAX_LINES = 400

# Known exceptions, each to be removed by the part of the work that fixes it; a new cycle or a
# new long module fails the tests below.
ALLOWED_CYCLES: set[frozenset[str]] = set()
ALLOWED_LONG_MODULES: set[str] = set()


# What each part of mlcpu may import from the others (its own modules always). The flow of a run
# reads down the table: records and host at the bottom, then data, training, plans and engines,
# strategies, the runner and its ceiling, and on top what reads results (comparing, reporting,
# gate) and the commands. The commands, the CLI and the package's front door may import anything.
MAY_IMPORT: dict[str, set[str]] = {
    "records": {"errors", "_version"},
    "host": {"errors", "_version"},
    "data": {"errors", "host", "records"},
    "training": {"errors", "data", "records"},
    "plans": {"errors", "data", "records", "training"},
    "engines": {"errors", "data", "host", "records", "training"},
    "strategies": {"errors", "data", "engines", "host", "plans", "records", "training"},
    "ceiling": {"comparing", "engines", "errors", "records", "training"},
    "runner": {"ceiling", "data", "errors", "host", "records", "strategies", "training"},
    "comparing": {"errors", "records", "_version"},
    "reporting": {"_version", "comparing", "errors", "records", "runner", "strategies"},
    "gate": {"_version", "comparing", "errors", "host", "mlcpu", "records"},
}


def part(module: str) -> str:
    """The part of mlcpu a module belongs to: its subpackage, or itself at the top level."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mlcpu"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the mlcpu modules it imports anywhere in its file."""
    known = modules()

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets |= {owner(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in known else owner(base))
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_cycle(graph, group) for group in groups]


def _shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        for target in sorted(graph[path[-1]] & group):
            if target == start:
                return [*path, start]
            if target not in path:
                paths.append([*path, target])
    raise AssertionError("a strongly connected group always has a cycle")


def test_the_graph_sees_imports_everywhere_in_a_file():
    graph = import_graph()
    assert "mlcpu.errors" in graph["mlcpu.records.task"] | graph["mlcpu.training.workload"]
    assert "mlcpu.data.csv_files" in graph["mlcpu.data.datasets"]  # imported inside load_dataset
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle_among_mlcpu_modules():
    found = [c for c in cycles(import_graph()) if frozenset(c) not in ALLOWED_CYCLES]
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_module_is_longer_than_400_lines():
    lengths = {
        module: len(path.read_text(encoding="utf-8").splitlines())
        for module, path in modules().items()
    }
    long = {m: n for m, n in lengths.items() if n > MAX_LINES and m not in ALLOWED_LONG_MODULES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    fixed = {m for m in ALLOWED_LONG_MODULES if lengths.get(m, 0) <= MAX_LINES}
    assert not fixed, f"remove from ALLOWED_LONG_MODULES, now short enough: {sorted(fixed)}"


def against_layers(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if part(module) in MAY_IMPORT
        for target in targets
        if part(target) != part(module) and part(target) not in MAY_IMPORT[part(module)]
    )


def test_every_part_imports_only_the_layers_below_it():
    wrong = against_layers(import_graph())
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)
    # The check itself: a plan that reached for an engine would be caught.
    assert against_layers({"mlcpu.plans.whole": {"mlcpu.engines.base", "mlcpu.records.task"}}) == [
        "mlcpu.plans.whole imports mlcpu.engines.base"
    ]
