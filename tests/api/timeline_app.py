"""The app the timeline's browser test serves (``--app tests.api.timeline_app:create``).

``hostile`` fails its first attempt with an error message that is markup, and succeeds on
its second; ``parked`` has no handler, so its jobs wait to be cancelled and retried.
"""

from __future__ import annotations

from noormme_queue import Job, QueueConfig, QueueManager

HOSTILE_ERROR = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def hostile(job: Job) -> str:
    if job.attempts == 1:
        raise ValueError(HOSTILE_ERROR)
    return "second time lucky"


def create() -> QueueManager:
    qm = QueueManager(QueueConfig.from_env(), builtins=False)
    qm.register_handler("hostile", hostile)
    return qm
