"""Find the Python code blocks of README.md and docs/ and group them into programs to run.

A block runs as written, alone, in a fresh process. An HTML comment on the line(s) right above
its fence says what else it needs (invisible on GitHub):

``<!-- run: qm http -->``
    run with these setups (tests/docs/setups.py): ``qm`` a started manager (a fragment),
    ``http`` a local HTTP server, and so on; ``name=arg`` passes an argument. Several
    ``run:`` lines run the block once per line.
``<!-- continues -->``
    the block goes on from the previous Python block of the page: they run as one program
    (``<!-- continues: qm -->`` adds setups to it).
``<!-- file: shop/queue.py -->``
    the block is a module of a project: it is written there (for later blocks of the page to
    import) and its own program imports it.
``<!-- not-run: reason -->``
    the block is not run; the reason is required, and such blocks must stay rare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = {"python", "py"}
SHELL = {"bash", "sh", "shell", "console"}  # run: tests/docs/shell.py
DATA = {"json", "toml", "yaml", "yml", "sql", "ini"}  # parsed: tests/docs/data.py
TEXT = {"text"}  # a picture or sample output: must say why it is not checked
LANGUAGES = PYTHON | SHELL | DATA | TEXT
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
COMMENT = re.compile(r"^<!--\s*(.*?)\s*-->\s*$")
DIRECTIVE = re.compile(r"^(run|continues|file|not-run|schema)\b\s*:?\s*(.*)$", re.DOTALL)


class DocError(Exception):
    """A page's block or directive is malformed (the test reports it as a failure)."""


@dataclass(frozen=True)
class Setup:
    name: str
    arg: str = ""


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # the line of the block's first line of code, 1-based
    lang: str
    code: str
    directives: tuple[tuple[str, str], ...] = ()

    @property
    def where(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"

    def directive(self, kind: str) -> list[str]:
        return [value for k, value in self.directives if k == kind]


@dataclass
class Program:
    """One or more blocks run in order in one process, with one set of setups."""

    blocks: list[Block]
    setups: tuple[Setup, ...] = ()
    files: list[tuple[str, Block]] = field(default_factory=list)  # written before it runs
    module: str | None = None  # a file block's program imports this module
    variant: str = ""

    @property
    def id(self) -> str:
        base = self.blocks[0].where
        return f"{base}[{self.variant}]" if self.variant else base


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def parse(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        directives: list[tuple[str, str]] = []
        above = i - 1
        while above >= 0 and (comment := COMMENT.match(lines[above])):
            found = DIRECTIVE.match(comment.group(1))
            if found is None:
                break
            directives.insert(0, (found.group(1), found.group(2).strip()))
            above -= 1
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise DocError(f"{page}:{i + 1}: code block never closed")
        lang = opening.group(1).lower()
        block = Block(page, i + 2, lang, "\n".join(lines[i + 1 : end]) + "\n", tuple(directives))
        blocks.append(block)
        i = end + 1
    return blocks


def parse_setups(text: str, where: str) -> tuple[Setup, ...]:
    setups = []
    for word in text.split():
        name, _, arg = word.partition("=")
        if not name:
            raise DocError(f"{where}: empty setup name in {text!r}")
        setups.append(Setup(name, arg))
    return tuple(setups)


def programs(page: Path) -> tuple[list[Program], list[Block]]:
    """The page's programs, and its blocks that opted out (each with a reason)."""
    found: list[Program] = []
    skipped: list[Block] = []
    files: list[tuple[str, Block]] = []
    current: list[Program] = []  # the variants of the program a `continues` block joins
    for block in parse(page):
        if block.lang not in PYTHON:
            continue
        kinds = {k for k, _ in block.directives}
        if "schema" in kinds:
            raise DocError(f"{block.where}: schema: applies to json blocks only")
        if "not-run" in kinds:
            reasons = block.directive("not-run")
            if kinds != {"not-run"} or not all(reasons):
                raise DocError(f"{block.where}: not-run needs a reason and nothing else")
            skipped.append(block)
            continue
        if "continues" in kinds:
            if not current or kinds - {"continues"}:
                raise DocError(f"{block.where}: continues needs a program above, and no more")
            (more,) = block.directive("continues")
            for program in current:
                program.blocks.append(block)
                program.setups += parse_setups(more, block.where)
            continue
        module = None
        if "file" in kinds:
            (path,) = block.directive("file")
            if not re.fullmatch(r"[\w/]+\.py", path):
                raise DocError(f"{block.where}: file: wants a relative path like pkg/mod.py")
            files.append((path, block))
            module = path.removesuffix(".py").replace("/", ".")
        variants = block.directive("run") or [""]
        current = [
            Program(
                [block],
                parse_setups(text, block.where),
                files=list(files),
                module=module,
                variant=text if len(variants) > 1 else "",
            )
            for text in variants
        ]
        found.extend(current)
    return found, skipped


def all_programs() -> tuple[list[Program], list[Block]]:
    everything: list[Program] = []
    skipped: list[Block] = []
    for page in pages():
        found, opted_out = programs(page)
        everything.extend(found)
        skipped.extend(opted_out)
    return everything, skipped
