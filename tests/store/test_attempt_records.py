"""An attempt's record for the history: the one JSON shape, however it is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from noormme_queue.core.job import Attempt, AttemptOutcome
from noormme_queue.store.rows import attempt_from_json, attempt_json, attempt_record

STARTED = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
FINISHED = datetime(2026, 12, 1, 12, 0, 1, 654321, tzinfo=UTC)


def encoded(attempt: Attempt) -> str:
    """What json.dumps writes for the record's one shape."""
    return json.dumps(attempt_record(attempt))


@pytest.mark.parametrize("worker_id", ["w-1", None, 'a "quoted" id\\', "wörker-ü", "\u2028x"])
@pytest.mark.parametrize("started", [STARTED, None])
def test_a_completed_attempt_is_written_as_json_dumps_writes_it(
    worker_id: str | None, started: datetime | None
) -> None:
    # Completed attempts (nearly all) are written without the encoder's walk: byte for byte
    # the same text, and read back as the same attempt.
    attempt = Attempt(7, AttemptOutcome.COMPLETED, started, FINISHED, worker_id=worker_id)
    assert attempt_json(attempt) == encoded(attempt)
    assert attempt_from_json(json.loads(attempt_json(attempt))) == attempt


def test_a_failed_attempt_keeps_its_error_traceback_and_type() -> None:
    attempt = Attempt(
        2,
        AttemptOutcome.FAILED,
        STARTED,
        FINISHED,
        worker_id="w",
        error='ValueError: "bad"',
        traceback="Traceback ...\n",
        error_type="builtins.ValueError",
    )
    assert attempt_json(attempt) == encoded(attempt)
    assert attempt_from_json(json.loads(attempt_json(attempt))) == attempt
