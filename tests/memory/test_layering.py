"""memory/ keeps to its layer: what its sources import, reach into and decide, read from the
sources themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import noormme_queue.memory

MEMORY = Path(noormme_queue.memory.__file__).parent
SOURCES = sorted(MEMORY.glob("*.py"))
MAX_LINES = 500
# Layers memory/ may import from, besides itself.
ALLOWED_LAYERS = {"core"}
LAYERS_OK = ALLOWED_LAYERS | {"memory"}
# What would run sync code off the loop (or decide "is it async?") a second way.
OTHER_WAYS_TO_RUN_SYNC = {
    "to_thread",
    "run_in_executor",
    "ThreadPoolExecutor",
    "Thread",
    "iscoroutinefunction",
    "isawaitable",
}
# The one module in memory/ deciding sync versus async (through core.threads).
CALLS = "_calls.py"


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_no_reach_into_another_objects_private_members(path: Path) -> None:
    reaches = [
        f"{path.name}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(parse(path))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not (node.attr.startswith("__") and node.attr.endswith("__"))
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert reaches == []


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_imports_only_core_and_memory(path: Path) -> None:
    above = []
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            layer = (node.module or "").split(".")[0]
            if node.level > 2 or (node.level == 2 and layer not in ALLOWED_LAYERS):
                above.append(f"{path.name}:{node.lineno}: from {'.' * node.level}{node.module}")
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "noormme_queue" and (len(parts) < 2 or parts[1] not in LAYERS_OK):
                above.append(f"{path.name}:{node.lineno}: {name}")
    assert above == []


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_sync_code_runs_one_way_decided_in_one_place(path: Path) -> None:
    tree = parse(path)
    other_ways = [
        f"{path.name}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr in OTHER_WAYS_TO_RUN_SYNC)
        or (isinstance(node, ast.Name) and node.id in OTHER_WAYS_TO_RUN_SYNC)
    ]
    assert other_ways == []
    uses_threads = any(
        isinstance(node, ast.ImportFrom) and node.level == 2 and node.module == "core.threads"
        for node in ast.walk(tree)
    )
    assert uses_threads == (path.name == CALLS)


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_each_module_is_small_and_says_what_it_is(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < MAX_LINES
    assert ast.get_docstring(parse(path)), f"{path.name} has no module docstring"
