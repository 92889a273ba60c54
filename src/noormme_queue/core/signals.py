"""Control-flow signals a handler raises to steer its job, apart from plain failures.

Any other exception is an ordinary failure: the job is retried with backoff
until its attempts are spent.
"""

from __future__ import annotations


class RetryLater(Exception):
    """Run this job again after ``delay`` seconds (e.g. an HTTP 429 ``Retry-After``).

    The attempt still counts towards ``max_attempts``; once they are spent the
    job fails with ``reason`` as its error.
    """

    def __init__(self, delay: float, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.delay = max(0.0, float(delay))
        self.reason = reason


class UnrecoverableError(Exception):
    """Fail this job for good now, without spending its remaining retries.

    Use it for errors that a retry cannot fix (an HTTP 404, a malformed address).
    """
