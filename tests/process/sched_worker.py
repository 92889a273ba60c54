"""A worker process that declares its schedule at start-up (as an app does on every boot),
then runs until SIGTERM. Started three times at once by test_schedules.py.

``TEST_GATE_DIR/ready-<pid>`` appears once it runs; the ``tick`` handler returns its pid.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from noormme_queue import QueueConfig, QueueManager
from noormme_queue.runner import run_until_signalled


async def main() -> None:
    qm = QueueManager(QueueConfig.from_env(), builtins=False)
    qm.register_handler("tick", lambda job: os.getpid())
    await qm.start()
    await qm.schedule("every-second", "tick", {"from": "boot"}, every=1)
    (Path(os.environ["TEST_GATE_DIR"]) / f"ready-{os.getpid()}").touch()
    await run_until_signalled(qm)


if __name__ == "__main__":
    asyncio.run(main())
