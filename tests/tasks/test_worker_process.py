"""A task enqueued here runs in a worker process that imported the task's module
(``noormme-queue worker --app tests.tasks.app:qm``): the job type is the name it finds it by."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from noormme_queue import QueueConfig, QueueManager, Task

from ..process.conftest import ROOT, SCRIPT
from ..waiting import wait_for
from . import app


def test_a_worker_in_another_process_runs_the_tasks(db_url: str, tmp_path: Path) -> None:
    # This process only enqueues: the same functions on a manager of the test's database.
    producer = QueueManager(QueueConfig(database_url=db_url, cleanup_interval=0), builtins=False)
    where_am_i: Task[[], int] = producer.task(app.where_am_i.func)
    send_welcome: Task[..., Any] = producer.task(app.send_welcome.func)
    assert (where_am_i.name, send_welcome.name) == (app.where_am_i.name, app.send_welcome.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env |= {"QUEUE_DATABASE_URL": db_url, "QUEUE_INTERVAL": "50", "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [SCRIPT, "worker", "--app", "tests.tasks.app:qm"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        where = where_am_i.sync.enqueue()
        hello = send_welcome.sync.enqueue(5)

        def done(job_id: str) -> bool:
            job = producer.sync.get_job(job_id)
            return job is not None and job.status == "completed"

        wait_for(lambda: done(where) and done(hello), timeout=30, what="the worker process")
        ran = producer.sync.get_job(where)
        assert ran is not None and ran.result == worker.pid != os.getpid()
        welcome = producer.sync.get_job(hello)
        assert welcome is not None and welcome.result == "welcome 5 (en)"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        producer.sync.close()
