"""No-op tasks for the peer libraries on Redis (imported by their workers)."""

from __future__ import annotations

import redis
from celery import Celery

REDIS_DB_BROKER = 13
REDIS_DB_COUNTS = 12

celery_app = Celery("bench.peer_tasks", broker=f"redis://127.0.0.1:6379/{REDIS_DB_BROKER}")
celery_app.conf.update(
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
_counts = redis.Redis(db=REDIS_DB_COUNTS)


@celery_app.task  # type: ignore[untyped-decorator]
def celery_noop(i: int) -> None:
    _counts.incr("done")  # the only work: let the benchmark see the job finish


def rq_noop(i: int) -> int:
    return i
