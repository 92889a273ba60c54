"""Payload models of the ``webhook`` job type and the ``api-calls`` in-memory queue."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from ..core.errors import InvalidJob
from ..core.job import JSON
from ..core.retry import RetryPolicy
from .payload import PayloadModel
from .signing import signing_key
from .urls import normalise_http_url

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"(?:[!-~]+(?:[ \t]+[!-~]+)*)?")


def _header_value(value: str) -> str:
    # What HTTP/1.1 clients send as is: visible ASCII, inner spaces and tabs. Anything else
    # (a line break, NUL, non-ASCII, surrounding space) fails when the request is made.
    if not _FIELD_VALUE.fullmatch(value):
        raise ValueError(
            "must be printable ASCII, with spaces or tabs only between words "
            "(no line breaks, control characters or non-ASCII; percent-encode those)"
        )
    return value


def _header_names(headers: dict[str, str]) -> dict[str, str]:
    for name in headers:
        if not _TOKEN.fullmatch(name):
            raise ValueError(
                f"header name {name!r} is not valid: letters, digits and !#$%&'*+-.^_`|~ only"
            )
    return headers


HttpUrl = Annotated[
    str,
    AfterValidator(normalise_http_url),
    Field(description="absolute http(s) URL; checked and normalised at enqueue"),
]
HeaderValue = Annotated[str, AfterValidator(_header_value)]
HttpHeaders = Annotated[dict[str, HeaderValue], AfterValidator(_header_names)]
Timeout = Annotated[float, Field(gt=0, le=MAX_TIMEOUT, description="seconds")]


class WebhookPayload(PayloadModel):
    """One HTTP delivery; the job's retry machinery (not the handler) retries it."""

    url: HttpUrl
    method: HttpMethod = "POST"
    headers: HttpHeaders = Field(default_factory=dict)
    body: JSON = Field(default=None, description="a string is sent as text, anything else as JSON")
    timeout: Timeout = DEFAULT_TIMEOUT
    retry_policy: dict[str, int | float] | None = Field(
        default=None,
        description="snake_case seconds or the specification's camelCase milliseconds",
    )
    secret: str | None = Field(
        default=None,
        repr=False,
        description="signs the delivery with Standard Webhooks headers",
    )

    _normalise_method = field_validator("method", mode="before")(_upper)

    @field_validator("retry_policy")
    @classmethod
    def _valid_policy(cls, value: dict[str, int | float] | None) -> dict[str, int | float] | None:
        if value is None:
            return None
        try:
            return RetryPolicy.from_dict(value).to_dict()
        except InvalidJob as exc:
            raise ValueError(str(exc)) from None

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, value: str | None) -> str | None:
        if value is not None:
            if not value:
                raise ValueError("must not be empty")
            signing_key(value)
        return value

    def policy(self) -> RetryPolicy | None:
        return None if self.retry_policy is None else RetryPolicy.from_dict(self.retry_policy)


class ApiCallOptions(PayloadModel):
    """Like ``fetch``'s options: method, headers and body."""

    method: HttpMethod = "GET"
    headers: HttpHeaders = Field(default_factory=dict)
    body: JSON = None
    timeout: Timeout = DEFAULT_TIMEOUT

    _normalise_method = field_validator("method", mode="before")(_upper)


class ApiCallPayload(PayloadModel):
    """An HTTP request made by the rate-limited ``api-calls`` queue."""

    url: HttpUrl
    options: ApiCallOptions = Field(default_factory=ApiCallOptions)
