"""Metrics and tracing are optional: ``import noormme_queue`` loads neither library, and
without OpenTelemetry's API jobs run with no tracing work at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_importing_the_package_loads_neither_prometheus_nor_opentelemetry() -> None:
    code = (
        "import sys, noormme_queue, noormme_queue.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('prometheus_client', 'opentelemetry')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


NO_OTEL = """
import asyncio, sys
sys.modules["opentelemetry"] = None  # as if the extra were not installed

from noormme_queue import QueueConfig, QueueManager
from noormme_queue import tracing

async def main() -> None:
    qm = QueueManager(QueueConfig(database_url=sys.argv[1], interval=30.0, cleanup_interval=0))
    done = asyncio.Event()
    qm.register_handler("ping", lambda job: done.set())
    await qm.start()
    job_id = await qm.add_job("ping", {"n": 1})
    await asyncio.wait_for(done.wait(), 30)
    while (await qm.get_job(job_id)).status != "completed":
        await asyncio.sleep(0.01)
    job = await qm.get_job(job_id)
    await qm.stop(timeout=5)
    loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry."))
    print(tracing.AVAILABLE, qm._tracing, list(qm.observers), job.traceparent, loaded)

asyncio.run(main())
"""


def test_without_opentelemetry_jobs_run_and_nothing_imports_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    out = subprocess.run(
        [sys.executable, "-c", NO_OTEL, url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False None [] None []"


NO_SDK = """
import asyncio, sys
from opentelemetry import context, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from noormme_queue import QueueConfig, QueueManager

UPSTREAM = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

async def main() -> None:
    qm = QueueManager(QueueConfig(database_url=sys.argv[1], interval=30.0, cleanup_interval=0))
    qm.register_handler("ping", lambda job: None)
    await qm.start()
    # a request that came with a trace context, in a process with no SDK provider
    token = context.attach(TraceContextTextMapPropagator().extract({"traceparent": UPSTREAM}))
    job_id = await qm.add_job("ping", {"n": 1})
    context.detach(token)
    while (job := await qm.get_job(job_id)).status != "completed":
        await asyncio.sleep(0.01)
    await qm.stop(timeout=5)
    print(qm._tracing is not None, qm._tracing.recording, job.traceparent)

asyncio.run(main())
"""


def test_with_the_api_but_no_sdk_provider_nothing_is_traced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    out = subprocess.run(
        [sys.executable, "-c", NO_SDK, url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True False None"
