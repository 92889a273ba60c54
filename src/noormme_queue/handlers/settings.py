"""Settings of the built-in handlers, read from ``EMAIL_*`` and ``IMAGE_*`` variables.

Like :class:`~noormme_queue.QueueConfig`, they are frozen and validated, and a
bad value raises :class:`~noormme_queue.core.errors.ConfigError` naming the
variable. Secrets (the SMTP password, the API key) are kept out of ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast
from urllib.parse import unquote, urlsplit

from ..core.config import parse_int
from ..core.errors import ConfigError

EmailTransportName = Literal["file", "smtp", "api"]
EMAIL_TRANSPORTS: tuple[EmailTransportName, ...] = ("file", "smtp", "api")

DEFAULT_EMAIL_FROM = "noreply@example.com"
DEFAULT_OUTBOX_DIR = "./data/outbox"
DEFAULT_IMAGE_OUTPUT_DIR = "./uploads/processed"
DEFAULT_IMAGE_TEMP_DIR = "./temp"
DEFAULT_IMAGE_MAX_PIXELS = 50_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpServer:
    """Where the ``smtp`` transport connects, parsed from ``EMAIL_SMTP_URL``."""

    host: str
    port: int
    use_tls: bool
    """``smtps://``: TLS from the first byte. ``smtp://`` upgrades with STARTTLS if offered."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, var: str = "EMAIL_SMTP_URL") -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigError(f"{var} must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ConfigError(f"{var} must name a host, e.g. smtp://user:pass@mail.example.com:587")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"{var} has an invalid port") from None
        use_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if use_tls else 587),
            use_tls=use_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    """How the email and newsletter handlers send mail."""

    sender: str = DEFAULT_EMAIL_FROM
    transport: EmailTransportName = "file"
    smtp: SmtpServer | None = None
    api_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    outbox_dir: Path = Path(DEFAULT_OUTBOX_DIR)
    rate_limit: int | None = None
    """Most newsletter messages sent per minute by one job; ``None`` sends unpaced."""
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.transport not in EMAIL_TRANSPORTS:
            raise ConfigError(
                f"EMAIL_TRANSPORT must be one of {', '.join(EMAIL_TRANSPORTS)}, "
                f"got {self.transport!r}"
            )
        if "@" not in self.sender:
            raise ConfigError(f"EMAIL_FROM must be an email address, got {self.sender!r}")
        if self.transport == "smtp" and self.smtp is None:
            raise ConfigError("EMAIL_TRANSPORT=smtp needs EMAIL_SMTP_URL (smtp://user:pass@host)")
        if self.transport == "api":
            if not self.api_url:
                raise ConfigError("EMAIL_TRANSPORT=api needs EMAIL_API_URL")
            if urlsplit(self.api_url).scheme not in ("http", "https"):
                raise ConfigError("EMAIL_API_URL must be an http:// or https:// URL")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ConfigError(f"EMAIL_RATE_LIMIT must be >= 1 per minute, got {self.rate_limit}")
        object.__setattr__(self, "outbox_dir", Path(self.outbox_dir))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmailSettings:
        env = os.environ if environ is None else environ

        def get(var: str) -> str | None:
            raw = env.get(var)
            return raw.strip() if raw is not None and raw.strip() else None

        smtp_url = get("EMAIL_SMTP_URL")
        rate = get("EMAIL_RATE_LIMIT")
        return cls(
            sender=get("EMAIL_FROM") or DEFAULT_EMAIL_FROM,
            transport=cast(EmailTransportName, (get("EMAIL_TRANSPORT") or "file").lower()),
            smtp=SmtpServer.from_url(smtp_url) if smtp_url else None,
            api_url=get("EMAIL_API_URL"),
            api_key=get("EMAIL_API_KEY"),
            outbox_dir=Path(get("EMAIL_OUTBOX_DIR") or DEFAULT_OUTBOX_DIR),
            rate_limit=parse_int("EMAIL_RATE_LIMIT", rate) if rate else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSettings:
    """Where the image and thumbnail handlers read and write."""

    output_dir: Path = Path(DEFAULT_IMAGE_OUTPUT_DIR)
    temp_dir: Path = Path(DEFAULT_IMAGE_TEMP_DIR)
    input_dirs: tuple[Path, ...] = (Path("."),)
    """The only roots input paths may resolve into (after following symlinks)."""
    max_pixels: int = DEFAULT_IMAGE_MAX_PIXELS
    """Larger inputs are refused before decoding (decompression bombs)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "output_dir", Path(self.output_dir))
        object.__setattr__(self, "temp_dir", Path(self.temp_dir))
        object.__setattr__(self, "input_dirs", tuple(Path(p) for p in self.input_dirs))
        if not self.input_dirs:
            raise ConfigError("IMAGE_INPUT_DIRS must name at least one directory")
        if self.max_pixels < 1:
            raise ConfigError(f"IMAGE_MAX_PIXELS must be >= 1, got {self.max_pixels}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ImageSettings:
        env = os.environ if environ is None else environ

        def get(var: str) -> str | None:
            raw = env.get(var)
            return raw.strip() if raw is not None and raw.strip() else None

        roots = get("IMAGE_INPUT_DIRS") or "."
        pixels = get("IMAGE_MAX_PIXELS")
        return cls(
            output_dir=Path(get("IMAGE_OUTPUT_DIR") or DEFAULT_IMAGE_OUTPUT_DIR),
            temp_dir=Path(get("IMAGE_TEMP_DIR") or DEFAULT_IMAGE_TEMP_DIR),
            input_dirs=split_dirs(roots),
            max_pixels=(
                parse_int("IMAGE_MAX_PIXELS", pixels) if pixels else DEFAULT_IMAGE_MAX_PIXELS
            ),
        )


def split_dirs(raw: str) -> tuple[Path, ...]:
    """``IMAGE_INPUT_DIRS``: directories separated by ``os.pathsep`` or commas."""
    parts = raw.replace(os.pathsep, ",").split(",")
    return tuple(Path(p.strip()) for p in parts if p.strip())
