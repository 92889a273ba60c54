"""Rows of live workers and of per-minute activity <-> records, shared by both backends."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.job import to_datetime
from ..core.workers import WorkerInfo
from .base import MinuteActivity, WorkerBeat

WORKER_COLUMNS = (
    "id",
    "host",
    "pid",
    "queues",
    "concurrency",
    "types",
    "jobs",
    "started_at",
    "heartbeat_at",
    "expires_at",
    "seen_at",
)
"""The columns of ``noormme_workers`` as read; ``seen_at`` is the database's clock at the
heartbeat (``heartbeat_at`` the worker's)."""

STUCK_SAMPLE = 5
"""Stuck leases the doctor names (it counts them all)."""


def beat_row(beat: WorkerBeat, now: float) -> dict[str, Any]:
    """The parameters of ``BEAT`` (SQLite takes them by name too)."""
    return {
        "id": beat.id,
        "host": beat.host,
        "pid": beat.pid,
        "queues": None if beat.queues is None else json.dumps(list(beat.queues)),
        "concurrency": beat.concurrency,
        "types": json.dumps(list(beat.types)),
        "jobs": json.dumps(list(beat.jobs)),
        "started_at": beat.started_at,
        "heartbeat_at": now,
        "expires_at": beat.expires_at,
    }


def _strings(text: Any) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def read_worker(row: Sequence[Any]) -> WorkerInfo:
    v = dict(zip(WORKER_COLUMNS, row, strict=True))
    times = ("started_at", "heartbeat_at", "expires_at")
    started, beat, expires = (to_datetime(float(v[k])) for k in times)
    assert started is not None and beat is not None and expires is not None
    return WorkerInfo(
        id=str(v["id"]),
        host=str(v["host"]),
        pid=int(v["pid"]),
        queues=None if v["queues"] is None else _strings(v["queues"]),
        concurrency=int(v["concurrency"]),
        types=_strings(v["types"]),
        jobs=_strings(v["jobs"]),
        started_at=started,
        heartbeat_at=beat,
        expires_at=expires,
        clock_skew=round(float(v["heartbeat_at"]) - float(v["seen_at"]), 3),
    )


def read_activity(rows: Iterable[Sequence[Any]]) -> list[MinuteActivity]:
    """``(minute, queue, completed, failed, started, wait_sum, wait_max)`` rows."""
    return [
        MinuteActivity(int(m), str(q), int(c), int(f), int(s), float(ws), float(wm))
        for m, q, c, f, s, ws, wm in rows
    ]
