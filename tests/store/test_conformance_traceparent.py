"""Every backend keeps a job's ``traceparent`` (the span that enqueued it, with the extra
``otel``): written by ``enqueue``, read back by ``get``, ``claim`` and the rescuer's
``expired_leases``; a job enqueued without one has none."""

from __future__ import annotations

import dataclasses

from noormme_queue.store import JobStore

from .conftest import T0, new_job

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_the_traceparent_is_kept_with_the_job(store: JobStore) -> None:
    traced = dataclasses.replace(new_job(), traceparent=PARENT)
    plain = new_job(run_at=T0 + 1)
    assert await store.enqueue([traced, plain]) == [traced.id, plain.id]
    got = await store.get(traced.id)
    assert got is not None and got.traceparent == PARENT
    none = await store.get(plain.id)
    assert none is not None and none.traceparent is None
    claim = await store.claim(["t"], 10, now=T0, lease_until=T0 + 5, worker_id="w1")
    assert [(j.id, j.traceparent) for j in claim.jobs] == [(traced.id, PARENT)]
    (expired,) = await store.expired_leases(now=T0 + 10, limit=10)
    assert expired.job.traceparent == PARENT
