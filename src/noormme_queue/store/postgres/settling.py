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
    groups: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        groups.setdefault(kind_of(outcome), []).append(_row(outcome, now))
    kinds = "".join(kind for kind in "cflr" if kind in groups)
    return kinds, {"now": now} | {kind: records(rows) for kind, rows in groups.items()}


def applied(outcomes: Sequence[Outcome], rows: Iterable[tuple[Any, Any]]) -> list[bool]:
    """For each outcome, whether the statement's (kind, id) rows say it was applied."""
    done = set(rows)
    return [(kind_of(o), o.job_id) in done for o in outcomes]


def _row(outcome: Outcome, now: float) -> dict[str, Any]:
    """Its row of ``json_to_recordset`` (keys its kind's statement does not name are
    ignored there)."""
    fields: dict[str, Any] = {"id": outcome.job_id, "token": outcome.token}
    if isinstance(outcome, Completed):
        fields["result"] = outcome.result
        fields["attempt"] = attempt_json(outcome.attempt)
        return fields
    if isinstance(outcome, Failed):
        fields["error"] = outcome.attempt.error
        fields["attempt"] = attempt_json(outcome.attempt)
        fields["retry_at"] = outcome.retry_at
    elif not isinstance(outcome, Released):
        raise TypeError(f"not an outcome: {outcome!r}")
    fields["events"] = dumps(settled(outcome, now))
    return fields
