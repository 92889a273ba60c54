"""From Django's settings to a queue: a ``DATABASES`` entry as a queue URL, and the
``QUEUE_MANAGER`` option loaded like ``--app``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from ...core.errors import ConfigError
from ...manager import QueueManager


def database_url(alias: str) -> str:
    """The queue URL of Django's database ``alias`` (SQLite or PostgreSQL)."""
    from django.conf import settings

    entry = settings.DATABASES.get(alias)
    if entry is None:
        raise ConfigError(f"TASKS OPTIONS DATABASE={alias!r} is not in settings.DATABASES")
    engine = str(entry.get("ENGINE", ""))
    name = str(entry.get("NAME") or "")
    if engine.endswith("sqlite3"):
        if not name or name == ":memory:" or name.startswith("file:"):
            raise ConfigError(
                f"DATABASES[{alias!r}] is an in-memory SQLite database: the queue needs a file"
            )
        return f"sqlite:///{Path(name).resolve()}"
    if engine.endswith("postgresql"):
        user = quote(str(entry.get("USER") or ""), safe="")
        password = quote(str(entry.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = str(entry.get("HOST") or "localhost")
        port = str(entry.get("PORT") or "5432")
        url = f"postgresql://{auth}{host}:{port}/{quote(name, safe='')}"
        options = entry.get("OPTIONS", {}).get("options")
        return f"{url}?options={quote(str(options), safe='')}" if options else url
    raise ConfigError(
        f"DATABASES[{alias!r}] uses {engine!r}; the queue can share a SQLite or PostgreSQL "
        "database only"
    )


def load_manager(spec: str) -> QueueManager:
    from ...apploader import load_manager as load

    return load(spec)
