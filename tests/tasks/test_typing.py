"""Tasks are typed with ParamSpec: mypy flags a wrong argument to ``enqueue`` (every form)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api as mypy_api

SNIPPET = textwrap.dedent("""
    from noormme_queue import QueueManager, task

    qm = QueueManager()

    @qm.task
    async def send_welcome(user_id: int, *, lang: str = "en") -> str:
        return f"hi {user_id}"

    @task(name="refund", priority=1)
    def refund(order: str) -> None: ...

    async def main() -> None:
        ok: str = await send_welcome.enqueue(42, lang="fr")
        await send_welcome.enqueue("42")
        await send_welcome.enqueue(42, langue="fr")
        send_welcome.sync.enqueue()
        await send_welcome.using(priority=9).enqueue(42, "fr")
        send_welcome.using(prority=9)
        refund.sync.enqueue(order=5)
        text: str = await send_welcome(1)
        refund("A1")
""")


def test_mypy_flags_wrong_arguments_to_enqueue(tmp_path: Path) -> None:
    module = tmp_path / "user_tasks.py"
    module.write_text(SNIPPET)
    out, _, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(module)]
    )
    assert status == 1, out
    errors = [line for line in out.splitlines() if ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert lines == [15, 16, 17, 18, 19, 20], out  # the good calls (14, 21, 22) pass
    assert 'Argument 1 to "enqueue" of "Task" has incompatible type "str"; expected "int"' in out
    assert 'Unexpected keyword argument "langue"' in out
    assert 'Missing positional argument "user_id"' in out
    assert "prority" in out
    assert 'Argument "order" to "enqueue" of "SyncTask" has incompatible type "int"' in out
