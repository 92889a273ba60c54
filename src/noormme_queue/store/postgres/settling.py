"""A settle's statement and parameters: a batch of outcomes by kind, each kind's rows one
JSON parameter (``sql.SETTLE``, ``sql.SETTLE_AND_CLAIM``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..base import Completed, Failed, Outcome, Released
from ..events import dumps, settled
from ..rows import attempt_json
from .pool import records


def kind_of(outcome: Outcome) -> str:
    """Its kind in the statements: completed, failed, retried later or released."""
    if isinstance(outcome, Failed):
        return "f" if outcome.retry_at is None else "l"
    return "c" if isinstance(outcome, Completed) else "r"


def settle_params(outcomes: Sequence[Outcome], now: float) -> tuple[str, dict[str, Any]]:
    """The kinds present (the statement's parts: nothing for the others) and their rows."""
    groups: dict[str, list[list[Any]]] = {}
    for outcome in outcomes:
        groups.setdefault(kind_of(outcome), []).append(_row(outcome, now))
    kinds = "".join(kind for kind in "cflr" if kind in groups)
    return kinds, {"now": now} | {kind: records(rows) for kind, rows in groups.items()}


def applied(outcomes: Sequence[Outcome], rows: Iterable[tuple[Any, Any]]) -> list[bool]:
    """For each outcome, whether the statement's (kind, id) rows say it was applied."""
    done = set(rows)
    return [(kind_of(o), o.job_id) in done for o in outcomes]


def _row(outcome: Outcome, now: float) -> list[Any]:
    """Its row, in the columns' order of its kind's statement."""
    held = [outcome.job_id, outcome.token]
    if isinstance(outcome, Completed):
        return [*held, outcome.result, attempt_json(outcome.attempt)]
    events = dumps(settled(outcome, now))
    if isinstance(outcome, Released):
        return [*held, events]
    if not isinstance(outcome, Failed):
        raise TypeError(f"not an outcome: {outcome!r}")
    record = attempt_json(outcome.attempt)
    if outcome.retry_at is None:
        return [*held, outcome.attempt.error, record, events]
    return [*held, outcome.attempt.error, outcome.retry_at, record, events]
