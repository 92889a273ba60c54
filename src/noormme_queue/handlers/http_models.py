"""Payload models of the ``webhook`` job type and the ``api-calls`` in-memory queue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from ..core.errors import InvalidJob
from ..core.job import JSON
from ..core.retry import RetryPolicy
from .payload import PayloadModel
from .signing import signing_key

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0


def _http_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _header_text(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain line breaks")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
HeaderText = Annotated[str, AfterValidator(_header_text)]
Timeout = Annotated[float, Field(gt=0, le=MAX_TIMEOUT, description="seconds")]


class WebhookPayload(PayloadModel):
    """One HTTP delivery; the job's retry machinery (not the handler) retries it."""

    url: HttpUrl
    method: HttpMethod = "POST"
    headers: dict[HeaderText, HeaderText] = Field(default_factory=dict)
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
    headers: dict[HeaderText, HeaderText] = Field(default_factory=dict)
    body: JSON = None
    timeout: Timeout = DEFAULT_TIMEOUT

    _normalise_method = field_validator("method", mode="before")(_upper)


class ApiCallPayload(PayloadModel):
    """An HTTP request made by the rate-limited ``api-calls`` queue."""

    url: HttpUrl
    options: ApiCallOptions = Field(default_factory=ApiCallOptions)
