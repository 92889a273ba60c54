"""Tier 1: in-memory queues for quick work inside a request.

No database: fast, and lost on restart by design. See docs/memory-queues.md.
"""

from .base import MemoryQueue
from .batch import BatchQueue
from .builtins import BUILTIN_QUEUE_NAMES, create_builtin_queues
from .queue import InMemoryQueue
from .rate_limit import RateLimitedQueue
from .registry import MemoryQueues
from .stats import MemoryQueueStats

__all__ = [
    "BUILTIN_QUEUE_NAMES",
    "BatchQueue",
    "InMemoryQueue",
    "MemoryQueue",
    "MemoryQueueStats",
    "MemoryQueues",
    "RateLimitedQueue",
    "create_builtin_queues",
]
