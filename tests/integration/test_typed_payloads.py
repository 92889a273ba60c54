"""The payload models are the typed helper: a type checker catches a wrong built-in payload."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api as mypy_api

SNIPPET = textwrap.dedent("""
    from noormme_queue import EmailPayload, QueueManager, WebhookPayload

    async def enqueue(qm: QueueManager) -> None:
        await qm.add_job("email", EmailPayload(to=["a@b.c"], subject="Hi", html="<p>x</p>"))
        await qm.add_job("email", EmailPayload(too=["a@b.c"], subject="Hi"))
        await qm.add_job("webhook", WebhookPayload(url="https://example.com/hook", method=5))
        qm.sync.add_job("email", {"to": "a@b.c"}, priorty=1)
""")


def test_mypy_reports_each_wrong_payload_and_option(tmp_path: Path) -> None:
    module = tmp_path / "user_code.py"
    module.write_text(SNIPPET)
    out, _, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(module)]
    )
    assert status == 1
    errors = [line for line in out.splitlines() if ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert lines == [6, 7, 8], out  # the good call on line 5 passes
    assert 'Unexpected keyword argument "too"' in out
    assert "priorty" in out
