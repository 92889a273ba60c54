"""The five in-memory queues every QueueManager starts with.

Their processors come from the handlers (the manager passes them in). A queue
whose processor is not supplied is still created, without one, so ``add``
raises :class:`~noormme_queue.NoProcessor` saying how to set it: no queue
pretends to work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.errors import UnknownQueue
from .base import MemoryQueue
from .registry import MemoryQueues

API_CALLS = "api-calls"
IMAGE_PROCESSING = "image-processing"
EMAIL_SENDING = "email-sending"
WEBHOOK_DELIVERY = "webhook-delivery"
BATCH_PROCESSING = "batch-processing"

BUILTIN_QUEUE_NAMES = (
    API_CALLS,
    IMAGE_PROCESSING,
    EMAIL_SENDING,
    WEBHOOK_DELIVERY,
    BATCH_PROCESSING,
)

API_CALLS_PER_MINUTE = 100
IMAGE_CONCURRENCY = 2
EMAIL_CONCURRENCY = 3
WEBHOOK_CONCURRENCY = 5
BATCH_SIZE = 10
BATCH_MAX_WAIT = 5.0


def create_builtin_queues(
    registry: MemoryQueues,
    processors: Mapping[str, Callable[[Any], Any] | None] | None = None,
) -> dict[str, MemoryQueue]:
    """Create the built-in queues in ``registry``, with ``processors`` keyed by queue name.

    ``batch-processing`` receives lists of items; the others one payload at a time.
    """
    processors = dict(processors or {})
    unknown = sorted(set(processors) - set(BUILTIN_QUEUE_NAMES))
    if unknown:
        raise UnknownQueue(
            f"no built-in in-memory queue is named {', '.join(map(repr, unknown))}; "
            f"the built-ins are {', '.join(BUILTIN_QUEUE_NAMES)}"
        )
    queues: dict[str, MemoryQueue] = {
        API_CALLS: registry.create_rate_limited(
            API_CALLS, API_CALLS_PER_MINUTE, processor=processors.get(API_CALLS)
        ),
        IMAGE_PROCESSING: registry.create(
            IMAGE_PROCESSING,
            concurrency=IMAGE_CONCURRENCY,
            processor=processors.get(IMAGE_PROCESSING),
        ),
        EMAIL_SENDING: registry.create(
            EMAIL_SENDING, concurrency=EMAIL_CONCURRENCY, processor=processors.get(EMAIL_SENDING)
        ),
        WEBHOOK_DELIVERY: registry.create(
            WEBHOOK_DELIVERY,
            concurrency=WEBHOOK_CONCURRENCY,
            processor=processors.get(WEBHOOK_DELIVERY),
        ),
        BATCH_PROCESSING: registry.create_batch(
            BATCH_PROCESSING, BATCH_SIZE, BATCH_MAX_WAIT, processor=processors.get(BATCH_PROCESSING)
        ),
    }
    registry.mark_replaceable(queues)
    return queues
