"""The folder tree is the architecture (docs/architecture.md): each layer imports only the
layers below it, the engine's parts have no import cycle (type hints included), and no
source file is over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import noormme_queue

PACKAGE = Path(noormme_queue.__file__).parent
MAX_LINES = 500

# layer -> the layers its modules may import (besides their own)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "store": {"core"},
    "handlers": {"core"},
    "memory": {"core"},
    "engine": {"core", "store", "handlers"},
    "facade": {"core", "store", "handlers", "memory", "engine"},
    "faces": {"core", "store", "handlers", "memory", "engine", "facade"},
    "root": {"core", "store", "handlers", "memory", "engine", "facade", "faces"},
}
FACADE = {"manager", "control", "schedules", "sync", "runner", "tasks", "tracing"}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]  # drop "noormme_queue"
    if not parts:
        return "root"
    head = parts[0]
    if head in ("core", "store", "handlers", "memory", "engine"):
        return head
    if head in FACADE:
        return "facade"
    if head == "__main__":
        return "root"
    return "faces"  # api, cli, contrib, demo, apploader


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every noormme_queue module ``path`` imports, at any depth (TYPE_CHECKING too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("noormme_queue"):
                found.add(target)
                for alias in node.names:  # "from . import x" may name a module
                    candidate = f"{target}.{alias.name}"
                    if _exists(candidate):
                        found.add(candidate)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("noormme_queue")}
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel / "__init__.py").exists()


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_imports_a_layer_above_it() -> None:
    wrong = []
    for path in sources():
        here = layer_of(module_name(path))
        for target in imports_of(path):
            there = layer_of(target)
            if there != here and there not in ALLOWED[here]:
                wrong.append(f"{module_name(path)} ({here}) imports {target} ({there})")
    assert wrong == []


def test_the_engine_parts_have_no_import_cycle() -> None:
    graph = {
        module_name(p): {t for t in imports_of(p) if t.startswith("noormme_queue.engine.")}
        for p in (PACKAGE / "engine").glob("*.py")
        if p.name != "__init__.py"
    }
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"import cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        for nxt in graph.get(node, ()):
            visit(nxt, (*path, node))
        done.add(node)

    for start in graph:
        visit(start, ())


def test_no_source_file_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sources()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_sql_lives_only_in_the_store() -> None:
    words = ("INSERT INTO", "DELETE FROM", "UPDATE noormme_", "SELECT ", "CREATE TABLE")
    outside = [
        str(p.relative_to(PACKAGE))
        for p in sources()
        if "store" not in p.relative_to(PACKAGE).parts and any(w in p.read_text() for w in words)
    ]
    assert outside == []


def test_the_layer_check_sees_a_wrong_import(tmp_path: Path) -> None:
    # The checker itself: a core module importing the engine is caught.
    probe = PACKAGE / "core" / "_probe_layers.py"
    probe.write_text("from ..engine import worker\n")
    try:
        here = layer_of(module_name(probe))
        assert {layer_of(t) for t in imports_of(probe)} - ALLOWED[here] - {here} == {"engine"}
    finally:
        probe.unlink()
