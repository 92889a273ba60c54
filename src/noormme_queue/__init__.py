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
from .job import Attempt, AttemptOutcome, Job, JobStatus, QueueStats, QueueStatus
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
    "JobNotFound",
    "JobStatus",
    "JobTimeout",
    "NoProcessor",
    "PayloadTooLarge",
    "QueueConfig",
    "QueueError",
    "QueueFull",
    "QueueStats",
    "QueueStatus",
    "RetryLater",
    "RetryPolicy",
    "SchemaTooNew",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "UnknownQueue",
    "UnrecoverableError",
]
