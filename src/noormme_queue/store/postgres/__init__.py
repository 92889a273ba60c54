"""The PostgreSQL backend (psycopg 3): many workers on many machines, one database."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
