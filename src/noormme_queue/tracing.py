"""OpenTelemetry spans around enqueues and attempts (extra ``otel``: ``opentelemetry-api``).

Whether OpenTelemetry's API is installed is looked up once, when this module is imported,
without importing it; a manager made where it is absent gets no tracing at all (no import,
no work per job). Where it is present, :func:`job_tracing` imports it once and every
manager traces once a real ``TracerProvider`` (an SDK's) is set, before or after the manager
is made; until then an enqueue or an attempt costs one check.

- **Enqueue**: a ``PRODUCER`` span ``send <queue>`` per job, a child of the caller's current
  span, around the write. Its W3C ``traceparent`` is stored with the job (column
  ``traceparent``, :attr:`Job.traceparent`).
- **Attempt**: a ``CONSUMER`` span ``process <queue>`` per run, the root of its own trace,
  **linked** to the enqueuing span (a link, not a parent, as the messaging conventions
  recommend: a job may run long after its request's trace ended, and several times); the
  handler runs inside it, so its own spans are its children. A failed attempt records the
  exception and sets the ``ERROR`` status.

Attributes follow OpenTelemetry's messaging semantic conventions: ``messaging.system``
(``noormme_queue``), ``messaging.operation.type`` and ``.name``,
``messaging.destination.name`` (the queue), ``messaging.message.id`` (the job id), plus
``noormme_queue.job.type``, ``.attempt`` and ``.outcome``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .core.job import Job
from .engine.observe import AttemptWatch, Observer, Observers
from .engine.outcomes import Settled
from .store import Completed, Failed, NewJob, Released

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

AVAILABLE = importlib.util.find_spec("opentelemetry") is not None
"""Whether ``opentelemetry`` can be imported here (looked up once, nothing imported)."""

SYSTEM = "noormme_queue"
_tracing: JobTracing | None = None


def job_tracing(observers: Observers) -> JobTracing | None:
    """The process's tracing, subscribed to ``observers`` (a manager's), or ``None`` where
    OpenTelemetry's API is not installed."""
    global _tracing
    if not AVAILABLE:
        return None
    if _tracing is None:
        _tracing = JobTracing()
    observers.add(_tracing)
    return _tracing


def traced(tracing: JobTracing | None, jobs: Sequence[NewJob]) -> Any:
    """The context in which ``jobs`` are written: it gives the jobs to write (each stamped
    with its span's ``traceparent`` when tracing)."""
    return contextlib.nullcontext(jobs) if tracing is None else tracing.enqueue(jobs)


class JobTracing(Observer):
    """Spans for enqueues (:meth:`enqueue`) and attempts (an engine observer)."""

    def __init__(self) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self._context = context
        self._tracer = trace.get_tracer("noormme_queue")  # follows a provider set later
        self._w3c = TraceContextTextMapPropagator()  # W3C whatever the global propagator
        self._idle = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        # The API's get_tracer_provider() reads the environment each time until a provider
        # is set (OTEL_PYTHON_TRACER_PROVIDER may name one): a few microseconds a job. Its
        # module global says at once whether one was set; only where the environment names
        # one (or an API without that global) is it asked.
        self._ask = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ or not hasattr(
            trace, "_TRACER_PROVIDER"
        )

    @property
    def recording(self) -> bool:
        """Whether a real ``TracerProvider`` (an SDK's) is set: until one is, nothing is
        traced and no job does any tracing work but this check."""
        if not self._ask and getattr(self._trace, "_TRACER_PROVIDER", None) is None:
            return False
        return not isinstance(self._trace.get_tracer_provider(), self._idle)

    @contextlib.contextmanager
    def enqueue(self, jobs: Sequence[NewJob]) -> Iterator[Sequence[NewJob]]:
        if not self.recording:
            yield jobs
            return
        trace = self._trace
        spans = []
        stamped = []
        for job in jobs:
            operation = f"send {job.queue}" if job.queue else "send"
            attributes = _attributes(job.id, job.type, job.queue, "send")
            span = self._tracer.start_span(
                operation, kind=trace.SpanKind.PRODUCER, attributes=attributes
            )
            spans.append(span)
            carrier: dict[str, str] = {}
            self._w3c.inject(carrier, context=trace.set_span_in_context(span))
            stamped.append(dataclasses.replace(job, traceparent=carrier.get("traceparent")))
        try:
            yield stamped
        except BaseException as exc:
            for span in spans:
                _failed(span, exc)
            raise
        finally:
            for span in spans:
                span.end()

    def attempt(self, job: Job, now: float) -> AttemptWatch | None:
        if not self.recording:
            return None
        trace, otel_context = self._trace, self._context
        links = []
        if job.traceparent:
            sent = trace.get_current_span(self._w3c.extract({"traceparent": job.traceparent}))
            if sent.get_span_context().is_valid:
                links.append(trace.Link(sent.get_span_context()))
        attributes = _attributes(job.id, job.type, job.queue, "process")
        attributes["noormme_queue.job.attempt"] = job.attempts
        root: Context = otel_context.Context()  # a trace of its own, linked to the enqueue
        span = self._tracer.start_span(
            f"process {job.queue}",
            context=root,
            kind=trace.SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        return _Attempt(span, lambda: otel_context.detach(token))


class _Attempt:
    __slots__ = ("detach", "span")

    def __init__(self, span: Span, detach: Callable[[], None]) -> None:
        self.span = span
        self.detach = detach

    def ended(self, record: Settled | None, now: float) -> None:
        span = self.span
        try:
            outcome = record.outcome if record is not None else None
            if isinstance(outcome, Completed):
                span.set_attribute("noormme_queue.job.outcome", "completed")
            elif isinstance(outcome, Failed):
                retry = outcome.retry_at is not None
                span.set_attribute("noormme_queue.job.outcome", "retry" if retry else "failed")
                assert record is not None
                if record.error is not None:
                    _failed(span, record.error)
            elif isinstance(outcome, Released):
                span.set_attribute("noormme_queue.job.outcome", "released")
            else:
                span.set_attribute("noormme_queue.job.outcome", "stopped")
        finally:
            self.detach()
            span.end()


def _attributes(job_id: str, job_type: str, queue: str | None, operation: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": SYSTEM,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.message.id": job_id,
        "noormme_queue.job.type": job_type,
    }
    if queue:
        attributes["messaging.destination.name"] = queue
    return attributes


def _failed(span: Span, error: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(error)
    span.set_attribute("error.type", f"{type(error).__module__}.{type(error).__qualname__}")
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
