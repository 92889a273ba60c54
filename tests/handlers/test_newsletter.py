"""Newsletter delivery: one message per recipient, progress saved, retries skip the delivered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from noormme_queue.core.config import QueueConfig
from noormme_queue.core.progress import current_reporter
from noormme_queue.core.signals import UnrecoverableError
from noormme_queue.handlers import (
    EmailSettings,
    Mailer,
    NewsletterPayload,
    SmtpServer,
    build_builtin_handlers,
    mail,
)

from .conftest import RecordingReporter, make_job
from .conftest import SmtpServer as LocalSmtp

RECIPIENTS = [f"reader{i}@example.com" for i in range(5)]


def newsletter_handler(server: LocalSmtp) -> Any:
    settings = EmailSettings(transport="smtp", smtp=SmtpServer.from_url(server.url))
    return build_builtin_handlers(QueueConfig(), email=settings)["newsletter"]


def payload(to: list[str]) -> dict[str, Any]:
    return {"to": to, "subject": "Weekly Newsletter", "html": "<h1>This week's updates</h1>"}


async def test_each_recipient_gets_their_own_message(
    smtp_server: LocalSmtp, reporter: RecordingReporter
) -> None:
    current_reporter.set(reporter)
    result = await newsletter_handler(smtp_server).process(
        make_job("newsletter", payload(RECIPIENTS))
    )
    received = smtp_server.recorder.received
    assert [r.recipients for r in received] == [[a] for a in RECIPIENTS]
    assert [r.message()["To"] for r in received] == RECIPIENTS  # nobody sees the others
    assert result["sent"] == 5 and result["failed"] == 0 and result["total"] == 5
    # progress was saved after every message, counting up
    assert [p["sent"] for p in reporter.saved] == [1, 2, 3, 4, 5]
    assert [p["done"] for p in reporter.saved] == [1, 2, 3, 4, 5]
    assert reporter.saved[-1] == {"total": 5, "done": 5, "sent": 5, "failed": 0, "refused": {}}


async def test_each_save_is_the_same_small_size_however_long_the_list(
    tmp_path: Path, reporter: RecordingReporter
) -> None:
    current_reporter.set(reporter)
    settings = EmailSettings(transport="file", outbox_dir=tmp_path / "outbox")
    handler = build_builtin_handlers(QueueConfig(), email=settings)["newsletter"]
    readers = [f"reader{i:04d}@example.com" for i in range(300)]
    await handler.process(make_job("newsletter", payload(readers)))
    sizes = [len(json.dumps(p)) for p in reporter.saved]
    assert len(sizes) == 300
    # A cursor and counts: the 300th save is as small as the first (digits aside).
    assert max(sizes) < 100 and sizes[-1] - sizes[0] <= 6


async def test_retry_sends_only_to_recipients_not_yet_delivered(
    smtp_server: LocalSmtp, reporter: RecordingReporter
) -> None:
    current_reporter.set(reporter)
    handler = newsletter_handler(smtp_server)
    # The server defers the third recipient once: the first run stops there.
    smtp_server.recorder.refuse_once[RECIPIENTS[2]] = "451 mailbox busy"
    with pytest.raises(Exception, match="451") as caught:
        await handler.process(make_job("newsletter", payload(RECIPIENTS)))
    assert not isinstance(caught.value, UnrecoverableError)
    saved = reporter.saved[-1]
    assert saved == {"total": 5, "done": 2, "sent": 2, "failed": 0, "refused": {}}

    # The retry finds the saved progress on the job, as the worker hands it back.
    result = await handler.process(make_job("newsletter", payload(RECIPIENTS), progress=saved))

    delivered = [r.recipients[0] for r in smtp_server.recorder.received]
    assert delivered == RECIPIENTS  # each exactly once, across both runs
    assert result["sent"] == 5 and result["done"] == 5 and result["failed"] == 0


async def test_a_retry_starts_at_the_saved_cursor(smtp_server: LocalSmtp) -> None:
    saved = {"total": 5, "done": 3, "sent": 2, "failed": 1, "refused": {RECIPIENTS[1]: "550"}}
    result = await newsletter_handler(smtp_server).process(
        make_job("newsletter", payload(RECIPIENTS), progress=saved)
    )
    assert [r.recipients[0] for r in smtp_server.recorder.received] == RECIPIENTS[3:]
    assert (result["done"], result["sent"], result["failed"]) == (5, 4, 1)
    assert result["refused"] == {RECIPIENTS[1]: "550"}


async def test_progress_saved_as_address_lists_by_an_older_version_still_resumes(
    smtp_server: LocalSmtp,
) -> None:
    old = {
        "total": 5,
        "sent": 2,
        "failed": 1,
        "delivered": [RECIPIENTS[0], RECIPIENTS[2]],
        "refused": {RECIPIENTS[1]: "550 no such user"},
    }
    result = await newsletter_handler(smtp_server).process(
        make_job("newsletter", payload(RECIPIENTS), progress=old)
    )
    assert [r.recipients[0] for r in smtp_server.recorder.received] == RECIPIENTS[3:]
    assert (result["done"], result["sent"], result["failed"]) == (5, 4, 1)


async def test_only_the_first_refusals_keep_their_reasons(
    smtp_server: LocalSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail, "REFUSED_KEPT", 2)
    for address in RECIPIENTS[:4]:
        smtp_server.recorder.refuse[address] = "550 no such user"
    result = await newsletter_handler(smtp_server).process(
        make_job("newsletter", payload(RECIPIENTS))
    )
    assert (result["sent"], result["failed"]) == (1, 4)
    assert list(result["refused"]) == RECIPIENTS[:2]


async def test_permanently_refused_recipient_is_reported_and_the_rest_still_sent(
    smtp_server: LocalSmtp,
) -> None:
    smtp_server.recorder.refuse[RECIPIENTS[1]] = "550 no such user"
    result = await newsletter_handler(smtp_server).process(
        make_job("newsletter", payload(RECIPIENTS[:3]))
    )
    assert [r.recipients[0] for r in smtp_server.recorder.received] == [
        RECIPIENTS[0],
        RECIPIENTS[2],
    ]
    assert result["sent"] == 2 and result["failed"] == 1
    assert "550" in result["refused"][RECIPIENTS[1]]


async def test_all_refused_fails_for_good(smtp_server: LocalSmtp) -> None:
    for address in RECIPIENTS[:2]:
        smtp_server.recorder.refuse[address] = "550 no such user"
    with pytest.raises(UnrecoverableError):
        await newsletter_handler(smtp_server).process(
            make_job("newsletter", payload(RECIPIENTS[:2]))
        )


async def test_duplicate_addresses_are_sent_once(smtp_server: LocalSmtp) -> None:
    await newsletter_handler(smtp_server).process(
        make_job("newsletter", payload(["a@example.com", "A@Example.com", "Ann <a@example.com>"]))
    )
    assert len(smtp_server.recorder.received) == 1


async def test_rate_limit_paces_between_messages(smtp_server: LocalSmtp) -> None:
    waits: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    settings = EmailSettings(
        transport="smtp", smtp=SmtpServer.from_url(smtp_server.url), rate_limit=120
    )
    mailer = Mailer(settings, sleep=record_sleep)
    await mailer.send_newsletter(NewsletterPayload.model_validate(payload(RECIPIENTS[:3])))
    assert waits == [0.5, 0.5]  # 120 per minute: half a second between the three messages
    assert len(smtp_server.recorder.received) == 3
