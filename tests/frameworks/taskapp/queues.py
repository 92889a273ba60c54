"""A queue manager on a database of its own (not Django's), for the ENQUEUE_ON_COMMIT tests:
``"OPTIONS": {"QUEUE_MANAGER": "tests.frameworks.taskapp.queues:separate"}``."""

from __future__ import annotations

import os
from functools import cache

from noormme_queue import QueueConfig, QueueManager


@cache
def separate() -> QueueManager:
    url = os.environ["TEST_SEPARATE_QUEUE_URL"]
    return QueueManager(QueueConfig(database_url=url, cleanup_interval=0), builtins=False)
