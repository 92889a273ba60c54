"""LISTEN/NOTIFY: a worker in another process wakes as soon as work is committed.

The only connection bound to an event loop: ``listen`` opens an ``AsyncConnection`` on the
caller's loop, so its callback runs there, as the protocol asks. A lost connection is opened
again with backoff, and the worker then looks for work it may have missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.sql import Identifier

from ...core.errors import StoreError
from . import sql
from .connect import Server

log = logging.getLogger("noormme_queue.store")

LISTEN_RETRY_MAX = 30.0  # seconds between attempts to re-open a lost listener connection


class Listening:
    def __init__(
        self,
        server: Server,
        channel: str,
        sender: str,
        translate: Callable[[BaseException], StoreError],
    ) -> None:
        self._server = server
        self._channel = channel
        self._sender = sender  # our own notifications don't wake us
        self._translate = translate

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._server.url, **self._server.listen_kwargs()
            )
            await conn.execute(sql.LISTEN.format(Identifier(self._channel)))
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        return conn

    async def loop(self, conn: psycopg.AsyncConnection[Any], on_wakeup: Callable[[], None]) -> None:
        try:
            while True:
                try:
                    async for note in conn.notifies():
                        if note.payload != self._sender:
                            on_wakeup()
                except psycopg.Error as exc:
                    log.warning("lost the LISTEN connection to %s: %s", self._server.where, exc)
                await conn.close()
                conn = await self._reconnect()
                on_wakeup()  # notifications may have been missed meanwhile: look for work
        finally:
            await conn.close()

    async def _reconnect(self) -> psycopg.AsyncConnection[Any]:
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                return await self.connect()
            except StoreError as exc:
                log.warning("re-opening the LISTEN connection failed (%s); retrying", exc)
                delay = min(delay * 2, LISTEN_RETRY_MAX)
