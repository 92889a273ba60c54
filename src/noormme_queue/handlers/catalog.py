"""Names of the built-in job types and in-memory processors (cheap to import)."""

from __future__ import annotations

BUILTIN_JOB_TYPES = ("email", "newsletter", "image", "thumbnail", "webhook")
BUILTIN_PROCESSOR_QUEUES = ("email-sending", "image-processing", "webhook-delivery", "api-calls")
