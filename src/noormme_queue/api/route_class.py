"""The API's route classes: a request is judged by its head before a byte of its body is read.

:class:`HeadRoute` answers ``HEAD`` wherever ``GET`` works (the GET answer without its body)
and a 405 names, in ``Allow``, every method the path has across its routes.

:class:`EnvelopeRoute` (every ``/api/queue`` endpoint) adds, in this order: the token, checked
from the ``Authorization`` header by the route's :class:`~.auth.TokenGuard` before the body
is read, so an unauthenticated request costs nothing however large its body; then the body
cap, a 413 at once when ``Content-Length`` announces more than ``max_body`` and as soon as a
streamed body passes it; and every failure as the envelope, whatever app the router is in.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from .auth import TokenGuard
from .errors import from_exception

BODY_MARGIN = 64 * 1024
"""Bytes a request may carry beyond ``QUEUE_MAX_PAYLOAD_BYTES``: its type and options."""


class BodyTooLarge(HTTPException):
    """Raised while reading a body past the cap (an HTTPException, so FastAPI passes it on)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is over the {limit}-byte limit (QUEUE_MAX_PAYLOAD_BYTES plus "
            f"{BODY_MARGIN} bytes for the rest of the request); store large data elsewhere "
            "and enqueue a reference",
        )


class HeadRoute(APIRoute):
    """HEAD wherever GET works; 405 with the ``Allow`` of every route on the same path."""

    methods_by_path: ClassVar[dict[str, set[str]]] = {}

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # One router's routes share a class made for it (head_route_class, envelope_route_class)
        self.methods_by_path.setdefault(self.path_format, set()).update(self.own_methods)

    @property
    def own_methods(self) -> set[str]:
        return self.methods or set()

    @property
    def allow(self) -> str:
        methods = set(self.methods_by_path.get(self.path_format, self.own_methods))
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.PARTIAL and scope.get("method") == "HEAD" and "GET" in self.own_methods:
            match = Match.FULL
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - the API has no websockets
            await super().handle(scope, receive, send)
            return
        if scope["method"] == "HEAD" and "GET" in self.own_methods:
            # A copy: the server's own scope must still say HEAD (it sends no body for it).
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        elif scope["method"] not in self.own_methods:
            error = HTTPException(405, headers={"Allow": self.allow})
            await self.refuse(error, scope, receive, send)
            return
        try:
            receive = self.admit(scope, receive)
        except Exception as exc:  # a refusal from the head alone
            await self.refuse(exc, scope, receive, send)
            return
        await super().handle(scope, receive, send)

    def admit(self, scope: Scope, receive: Receive) -> Receive:
        """Judge the request by its head (raise to refuse it); the receive to read it with."""
        return receive

    async def refuse(self, error: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        raise error  # the app's exception handlers answer, as for Starlette's own 405


class EnvelopeRoute(HeadRoute):
    """The ``/api/queue`` routes: token and body cap before the body, answers as envelopes."""

    max_body: ClassVar[int | None] = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure becomes an envelope, none escapes
                return from_exception(exc).response()

        return answer

    def admit(self, scope: Scope, receive: Receive) -> Receive:
        headers = Headers(scope=scope)
        for dependency in self.dependencies:
            if isinstance(dependency.dependency, TokenGuard):
                dependency.dependency.check(headers.get("authorization"))
        limit = self.max_body
        if limit is None:
            return receive
        announced = headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            raise BodyTooLarge(limit)
        return _capped(receive, limit)

    async def refuse(self, error: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        await from_exception(error).response()(scope, receive, send)


def head_route_class() -> type[HeadRoute]:
    """A fresh :class:`HeadRoute` for one router (its ``Allow`` lists are that router's)."""

    class Head(HeadRoute):
        methods_by_path: ClassVar[dict[str, set[str]]] = {}

    return Head


def envelope_route_class(max_body: int | None) -> type[EnvelopeRoute]:
    """A fresh :class:`EnvelopeRoute` for one router, capping bodies at ``max_body`` bytes."""

    class Envelope(EnvelopeRoute):
        methods_by_path: ClassVar[dict[str, set[str]]] = {}

    Envelope.max_body = max_body
    return Envelope


def _capped(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_capped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_capped


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_head
