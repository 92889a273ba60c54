"""Bearer-token auth: ``Authorization: Bearer <QUEUE_API_TOKEN>``, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ApiError

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="QueueApiToken",
    description="the value of QUEUE_API_TOKEN",
)


def token_guard(token: str) -> Callable[..., Awaitable[None]]:
    """A dependency refusing requests without the token (401, ``WWW-Authenticate: Bearer``)."""
    expected = token.encode()

    async def require_token(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> None:
        given = b"" if credentials is None else credentials.credentials.encode()
        if credentials is None or not hmac.compare_digest(given, expected):
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong API token: send 'Authorization: Bearer <QUEUE_API_TOKEN>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_token
