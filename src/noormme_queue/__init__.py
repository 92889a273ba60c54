"""noormme-queue: a two-tier background job queue for Python web applications.

The built-in handlers' payload models and settings load on first access, so
``import noormme_queue`` stays light (no pydantic, httpx or Pillow).
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from .core.config import QueueConfig
from .core.errors import (
    ConfigError,
    DuplicateQueue,
    InvalidJob,
    InvalidPayload,
    InvalidSchedule,
    InvalidStatus,
    JobDropped,
    JobNotFound,
    JobTimeout,
    LeaseLost,
    NoProcessor,
    PayloadTooLarge,
    QueueError,
    QueueFull,
    SchemaTooNew,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    UnknownQueue,
)
from .core.events import EventKind, JobEvent
from .core.handler import JobHandler
from .core.health import DoctorCheck, DoctorReport
from .core.job import (
    Attempt,
    AttemptOutcome,
    Job,
    JobStatus,
    QueueInfo,
    QueueStats,
    QueueStatus,
    ThroughputPoint,
)
from .core.progress import save_progress
from .core.retry import RetryPolicy
from .core.routing import RateLimit, TypeDefinition, TypeLimits
from .core.schedule import Schedule
from .core.signals import RetryLater, UnrecoverableError
from .core.workers import ActivityPoint, QueueActivity, WorkerInfo
from .manager import QueueManager, StopReport, get_queue_manager
from .memory import BatchQueue, InMemoryQueue, MemoryQueue, MemoryQueueStats, RateLimitedQueue
from .tasks import Task, task

if _TYPE_CHECKING:
    from .handlers import (
        ApiCallPayload,
        Attachment,
        DestinationNotAllowed,
        EmailPayload,
        EmailSettings,
        ImagePayload,
        ImageSettings,
        NewsletterPayload,
        PathNotAllowed,
        PayloadModel,
        ThumbnailPayload,
        WebhookPayload,
        payload_schemas,
        validate_payload,
    )

_LAZY = {
    "ApiCallPayload",
    "Attachment",
    "DestinationNotAllowed",
    "DoctorCheck",
    "EmailPayload",
    "EmailSettings",
    "ImagePayload",
    "ImageSettings",
    "NewsletterPayload",
    "PathNotAllowed",
    "PayloadModel",
    "ThumbnailPayload",
    "WebhookPayload",
    "payload_schemas",
    "validate_payload",
}


def __getattr__(name: str) -> _Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(".handlers", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ActivityPoint",
    "ApiCallPayload",
    "Attachment",
    "Attempt",
    "AttemptOutcome",
    "BatchQueue",
    "ConfigError",
    "DestinationNotAllowed",
    "DoctorCheck",
    "DoctorReport",
    "DuplicateQueue",
    "EmailPayload",
    "EmailSettings",
    "EventKind",
    "ImagePayload",
    "ImageSettings",
    "InMemoryQueue",
    "InvalidJob",
    "InvalidPayload",
    "InvalidSchedule",
    "InvalidStatus",
    "Job",
    "JobDropped",
    "JobEvent",
    "JobHandler",
    "JobNotFound",
    "JobStatus",
    "JobTimeout",
    "LeaseLost",
    "MemoryQueue",
    "MemoryQueueStats",
    "NewsletterPayload",
    "NoProcessor",
    "PathNotAllowed",
    "PayloadModel",
    "PayloadTooLarge",
    "QueueActivity",
    "QueueConfig",
    "QueueError",
    "QueueFull",
    "QueueInfo",
    "QueueManager",
    "QueueStats",
    "QueueStatus",
    "RateLimit",
    "RateLimitedQueue",
    "RetryLater",
    "RetryPolicy",
    "Schedule",
    "SchemaTooNew",
    "StopReport",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "Task",
    "ThroughputPoint",
    "ThumbnailPayload",
    "TypeDefinition",
    "TypeLimits",
    "UnknownQueue",
    "UnrecoverableError",
    "WebhookPayload",
    "WorkerInfo",
    "get_queue_manager",
    "payload_schemas",
    "save_progress",
    "task",
    "validate_payload",
]
