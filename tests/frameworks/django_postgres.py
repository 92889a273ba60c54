"""Run by test_django_transactions: Django configured on PostgreSQL (a test schema), the queue
in that database (OPTIONS DATABASE), a task enqueued in ``transaction.atomic()``; prints
what the queue saw after a rollback and after a commit, as JSON.

python -m tests.frameworks.django_postgres DJANGO_OPTIONS_SEARCH_PATH_SCHEMA [crash]

With ``crash``: write an order and its task in one ``transaction.atomic()``, print the job's
id and wait to be SIGKILLed inside the open transaction.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django
    from django.conf import settings
    from django.core.management import call_command

    from tests.pg import PG_URL

    schema = sys.argv[1]
    user, _, rest = PG_URL.removeprefix("postgresql://").partition("@")
    hostport, _, name = rest.partition("/")
    host, _, port = hostport.partition(":")
    settings.configure(
        USE_TZ=True,
        INSTALLED_APPS=["noormme_queue.contrib.django"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": name,
                "USER": user,
                "HOST": host,
                "PORT": port or "5432",
                "OPTIONS": {"options": f"-c search_path={schema}"},
            }
        },
        TASKS={
            "default": {
                "BACKEND": "noormme_queue.contrib.django.NoormmeTaskBackend",
                "QUEUES": ["default", "queue-1"],  # the queues taskapp's tasks use
                "OPTIONS": {"DATABASE": "default"},
            }
        },
    )
    django.setup()
    call_command("migrate", verbosity=0)  # the queue's tables, in the schema
    from django.db import connection, transaction

    from noormme_queue.contrib.django.compat import task_backends
    from tests.frameworks.taskapp.tasks import calculate_meaning_of_life

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE orders (ref text)")
    if sys.argv[2:] == ["crash"]:
        with transaction.atomic():
            connection.cursor().execute("INSERT INTO orders VALUES ('killed')")
            print(calculate_meaning_of_life.enqueue().id, flush=True)
            sys.stdin.read()  # SIGKILLed here: the transaction never commits
    manager = task_backends["default"].manager
    queue = manager.sync
    seen: dict[str, object] = {"queue": manager.store.description}
    try:
        with transaction.atomic():
            connection.cursor().execute("INSERT INTO orders VALUES ('x')")
            dropped = calculate_meaning_of_life.enqueue()
            seen["inside"] = queue.get_job(dropped.id) is not None
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    seen["rolled_back"] = queue.get_job(dropped.id) is not None
    with transaction.atomic():
        connection.cursor().execute("INSERT INTO orders VALUES ('y')")
        kept = calculate_meaning_of_life.enqueue()
    job = queue.get_job(kept.id)
    seen["committed"] = job is not None and job.type.endswith("calculate_meaning_of_life")
    with connection.cursor() as cursor:
        cursor.execute("SELECT ref FROM orders")
        seen["orders"] = [row[0] for row in cursor.fetchall()]
    queue.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
