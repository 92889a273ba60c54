"""Opening the database file: where the URL points, whether the file can be opened there,
the store's three connections and their pragmas, the migration, and errors naming the file.

Opening follows the wait rules of every write (locks.py): a lock held elsewhere, even for
longer than SQLite's busy timeout, delays the first call instead of failing it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ...core.errors import ConfigError, SchemaTooNew, StoreCorrupt, StoreError, StoreUnavailable
from . import locks
from . import schema as ddl


def sqlite_path_from_url(url: str) -> Path:
    """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` -> a path."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/queue.db)")
    raw = url.removeprefix("sqlite:///").split("?", 1)[0]
    if raw in ("", ":memory:"):
        raise ConfigError(
            "QUEUE_DATABASE_URL needs a file: an in-memory SQLite database cannot be shared "
            "by the writer and reader connections (use a temporary file instead)"
        )
    return Path(raw)


def prepare_file(path: Path) -> None:
    """Create the directory, or say why the file cannot be created or opened there."""
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot create the database directory {directory}: {exc.strerror or exc}"
        ) from exc
    if os.access(directory, os.W_OK):
        return
    why = _unwritable_reason(directory)
    if not path.exists():
        raise StoreUnavailable(
            f"cannot create {path}: the directory {directory} is not writable ({why})"
        )
    # In WAL mode SQLite keeps <db>-wal and <db>-shm beside the database and must create
    # them on open; without this check an existing database in a read-only directory
    # failed with a bare "unable to open database file" that did not say why.
    if not (_sidecar(path, "-wal").exists() and _sidecar(path, "-shm").exists()):
        raise StoreUnavailable(
            f"cannot open {path}: the directory {directory} is not writable ({why}), "
            f"and SQLite's WAL mode must create {path.name}-wal and {path.name}-shm there"
        )


def translate(path: Path, exc: BaseException) -> StoreError:
    """Turn a sqlite3 error into a QueueError that names the file and the cause."""
    if isinstance(exc, StoreError):
        return exc
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    where = str(path)
    if name in ("SQLITE_NOTADB",) or "file is not a database" in text:
        error: StoreError = StoreCorrupt(
            f"{where} is not a SQLite database (refusing to overwrite it): {text}"
        )
    elif name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        error = StoreCorrupt(f"{where} is damaged: {text}; restore it from a backup")
    elif name.startswith("SQLITE_FULL") or "disk is full" in text:
        error = StoreUnavailable(f"{where}: the disk is full ({text}); free space and retry")
    elif name.startswith("SQLITE_BUSY") or "locked" in text:
        error = StoreUnavailable(
            f"{where} stayed locked by another connection ({text}); is a long transaction "
            "open elsewhere?"
        )
    elif name.startswith("SQLITE_READONLY") or "readonly" in text:
        error = StoreUnavailable(f"{where} is read-only ({text}); check file permissions")
    elif name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        error = StoreUnavailable(f"cannot open {where} ({text}); check the path and permissions")
    elif name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        error = StoreUnavailable(f"{where}: I/O error ({text}); is the disk full or failing?")
    else:
        error = StoreError(f"{where}: {type(exc).__name__}: {text}")
    error.__cause__ = exc
    return error


# The WAL: SQLite checkpoints the writer thread's commits every 1000 pages (its default
# wal_autocheckpoint), and the writer thread checkpoints the loop's commits every
# writer.CHECKPOINT_EVERY of them (the loop's connection never does: a checkpoint copies
# pages to the database file and must not hold the loop). Once a checkpoint has copied
# everything, the next commit starts the WAL over from its beginning, so it stays at the
# size of the writes between checkpoints; a burst that grew it (one huge transaction, a
# long reader holding checkpoints back) is cut back to JOURNAL_SIZE_LIMIT when it restarts.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


def writer_connection(path: Path, synchronous: str) -> sqlite3.Connection:
    """The writer thread's connection; opening it migrates the schema."""
    conn = _connect(path)
    try:
        mode = locks.wait_for_lock(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        if str(mode).lower() != "wal":
            raise StoreUnavailable(
                f"{path}: could not switch to WAL mode (got {mode!r}); is the file on a "
                "network filesystem?"
            )
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise translate(path, exc) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def loop_side_connection(path: Path) -> sqlite3.Connection:
    """The event loop's connection: it never waits for a lock, nor checkpoints."""
    conn = _connect(path)
    conn.execute("PRAGMA busy_timeout = 0")  # never wait for another process's lock
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # the writer thread checkpoints
    conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    return conn


def reader_connection(path: Path) -> sqlite3.Connection:
    conn = _connect(path)
    conn.execute("PRAGMA query_only = 1")
    return conn


def _connect(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(
            path, timeout=locks.BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise translate(path, exc) from exc


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    locks.wait_for_lock(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        conn.execute(ddl.META_DDL)
        row = conn.execute(ddl.READ_VERSION).fetchone()
        version = int(row[0]) if row else 0
        if version > ddl.SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{path} has queue schema version {version}, but this noormme-queue "
                f"knows only up to {ddl.SCHEMA_VERSION}: upgrade noormme-queue"
            )
        if version == 0 and conn.execute(ddl.JOBS_TABLE_EXISTS).fetchone():
            raise StoreCorrupt(
                f"{path} has a noormme_jobs table but no schema version: refusing to "
                "touch a table this library did not create"
            )
        for number in range(version, ddl.SCHEMA_VERSION):
            for statement in ddl.split_script(ddl.MIGRATIONS[number]):
                conn.execute(statement)
        if version != ddl.SCHEMA_VERSION:
            conn.execute(ddl.WRITE_VERSION, (str(ddl.SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _unwritable_reason(directory: Path) -> str:
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"
