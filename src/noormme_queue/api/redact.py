"""Hide secrets that ride in payloads (auth headers, API keys, webhook secrets) from API answers.

Only responses are redacted: the stored job keeps the real values its handler needs.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# A key is secret when its normalised name (lower case, "-" -> "_") contains one of these.
SECRET_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "credential",
    "private_key",
    "signature",
)
SECRET_NAMES = frozenset({"auth", "x_auth", "pass", "pwd", "session", "sessionid", "x_api_key"})


def is_secret_key(key: str) -> bool:
    name = key.lower().replace("-", "_")
    return name in SECRET_NAMES or any(part in name for part in SECRET_PARTS)


def redact(value: Any) -> Any:
    """A copy of the JSON ``value`` with secret-named fields masked and URL passwords hidden."""
    if isinstance(value, dict):
        return {
            key: (MASK if value[key] is not None else None)
            if isinstance(key, str) and is_secret_key(key)
            else redact(value[key])
            for key in value
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str) and "://" in value:
        return _hide_url_secrets(value)
    return value


_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def redact_text(text: str | None) -> str | None:
    """Free text (an error message, a traceback) with the secrets of every URL in it masked."""
    if not text or "://" not in text:
        return text
    return _URL.sub(lambda match: _hide_url_secrets(match.group(0)), text)


def _hide_url_secrets(text: str) -> str:
    """Mask a URL's password and the values of its secret-named query parameters."""
    if "@" in text:
        text = _hide_url_password(text)
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if not parts.query:
        return text
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(is_secret_key(key) for key, _ in pairs):
        return text
    masked = [(key, MASK if is_secret_key(key) else item) for key, item in pairs]
    return urlunsplit(parts._replace(query=urlencode(masked, safe="*")))


def _hide_url_password(text: str) -> str:
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    if not password or parts.hostname is None:
        return text
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))
