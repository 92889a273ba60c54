"""Job ids: prefixed, unique across threads and processes, sorted by creation time."""

from __future__ import annotations

import multiprocessing
import re
from concurrent.futures import ThreadPoolExecutor

from noormme_queue.core.ids import new_job_id


def _ids(n: int) -> list[str]:
    return [new_job_id() for _ in range(n)]


def test_ids_are_prefixed_and_increasing() -> None:
    ids = _ids(10_000)
    assert all(re.fullmatch(r"job_[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_ids_are_unique_across_threads() -> None:
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(_ids, [2_000] * 8))
    every = [i for batch in batches for i in batch]
    assert len(set(every)) == len(every)


def test_ids_are_unique_across_forked_processes() -> None:
    new_job_id()  # the parent has drawn its random start
    with multiprocessing.get_context("fork").Pool(4) as pool:
        batches = pool.map(_ids, [2_000] * 4)
    every = [i for batch in batches for i in batch] + _ids(2_000)
    assert len(set(every)) == len(every)
