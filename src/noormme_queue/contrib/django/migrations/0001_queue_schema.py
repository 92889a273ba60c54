"""``manage.py migrate`` creates (and later upgrades) the queue's tables in each Django
database a TASKS backend keeps its jobs in (``OPTIONS["DATABASE"]``), so that no request
has to do it inside a transaction of its own (on SQLite that would wait on itself). The
queue migrates its own schema (``store/``); this only opens the store once."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from django.db import migrations


def open_queue_store(apps: Any, schema_editor: Any) -> None:
    from noormme_queue.contrib.django.compat import task_backends
    from noormme_queue.contrib.django.settings import database_url
    from noormme_queue.core.config import QueueConfig
    from noormme_queue.store import store_from_config

    alias = schema_editor.connection.alias
    wanted = {
        getattr(backend, "database", None) for backend in task_backends.all()
    }  # the aliases of NoormmeTaskBackends that share a database
    if alias not in wanted:
        return

    async def open_and_close() -> None:
        store = store_from_config(QueueConfig(database_url=database_url(alias)))
        await store.open()  # creates or upgrades the noormme_* tables
        await store.close()

    asyncio.run(open_and_close())


class Migration(migrations.Migration):
    atomic = False  # the queue opens its own connection, which must not wait for Django's
    initial = True
    dependencies: ClassVar[list[tuple[str, str]]] = []
    operations: ClassVar[list[Any]] = [
        migrations.RunPython(open_queue_store, migrations.RunPython.noop, elidable=True)
    ]
