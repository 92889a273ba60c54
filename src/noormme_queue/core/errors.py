"""The exceptions noormme-queue raises.

Every error derives from :class:`QueueError`, so ``except QueueError`` catches
them all. Where a builtin category fits, the error inherits it too, so
``except ValueError`` keeps working for bad input::

    QueueError
    ├── ConfigError (ValueError)          a setting or QUEUE_* variable is invalid
    ├── InvalidJob (ValueError)           enqueue options are invalid; nothing written
    │   ├── InvalidPayload                the payload is not JSON or fails its model
    │   │   └── PayloadTooLarge           larger than QUEUE_MAX_PAYLOAD_BYTES
    │   └── InvalidSchedule               a schedule's name, cron, every, timezone or missed
    ├── InvalidStatus (ValueError)        not one of the five job statuses
    ├── JobNotFound (LookupError)         no job has that id
    ├── UnknownQueue (LookupError)        no in-memory queue has that name
    ├── DuplicateQueue (ValueError)       an in-memory queue already has that name
    ├── QueueFull                         an in-memory queue is at max_size
    ├── NoProcessor                       an in-memory queue has no processor set
    ├── JobTimeout (TimeoutError)         a job ran longer than its timeout
    ├── LeaseLost                         a job's worker stopped renewing its lease
    ├── JobDropped                        an in-memory job was cleared or dropped on stop
    └── StoreError                        the database could not do what was asked
        ├── StoreUnavailable              locked, unreachable, not writable, disk full
        ├── StoreCorrupt                  the file is not a noormme-queue database
        └── SchemaTooNew                  written by a newer noormme-queue
"""

from __future__ import annotations


class QueueError(Exception):
    """Base class of every noormme-queue error."""


class ConfigError(QueueError, ValueError):
    """A configuration value (or ``QUEUE_*`` environment variable) is invalid."""


class InvalidJob(QueueError, ValueError):
    """The options given to ``add_job`` are invalid; no job was written.

    ``field`` names what was wrong when one thing was (``"priority"``, ``"type"``,
    ``"payload.to"``).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidPayload(InvalidJob):
    """The payload is not JSON-serialisable or does not match its job type's model."""


class PayloadTooLarge(InvalidPayload):
    """The encoded payload is larger than ``QUEUE_MAX_PAYLOAD_BYTES``."""


class InvalidSchedule(InvalidJob):
    """A schedule's own settings are invalid (``field``: ``name``, ``cron``, ``every``,
    ``timezone`` or ``missed``); nothing was stored. Its job options and payload are checked
    as ``add_job`` checks them, and fail with the same errors."""


class InvalidStatus(QueueError, ValueError):
    """A status name that is not one of the five job statuses."""


class JobNotFound(QueueError, LookupError):
    """No job has the given id (the REST API answers it with 404; ``get_job`` returns
    ``None`` instead)."""


class UnknownQueue(QueueError, LookupError):
    """No in-memory queue has the given name."""


class DuplicateQueue(QueueError, ValueError):
    """An in-memory queue with that name already exists."""


class QueueFull(QueueError):
    """An in-memory queue is at its ``max_size`` and the caller asked not to wait."""


class NoProcessor(QueueError):
    """An in-memory queue was given work before a processor was set."""


class JobTimeout(QueueError, TimeoutError):
    """A job ran longer than its timeout and was cancelled."""


LEASE_EXPIRED = "lease expired: the worker running this job stopped renewing it (killed or hung)"


class LeaseLost(QueueError):
    """The worker running a job stopped renewing its lease (it was killed, hung or cut off
    from the database); ``on_failure`` gets this when that was the job's last attempt."""


class JobDropped(QueueError):
    """An in-memory job was removed before it finished: its queue was cleared or stopped."""


class StoreError(QueueError):
    """The job store could not carry out a request."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or written (locked, read-only, disk full)."""


class StoreCorrupt(StoreError):
    """The database file is damaged or is not a noormme-queue database."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer noormme-queue than this one."""
