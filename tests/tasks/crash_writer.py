"""Run by the crash tests: a business write and a job in one transaction, then wait to be
killed before committing (``commit`` as the last argument: commit, then exit).

python -m tests.tasks.crash_writer sqlite|postgres <url> [commit]
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any
from urllib.parse import urlparse

import psycopg

from noormme_queue import QueueConfig, QueueManager


def main() -> None:
    kind, url = sys.argv[1], sys.argv[2]
    commit = sys.argv[3:] == ["commit"]
    qm = QueueManager(QueueConfig(database_url=url, cleanup_interval=0), builtins=False)
    conn: Any
    if kind == "sqlite":
        conn = sqlite3.connect(urlparse(url).path)
    else:
        conn = psycopg.connect(url)
    conn.execute("INSERT INTO orders (ref) VALUES ('A-1')")
    job_id = qm.sync.add_job("ship", {"order": "A-1"}, connection=conn)
    if commit:
        conn.commit()
    print(job_id, flush=True)
    if not commit:
        sys.stdin.read()  # killed here, the transaction still open
    qm.sync.close()


if __name__ == "__main__":
    main()
