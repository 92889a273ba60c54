"""noormme-queue: a two-tier background job queue for Python web applications."""

from .config import QueueConfig
from .errors import (
    ConfigError,
    DuplicateQueue,
    InvalidJob,
    InvalidPayload,
    InvalidStatus,
    JobNotFound,
    JobTimeout,
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
from .handlers.base import JobHandler
from .job import Attempt, AttemptOutcome, Job, JobStatus, QueueStats, QueueStatus
from .manager import QueueManager, StopReport, get_queue_manager
from .progress import save_progress
from .retry import RetryPolicy
from .signals import RetryLater, UnrecoverableError

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "ConfigError",
    "DuplicateQueue",
    "InvalidJob",
    "InvalidPayload",
    "InvalidStatus",
    "Job",
    "JobHandler",
    "JobNotFound",
    "JobStatus",
    "JobTimeout",
    "NoProcessor",
    "PayloadTooLarge",
    "QueueConfig",
    "QueueError",
    "QueueFull",
    "QueueManager",
    "QueueStats",
    "QueueStatus",
    "RetryLater",
    "RetryPolicy",
    "SchemaTooNew",
    "StopReport",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "UnknownQueue",
    "UnrecoverableError",
    "get_queue_manager",
    "save_progress",
]
