"""Built-in job types end to end: enqueue validation, the real worker, real servers."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from PIL import Image

from noormme_queue import InvalidPayload, JobStatus, QueueConfig, QueueManager, RetryPolicy
from noormme_queue.core.clock import ManualClock

from ..conftest import wait_status, wait_until
from ..handlers.conftest import HttpServer, Reply, SmtpServer, http_server, smtp_server

__all__ = ["http_server", "smtp_server"]  # fixtures used below


async def test_a_bad_builtin_payload_is_refused_naming_the_field(qm: QueueManager) -> None:
    with pytest.raises(InvalidPayload) as caught:
        await qm.add_job("email", {"to": "not an address", "subject": "Hi", "html": "x"})
    assert caught.value.field is not None and caught.value.field.startswith("payload.to")
    with pytest.raises(InvalidPayload, match="operations"):
        await qm.add_job(
            "image", {"imagePath": "a.jpg", "operations": [{"type": "explode", "params": {}}]}
        )
    assert (await qm.get_stats()).total == 0


async def test_the_specification_examples_are_accepted_as_written(
    qm: QueueManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_INPUT_DIRS", "/uploads")  # the example's input lives there
    image_id = await qm.add_job(
        "image",
        {
            "imagePath": "/uploads/photo.jpg",
            "operations": [
                {"type": "resize", "params": {"width": 300, "height": 300}},
                {"type": "grayscale", "params": {}},
            ],
            "quality": 85,
            "format": "webp",
        },
    )
    image = await qm.get_job(image_id)
    assert image is not None and image.payload["image_path"] == "/uploads/photo.jpg"
    hook_id = await qm.add_job(
        "webhook",
        {
            "url": "https://api.example.com/webhook",
            "method": "POST",
            "headers": {"X-API-Key": "your-key"},
            "body": {"event": "user.created"},
            "retryPolicy": {
                "maxRetries": 5,
                "baseDelay": 2000,
                "maxDelay": 30000,
                "backoffMultiplier": 2,
            },
        },
    )
    hook = await qm.get_job(hook_id)
    assert hook is not None and hook.max_attempts == 6  # the payload's policy is the job's
    assert hook.retry_policy == RetryPolicy(
        max_retries=5, base_delay=2.0, max_delay=30.0, backoff_multiplier=2.0
    )


async def test_an_email_job_is_written_to_the_outbox(
    qm: QueueManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_TRANSPORT", "file")
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    await qm.start()
    job_id = await qm.add_job(
        "email",
        {
            "to": "user@example.com",
            "subject": "Welcome!",
            "html": "<h1>Welcome to our service!</h1>",
        },
    )
    await wait_status(qm, job_id, "completed")
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes())
    assert message["To"] == "user@example.com" and message["Subject"] == "Welcome!"


async def test_a_newsletter_retry_mails_only_the_rest_through_the_worker(
    config: QueueConfig,
    clock: ManualClock,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_TRANSPORT", "smtp")
    monkeypatch.setenv("EMAIL_SMTP_URL", smtp_server.url)
    readers = [f"reader{i}@example.com" for i in range(4)]
    smtp_server.recorder.refuse_once[readers[2]] = "451 mailbox busy, try later"
    qm = QueueManager(config, clock=clock)
    await qm.start()
    try:
        job_id = await qm.add_job(
            "newsletter", {"to": readers, "subject": "Weekly", "html": "<p>news</p>"}
        )

        async def first_run_failed() -> bool:
            job = await qm.get_job(job_id)
            return job is not None and job.status == "pending" and job.attempts == 1

        await wait_until(first_run_failed, what="the first run to fail on reader2")
        job = await qm.get_job(job_id)
        assert job is not None and job.progress is not None  # saved through the worker
        assert job.progress == {"total": 4, "done": 2, "sent": 2, "failed": 0, "refused": {}}
        clock.set(job.run_at.timestamp())
        qm.worker.wake()
        await wait_status(qm, job_id, "completed")
    finally:
        await qm.stop(timeout=5)
    delivered = [r.recipients[0] for r in smtp_server.recorder.received]
    assert sorted(delivered) == sorted(readers)  # everyone once, nobody twice


async def test_a_webhook_job_reaches_a_local_server(db_url: str, http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(204, b"")
    qm = QueueManager(
        QueueConfig(
            database_url=db_url, webhook_allow_private=True, interval=30, cleanup_interval=0
        )
    )
    await qm.start()
    try:
        job_id = await qm.add_job(
            "webhook", {"url": http_server.url("/hook"), "body": {"event": "user.created"}}
        )
        await wait_status(qm, job_id, "completed")
    finally:
        await qm.stop(timeout=5)
    assert http_server.hits("/hook")[0].json() == {"event": "user.created"}


async def test_a_webhook_to_loopback_is_refused_by_default(
    qm: QueueManager, http_server: HttpServer
) -> None:
    with pytest.raises(InvalidPayload, match="QUEUE_WEBHOOK_ALLOW_PRIVATE"):
        await qm.add_job("webhook", {"url": http_server.url("/hook")})  # a literal: at enqueue
    await qm.start()
    # A name is resolved when the job runs, and the guard refuses what it resolves to.
    job_id = await qm.add_job("webhook", {"url": http_server.url("/hook", host="localhost")})
    await wait_status(qm, job_id, "failed")
    job = await qm.get_job(job_id)
    assert job is not None and job.attempts == 1  # not retried: it can never succeed
    assert http_server.hits("/hook") == []


async def test_an_image_job_writes_the_processed_file(
    qm: QueueManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in" / "photo.png"
    source.parent.mkdir()
    Image.new("RGB", (400, 200), (255, 0, 0)).save(source)
    monkeypatch.setenv("IMAGE_INPUT_DIRS", str(source.parent))
    monkeypatch.setenv("IMAGE_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("IMAGE_TEMP_DIR", str(tmp_path / "tmp"))
    await qm.start()
    job_id = await qm.add_job(
        "image",
        {
            "imagePath": str(source),
            "format": "webp",
            "operations": [
                {"type": "resize", "params": {"width": 100}},
                {"type": "grayscale", "params": {}},
            ],
        },
    )
    await wait_status(qm, job_id, "completed")
    job = await qm.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert isinstance(job.result, dict)
    written = next((tmp_path / "out").iterdir())
    with Image.open(written) as out:
        assert out.format == "WEBP" and out.size == (100, 50)
        r, g, b = out.convert("RGB").getpixel((50, 25))  # type: ignore[misc]
        assert r == g == b and 60 < r < 90  # pure red in grayscale (L = 0.299 * 255)


async def test_a_custom_handler_declares_its_payload_model_the_same_way(
    qm: QueueManager,
) -> None:
    from pydantic import BaseModel

    from noormme_queue import Job, payload_schemas

    class ResizeRequest(BaseModel):
        path: str
        width: int

    class Resizer:
        payload_model = ResizeRequest

        def process(self, job: Job) -> int:
            return int(job.payload["width"])

    qm.register_handler("resize", Resizer())
    with pytest.raises(InvalidPayload) as caught:
        await qm.add_job("resize", {"path": "a.png", "width": "wide"})
    assert caught.value.field == "payload.width"
    job_id = await qm.add_job("resize", ResizeRequest(path="a.png", width=120))
    job = await qm.get_job(job_id)
    assert job is not None and job.payload == {"path": "a.png", "width": 120}
    schemas = payload_schemas({t: h.source for t, h in qm.handlers.items()})
    assert schemas["resize"]["required"] == ["path", "width"]
    assert {"email", "newsletter", "image", "thumbnail", "webhook"} <= set(schemas)
