"""A job's timeline as text: one line per event (time, kind, what and who), an error on
the lines below it, every line within the console width."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.text import Text

from ..core.events import EventKind, JobEvent
from ..core.job import to_datetime
from .output import ELLIPSIS, GAP, shorten

KIND_STYLES = {
    EventKind.COMPLETED: "green",
    EventKind.FAILED: "red",
    EventKind.LEASE_EXPIRED: "red",
    EventKind.RETRY_SCHEDULED: "yellow",
    EventKind.CANCELLED: "magenta",
    EventKind.CLAIMED: "cyan",
}
KIND_WIDTH = max(len(k.value) for k in EventKind)
MAX_ERROR_LINES = 6  # the whole error is in the attempt history above


def _when(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = to_datetime(float(value))
        if moment is not None:
            return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
    return str(value)


def describe(event: JobEvent) -> str:
    """What happened, and who or what did it, in words."""
    parts: list[str] = []
    detail = event.detail
    if event.kind is EventKind.LEASE_EXPIRED:
        parts.append(f"lost by {event.worker or 'an unknown worker'}")
    elif event.worker:
        parts.append(f"on {event.worker}")
    if event.attempt is not None:
        parts.append(f"attempt {event.attempt}")
    if "retry_at" in detail:
        parts.append(f"runs at {_when(detail['retry_at'])}")
    if "run_at" in detail:
        parts.append(f"due {_when(detail['run_at'])}")
    if "schedule" in detail:
        parts.append(f"schedule {detail['schedule']}")
    if detail.get("timed_out"):
        parts.append("timed out")
    if event.by:
        parts.append(f"by {event.by}")
    return ", ".join(parts)


def timeline_lines(events: Sequence[JobEvent], width: int) -> list[Text]:
    """A heading, then each event oldest first; ``(no events)`` for a job without any (one
    written before timelines were kept)."""
    lines = [Text("timeline", style="bold")]
    if not events:
        return [*lines, Text(f"{GAP}(no events)")]
    for event in events:
        stamp = f"{event.at:%Y-%m-%d %H:%M:%S}.{event.at.microsecond // 1000:03d}"
        lead = f"{GAP}{stamp}{GAP}"
        line = Text(lead)
        line.append(f"{event.kind.value:<{KIND_WIDTH}}", style=KIND_STYLES.get(event.kind, ""))
        said = describe(event)
        room = width - len(lead) - KIND_WIDTH - len(GAP)
        if said and room >= 10:
            line.append(GAP + shorten(said, room))
        elif said:
            line.append(GAP + said)
        lines.append(line)
        error = event.detail.get("error") or event.detail.get("error_type")
        if error:
            indent = " " * (len(lead) + len(GAP))
            pieces = textwrap.wrap(
                str(error), max(width - len(indent) - 1, 20), break_on_hyphens=False
            )
            if len(pieces) > MAX_ERROR_LINES:
                pieces = [*pieces[: MAX_ERROR_LINES - 1], pieces[MAX_ERROR_LINES - 1] + ELLIPSIS]
            lines.extend(Text(indent + piece, style="red") for piece in pieces)
    return lines
