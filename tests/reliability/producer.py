"""A producer process for the contention test: enqueue as fast as possible, note every error.

``python -m tests.reliability.producer DB_PATH SECONDS OUT_JSON`` adds ``record``
jobs one at a time through the sync face (as a Django or Flask view would),
reading a job back and the stats every so often, for ``SECONDS``; then writes
``{"ids": [...], "errors": [...]}`` to ``OUT_JSON``. Any exception, from any
call, is recorded (type and message) rather than ending the run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from noormme_queue import QueueConfig, QueueManager

from .app import JOB_TYPE

READ_EVERY = 50


def main(db: str, seconds: float, out: str) -> None:
    config = QueueConfig(database_url=f"sqlite:///{db}", cleanup_interval=0)
    qm = QueueManager(config, builtins=False)
    ids: list[str] = []
    errors: list[str] = []
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        n += 1
        try:
            ids.append(qm.sync.add_job(JOB_TYPE, {"n": n, "producer": os.getpid()}))
            if n % READ_EVERY == 0:
                job = qm.sync.get_job(ids[-1])
                assert job is not None, f"{ids[-1]} not found right after add_job"
                qm.sync.get_stats()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    try:
        qm.sync.close()
    except Exception as exc:
        errors.append(f"stop: {type(exc).__name__}: {exc}")
    Path(out).write_text(json.dumps({"ids": ids, "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
