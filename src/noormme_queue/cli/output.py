"""Text output that stays readable at any width, piped or not.

Tables are plain aligned columns fitted to the console width (80 when piped, or
``COLUMNS``): one line per row, never a cell wrapped into a narrow column. Free text
(errors) is shortened or wrapped at word boundaries only; tracebacks print verbatim.
Cells are ``Text``, never markup, so a job's own text cannot restyle the output.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from ..core.job import JSON, Job, QueueInfo, to_datetime
from ..core.routing import DEFAULT_QUEUE, TypeDefinition

out = Console()

STATUS_COLOURS = {
    "pending": "yellow",
    "processing": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}
ELLIPSIS = "…"
GAP = "  "
# Fields whose value is JSON (shown as JSON even when it is a string); the rest are text.
JSON_FIELDS = frozenset({"payload", "result", "progress", "retry_policy"})


def echo(lines: Sequence[Text]) -> None:
    for line in lines:
        out.print(line, soft_wrap=True, highlight=False)


def _cut(text: str, width: int) -> str:
    """The longest prefix of ``text`` at most ``width`` cells wide."""
    used = 0
    for index, char in enumerate(text):
        used += cell_len(char)
        if used > width:
            return text[:index]
    return text


def shorten(text: str, width: int) -> str:
    """``text`` on one line of at most ``width`` cells, cut between words ("…" marks it).

    Only a first word longer than the whole width is cut inside itself."""
    flat = " ".join(text.split())
    if cell_len(flat) <= width:
        return flat
    cut = _cut(flat, max(width - 1, 0))
    if not flat[len(cut)].isspace() and " " in cut:
        cut = cut[: cut.rindex(" ")]  # the cut fell inside a word: end before it
    return cut.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Column:
    header: str
    right: bool = False
    shrink: bool = False
    """Gives up width (its cells cut with "…") when a row is wider than the console."""


Cell = tuple[str, str]  # text, style


def columns(spec: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> list[Text]:
    """A header line and one line per row, aligned, at most ``width`` cells when possible."""
    widths = [
        max([cell_len(col.header), *(cell_len(row[i][0]) for row in rows)])
        for i, col in enumerate(spec)
    ]
    over = sum(widths) + len(GAP) * (len(spec) - 1) - width
    for i, col in enumerate(spec):
        if over > 0 and col.shrink:
            give = min(over, widths[i] - max(cell_len(col.header), 4))
            if give > 0:
                widths[i] -= give
                over -= give

    def line(cells: Sequence[Cell], header: bool = False) -> Text:
        text = Text(no_wrap=True, end="")
        for i, (value, style) in enumerate(cells):
            if cell_len(value) > widths[i]:
                value = _cut(value, widths[i] - 1) + ELLIPSIS
            pad = " " * (widths[i] - cell_len(value))
            last = i == len(cells) - 1
            if spec[i].right:
                text.append(pad)
            text.append(value, style="bold" if header else style)
            if not spec[i].right and not last:
                text.append(pad)
            if not last:
                text.append(GAP)
        return text

    return [line([(col.header, "") for col in spec], header=True), *(line(row) for row in rows)]


def stats_lines(counts: dict[str, int], width: int) -> list[Text]:
    spec = [Column(name, right=True) for name in counts]
    row = [(str(value), STATUS_COLOURS.get(name, "bold")) for name, value in counts.items()]
    return columns(spec, [row], width)


JOB_COLUMNS = (
    Column("id"),
    Column("type", shrink=True),
    Column("status"),
    Column("prio", right=True),
    Column("tries", right=True),
    Column("run at (UTC)"),
)
QUEUE_COLUMN = Column("queue", shrink=True)


def _job_table(jobs: Sequence[Job], width: int, show_queue: bool) -> list[Text]:
    spec = list(JOB_COLUMNS)
    if show_queue:
        spec.insert(2, QUEUE_COLUMN)
    rows = []
    for job in jobs:
        row = [
            (job.id, ""),
            (job.type, ""),
            (job.status.value, STATUS_COLOURS[job.status.value]),
            (str(job.priority), ""),
            (f"{job.attempts}/{job.max_attempts}", ""),
            (f"{job.run_at:%Y-%m-%d %H:%M}", ""),
        ]
        if show_queue:
            row.insert(2, (job.queue, ""))
        rows.append(row)
    return columns(spec, rows, width)


def job_lines(jobs: Sequence[Job], width: int, *, show_queue: bool | None = None) -> list[Text]:
    """One line per job; its last error, if any, shortened on the line below. A queue column
    follows the type when ``show_queue``; by default when a job is in a queue other than
    ``default`` and the console has room for it (``jobs show`` and ``--json`` always have
    the queue)."""
    if show_queue is None:
        show_queue = any(job.queue != DEFAULT_QUEUE for job in jobs)
        if show_queue:
            table = _job_table(jobs, width, True)
            show_queue = max(line.cell_len for line in table) <= width
    header, *lines = _job_table(jobs, width, show_queue)
    shown = [header]
    for job, line in zip(jobs, lines, strict=True):
        shown.append(line)
        if job.error:
            shown.append(Text(GAP + shorten(job.error, width - len(GAP)), style="red"))
    return shown


QUEUE_COLUMNS = (
    Column("queue", shrink=True),
    Column("state"),
    *(Column(status, right=True) for status in STATUS_COLOURS),
)


def queue_lines(
    queues: Sequence[tuple[QueueInfo, Sequence[TypeDefinition]]], width: int
) -> list[Text]:
    """One line per queue; below it, each limited type with its limits and who stored them,
    then the unlimited types on one line."""
    rows = [
        [
            (info.name, ""),
            ("paused", "yellow") if info.paused else ("running", "green"),
            *((str(getattr(info, status)), "") for status in STATUS_COLOURS),
        ]
        for info, _ in queues
    ]
    header, *lines = columns(QUEUE_COLUMNS, rows, width)
    shown = [header]
    room = width - len(GAP)
    for (_, types), line in zip(queues, lines, strict=True):
        shown.append(line)
        for t in types:
            if t.limits.any:
                text = f"{t.type}: {t.limits.describe()} (stored by {t.defined_by})"
                shown.append(Text(GAP + shorten(text, room), style="cyan"))
        free = [t.type for t in types if not t.limits.any]
        if free:
            shown.append(Text(GAP + shorten(f"{', '.join(free)}: no limits", room), style="dim"))
    return shown


def type_definition_json(definition: TypeDefinition) -> dict[str, JSON]:
    """A type as ``GET /api/queue/queues`` shows it."""
    rate = definition.limits.rate
    updated = to_datetime(definition.updated_at)
    return {
        "type": definition.type,
        "queue": definition.queue,
        "limits": {
            "concurrency": definition.limits.concurrency,
            "rate": None
            if rate is None
            else {"count": rate.count, "window": rate.window, "text": str(rate)},
        },
        "defined_by": definition.defined_by,
        "updated_at": None if updated is None else updated.isoformat(),
    }


def _as_text(key: str, value: Any) -> str:
    if key in JSON_FIELDS or not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # an empty value is null, as in --json
    return value


def _field(key: str, value: Any, indent: int, width: int) -> list[Text]:
    lead = f"{GAP}{key:<{indent}}"
    text = _as_text(key, value)
    if "\n" not in text and cell_len(lead) + cell_len(text) <= width:
        return [Text(lead + text)]
    if isinstance(value, dict | list):  # long JSON: indented below its name
        block = json.dumps(value, ensure_ascii=False, indent=2).splitlines()
        return [Text(lead.rstrip()), *(Text(GAP * 2 + line) for line in block)]
    # Long or multi-line text: wrapped between words under the value, line breaks kept.
    room = max(width - len(lead), 20)
    wrapped = [
        piece
        for paragraph in text.splitlines()
        for piece in textwrap.wrap(paragraph, room, break_long_words=False, break_on_hyphens=False)
        or [""]
    ]
    return [Text(lead + wrapped[0]), *(Text(" " * len(lead) + piece) for piece in wrapped[1:])]


def job_detail_lines(job: Job, width: int) -> list[Text]:
    """Every field (empty ones as null), then each attempt with its traceback."""
    data = job.to_dict()
    del data["history"]
    indent = max(len(key) for key in data) + len(GAP)
    lines = [Text(job.id, style="bold")]
    for key, value in data.items():
        if key != "id":
            lines.extend(_field(key, value, indent, width))
    for attempt in job.history:
        lines.append(
            Text(
                f"attempt {attempt.attempt}: {attempt.outcome.value} on "
                f"{attempt.worker_id or 'an unknown worker'} at "
                f"{attempt.finished_at:%Y-%m-%d %H:%M:%S} UTC",
                style="bold",
            )
        )
        if attempt.traceback:  # it ends with the error
            lines.extend(
                Text(GAP + line, style="red") for line in attempt.traceback.rstrip().splitlines()
            )
        elif attempt.error:
            room = max(width - len(GAP), 20)
            lines.extend(
                Text(GAP + piece, style="red")
                for piece in textwrap.wrap(
                    attempt.error, room, break_long_words=False, break_on_hyphens=False
                )
            )
    return lines
