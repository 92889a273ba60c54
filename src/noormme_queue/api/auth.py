"""Bearer-token auth: ``Authorization: Bearer <QUEUE_API_TOKEN>``, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from .errors import ApiError

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="QueueApiToken",
    description="the value of QUEUE_API_TOKEN",
)


class TokenGuard:
    """Refuses requests without the token (401, ``WWW-Authenticate: Bearer``).

    As a route dependency it puts the scheme in the OpenAPI document and checks the token;
    the API's route class finds it among the route's dependencies and calls :meth:`check`
    on the headers first, before the body is read.
    """

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def check(self, authorization: str | None) -> None:
        scheme, given = get_authorization_scheme_param(authorization)
        if scheme.lower() != "bearer" or not given:
            given = ""
        if not given or not hmac.compare_digest(given.encode(), self._expected):
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong API token: send 'Authorization: Bearer <QUEUE_API_TOKEN>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def __call__(
        self,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> None:
        self.check(None if credentials is None else f"Bearer {credentials.credentials}")


def token_guard(token: str) -> TokenGuard:
    """The dependency guarding a route with ``token``."""
    return TokenGuard(token)
