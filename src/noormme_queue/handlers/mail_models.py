"""Payload models of the ``email`` and ``newsletter`` job types."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from email.utils import getaddresses
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, field_validator

from .payload import Base64Content, PayloadModel

# Set by the handler from the message itself; a custom header must not contradict them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "reply-to",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)


# Every character str.splitlines() breaks on, and so some mail software too.
LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
# RFC 5322 field-name: printable ASCII except ':' (so no space, TAB, NUL or non-ASCII).
_HEADER_NAME = re.compile(r"[!-9;-~]+")


def _no_line_breaks(value: str) -> str:
    """A header value: no line break of any kind, no control character but TAB."""
    for char in value:
        if char in LINE_BREAKS:
            raise ValueError(f"must not contain line breaks (found U+{ord(char):04X})")
        if char != "\t" and unicodedata.category(char) == "Cc":
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


def header_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a custom header, or ``None`` when it can."""
    if name.lower() in RESERVED_HEADERS:
        return f"set {name!r} through its own field, not headers"
    if not _HEADER_NAME.fullmatch(name):
        return (
            f"header name {name!r} is not valid: printable ASCII only, without spaces, "
            "tabs or ':' (RFC 5322)"
        )
    return None


def _address(value: str) -> str:
    _no_line_breaks(value)
    parsed = getaddresses([value])
    if len(parsed) != 1 or "@" not in parsed[0][1] or parsed[0][1].startswith("@"):
        raise ValueError(f"not an email address: {value!r}")
    return value.strip()


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Address = Annotated[str, AfterValidator(_address)]
AddressList = Annotated[list[Address], BeforeValidator(_as_list)]
HeaderText = Annotated[str, AfterValidator(_no_line_breaks)]


class Attachment(PayloadModel):
    """A file attached to a message: ``content`` is bytes in Python, base64 text in JSON."""

    filename: HeaderText = Field(min_length=1)
    content: Base64Content
    content_type: str | None = Field(
        default=None, pattern=r"^[\w.+-]+/[\w.+-]+$", description="guessed from filename if unset"
    )

    def mime_type(self) -> tuple[str, str]:
        guessed = self.content_type or mimetypes.guess_type(self.filename)[0]
        maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
        return maintype, subtype


class MessageContent(PayloadModel):
    """What every message has, whoever it goes to."""

    subject: HeaderText = ""
    html: str | None = None
    text: str | None = None
    from_: Address | None = Field(
        default=None,
        validation_alias=AliasChoices("from", "from_"),
        serialization_alias="from",
        description="sender; EMAIL_FROM when unset",
    )
    reply_to: AddressList = Field(default_factory=list)
    headers: dict[str, HeaderText] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)

    @field_validator("headers")
    @classmethod
    def _custom_headers_only(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            problem = header_name_problem(name)
            if problem is not None:
                raise ValueError(problem)
        return headers


class EmailPayload(MessageContent):
    """One message to one or more recipients (``to`` may be a string or a list)."""

    to: AddressList = Field(min_length=1)
    cc: AddressList = Field(default_factory=list)
    bcc: AddressList = Field(default_factory=list)


class NewsletterPayload(MessageContent):
    """The same message sent to each recipient separately; a retry skips those already sent."""

    to: AddressList = Field(min_length=1)
