"""Every failure as the API's envelope: ``{"success": false, "error", "message", "field"}``.

The router converts errors itself (in its route class) rather than through app
exception handlers, so the envelope holds in whatever app it is mounted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..core.errors import (
    InvalidJob,
    InvalidPayload,
    InvalidSchedule,
    InvalidStatus,
    JobNotFound,
    QueueError,
    StoreError,
)
from ..core.options import option_names

log = logging.getLogger("noormme_queue.api")


class ApiError(Exception):
    """An answer other than success, raised inside a route."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.headers = headers

    def response(self) -> JSONResponse:
        return envelope(self.status, self.error, self.message, self.field, self.headers)


def envelope(
    status: int,
    error: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"success": False, "error": error, "message": message, "field": field}
    return JSONResponse(
        body, status_code=status, headers=None if headers is None else dict(headers)
    )


def validation_error(errors: Sequence[Any]) -> ApiError:
    """FastAPI's request validation errors, naming the first bad field (``options.priority``)."""
    if not errors:
        return ApiError(422, "invalid_input", "the request is invalid")
    field = _field_of(errors[0]) or None
    parts = [f"{_field_of(e) or 'body'}: {e.get('msg', 'invalid')}" for e in errors[:3]]
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return ApiError(422, "invalid_input", "; ".join(parts), field)


def _field_of(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid" or loc == ["body"]:
        return "body"  # its loc holds a character offset, not a field
    return ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)


def request_field(field: str | None, spell: Callable[[str], str] | None = None) -> str | None:
    """Where in the request body the thing an :class:`InvalidJob` names (its ``field``) is.

    A job option (``"priority"``) is ``options.<name>``, spelled as the request spelled it
    when ``spell`` knows (``options.maxAttempts``); ``type`` and ``payload...`` are already
    the request's names.
    """
    if field is None:
        return None
    if field in option_names():
        return f"options.{spell(field) if spell is not None else field}"
    return field


def from_exception(exc: Exception, spell: Callable[[str], str] | None = None) -> ApiError:
    """Translate anything a route may raise into the answer it deserves; ``spell`` names a
    job option as the request spelled it (see :func:`request_field`)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_error(exc.errors())
    if isinstance(exc, InvalidPayload):
        return ApiError(422, "invalid_payload", str(exc), exc.field or "payload")
    if isinstance(exc, InvalidStatus):
        return ApiError(422, "invalid_input", str(exc), "status")
    if isinstance(exc, InvalidSchedule):  # its field names the request's (cron, every, ...)
        return ApiError(422, "invalid_input", str(exc), exc.field)
    if isinstance(exc, InvalidJob):
        return ApiError(422, "invalid_input", str(exc), request_field(exc.field, spell))
    if isinstance(exc, JobNotFound):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        return ApiError(503, "store_unavailable", str(exc))
    if isinstance(exc, QueueError):
        return ApiError(400, "queue_error", str(exc))
    if isinstance(exc, HTTPException) and exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode (not UTF-8, say): bad input like the rest
        return ApiError(
            422, "invalid_input", f"the request body is unreadable: {exc.detail}", "body"
        )
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return ApiError(
            405, "method_not_allowed", f"method not allowed here; use {allow}", headers=exc.headers
        )
    if isinstance(exc, HTTPException) and exc.status_code == 413:
        return ApiError(413, "too_large", str(exc.detail), "body", headers=exc.headers)
    if isinstance(exc, HTTPException):
        return ApiError(
            exc.status_code, _http_code(exc.status_code), str(exc.detail), headers=exc.headers
        )
    log.exception("unexpected error in the queue API")
    return ApiError(500, "internal_error", "unexpected error; see the server log")


def _http_code(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        422: "invalid_input",
    }.get(status, "http_error")
