"""OpenTelemetry: a producer span per enqueue (its traceparent stored with the job), a
consumer span per attempt linked to it, failures recorded, on a real worker and store."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager

from ..conftest import wait_status, wait_until

tracer = trace.get_tracer("tests")


def _named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


def _links(span: ReadableSpan) -> list[tuple[int, int]]:
    return [(link.context.trace_id, link.context.span_id) for link in span.links]


def _ids(span: ReadableSpan) -> tuple[int, int]:
    ctx = span.get_span_context()
    assert ctx is not None
    return (ctx.trace_id, ctx.span_id)


def _traceparent(span: ReadableSpan) -> str:
    ctx = span.get_span_context()
    assert ctx is not None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


async def test_an_enqueue_and_its_attempt_are_spans_linked_by_the_stored_traceparent(
    config: QueueConfig, spans: InMemorySpanExporter
) -> None:
    qm = QueueManager(config)
    seen: dict[str, Any] = {}

    async def handler(job: Job) -> str:
        # the handler runs inside the attempt's span: its own spans are its children
        seen["span"] = trace.get_current_span().get_span_context()
        with tracer.start_as_current_span("inside the handler"):
            pass
        return "ok"

    qm.register_handler("mail", handler, queue="emails")
    await qm.start()
    try:
        with tracer.start_as_current_span("POST /signup") as request:
            job_id = await qm.add_job("mail", {"to": "a@example.com"})
        await wait_status(qm, job_id, "completed")
        await wait_until(lambda: bool(_named(spans, "process emails")), 10, "the attempt's span")
        job = await qm.get_job(job_id)
    finally:
        await qm.stop(timeout=5)

    (send,) = _named(spans, "send emails")
    assert send.kind is SpanKind.PRODUCER
    assert send.parent is not None and send.parent.span_id == request.get_span_context().span_id
    assert dict(send.attributes or {}) == {
        "messaging.system": "noormme_queue",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "emails",
        "messaging.message.id": job_id,
        "noormme_queue.job.type": "mail",
    }
    assert job is not None and job.traceparent == _traceparent(send)

    (process,) = _named(spans, "process emails")
    assert process.kind is SpanKind.CONSUMER
    assert process.parent is None  # a trace of its own ...
    assert _links(process) == [_ids(send)]  # ... linked to the enqueue
    assert _ids(process)[0] != _ids(send)[0]
    attributes = dict(process.attributes or {})
    assert attributes["messaging.operation.type"] == "process"
    assert attributes["messaging.message.id"] == job_id
    assert attributes["messaging.destination.name"] == "emails"
    assert attributes["noormme_queue.job.type"] == "mail"
    assert attributes["noormme_queue.job.attempt"] == 1
    assert attributes["noormme_queue.job.outcome"] == "completed"
    assert process.status.status_code is StatusCode.UNSET
    assert seen["span"] == process.get_span_context()
    (inner,) = _named(spans, "inside the handler")
    assert inner.parent is not None and inner.parent.span_id == _ids(process)[1]


async def test_a_failed_attempt_records_its_exception_and_error_status(
    config: QueueConfig, spans: InMemorySpanExporter
) -> None:
    qm = QueueManager(config)

    async def broken(job: Job) -> None:
        raise ValueError("the mail server said no")

    qm.register_handler("mail", broken)
    await qm.start()
    try:
        job_id = await qm.add_job("mail", None, max_attempts=1)
        await wait_status(qm, job_id, JobStatus.FAILED)
        await wait_until(lambda: bool(_named(spans, "process default")), 10, "the attempt's span")
    finally:
        await qm.stop(timeout=5)
    (process,) = _named(spans, "process default")
    assert process.status.status_code is StatusCode.ERROR
    assert process.status.description == "ValueError: the mail server said no"
    attributes = dict(process.attributes or {})
    assert attributes["noormme_queue.job.outcome"] == "failed"
    assert attributes["error.type"] == "builtins.ValueError"
    (event,) = [e for e in process.events if e.name == "exception"]
    assert dict(event.attributes or {})["exception.message"] == "the mail server said no"
    # no enqueuing context: the job still carries its (root) send span's traceparent
    (send,) = _named(spans, "send default")
    assert _links(process) == [_ids(send)]


async def test_a_batch_and_a_transactional_enqueue_are_traced_per_job(
    config: QueueConfig, spans: InMemorySpanExporter, tmp_path: Any
) -> None:
    import sqlite3

    qm = QueueManager(config, background=False)
    qm.register_handler("mail", lambda job: None, queue="emails")
    await qm.start()
    try:
        with tracer.start_as_current_span("batch"):
            ids = await qm.add_jobs([("mail", 1), ("mail", 2)])
        path = config.database_url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            with tracer.start_as_current_span("transaction"):
                (in_tx,) = await qm.add_jobs([("mail", 3)], connection=conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        jobs = [await qm.get_job(i) for i in [*ids, in_tx]]
    finally:
        await qm.stop(timeout=5)
    sent = _named(spans, "send emails")
    sends = {dict(s.attributes or {})["messaging.message.id"]: s for s in sent}
    assert set(sends) == {*ids, in_tx}
    for job in jobs:
        assert job is not None and job.traceparent == _traceparent(sends[job.id])


def test_sync_code_enqueues_under_its_own_current_span(
    config: QueueConfig, spans: InMemorySpanExporter
) -> None:
    # Flask or Django: the manager runs on its own loop thread; the caller's span is the
    # parent all the same (the sync twin hands its context to the loop with the call).
    qm = QueueManager(config, background=False)
    qm.sync.start()
    try:
        with tracer.start_as_current_span("GET /flask-view") as view:
            job_id = qm.sync.add_job("elsewhere", {"n": 1})
        job = qm.sync.get_job(job_id)
    finally:
        qm.sync.stop()
    (send,) = _named(spans, "send")  # no handler here: the queue is settled by the store
    assert send.parent is not None and send.parent.span_id == view.get_span_context().span_id
    assert job is not None and job.traceparent == _traceparent(send)


async def test_a_sync_handler_runs_inside_its_attempts_span(
    config: QueueConfig, spans: InMemorySpanExporter
) -> None:
    qm = QueueManager(config)
    seen: list[tuple[int, int]] = []

    def blocking(job: Job) -> None:  # on a pool thread: the span goes along with the context
        ctx = trace.get_current_span().get_span_context()
        seen.append((ctx.trace_id, ctx.span_id))

    qm.register_handler("blocking", blocking)
    await qm.start()
    try:
        job_id = await qm.add_job("blocking")
        await wait_status(qm, job_id, JobStatus.COMPLETED)
    finally:
        await qm.stop(timeout=5)
    (process,) = _named(spans, "process default")
    assert seen == [_ids(process)]
