"""Hide secrets that ride in payloads (auth headers, API keys, webhook secrets) from API answers.

Only responses are redacted: the stored job keeps the real values its handler needs.

One rule decides what is secret, for dict keys, header names (which are dict keys in a
payload) and URL query parameters alike: the name is normalised (lower-cased, everything but
letters and digits removed, so ``privateKey``, ``private_key``, ``Private-Key`` and
``X-Private-Key`` become ``privatekey`` / ``xprivatekey``) and matched against
:data:`SECRET_KEY_PATTERNS` (``fnmatch`` patterns: ``*token*`` anywhere, ``*pin`` at the
end, ``key`` the whole name). A secret's value is shown as ``***`` (``null`` stays ``null``).
Counters named after tokens (``max_tokens``, ``tokens_used``, ``token_count``) stay visible
when their value is a number. Passwords in URLs (``https://user:***@host``) are masked too.

The copy is built without recursion and shows at most :data:`MAX_SHOWN_DEPTH` levels (the
enqueue limit): anything deeper, in a row an older version wrote, is replaced by
:data:`TOO_DEEP`. Text that is not valid Unicode (lone surrogates) is shown with U+FFFD.
"""

from __future__ import annotations

import re
from fnmatch import translate
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
MAX_SHOWN_DEPTH = 64  # = engine.enqueue.MAX_PAYLOAD_DEPTH: everything enqueue accepts shows
TOO_DEEP = f"[nested deeper than {MAX_SHOWN_DEPTH} levels: not shown]"

SECRET_KEY_PATTERNS: tuple[str, ...] = (
    # anywhere in the name
    "*password*",
    "*passwd*",
    "*passphrase*",
    "*secret*",
    "*token*",
    "*credential*",
    "*signature*",
    "*authorization*",
    "*cookie*",
    "*apikey*",
    "*accesskey*",
    "*privatekey*",
    "*signingkey*",
    "*encryptionkey*",
    "*sessionid*",
    "*sessid*",
    "*jwt*",
    "*bearer*",
    "*csrf*",
    "*xsrf*",
    # at the end of the name (auth, x_auth, oauth; user_pin; hmac_sig; totp)
    "*auth",
    "*pwd",
    "*pin",
    "*sig",
    "*otp",
    "*session",
    # the whole name
    "pass",
    "key",
)
"""What names a secret, matched on the normalised name (see the module docstring)."""

COUNT_KEY_PATTERNS: tuple[str, ...] = ("*tokens", "*tokensused", "*tokencount", "*tokenlimit")
"""Names of token counters: visible when the value is a number (an LLM call's ``max_tokens``)."""

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SECRET = re.compile("|".join(translate(pattern) for pattern in SECRET_KEY_PATTERNS))
_COUNT = re.compile("|".join(translate(pattern) for pattern in COUNT_KEY_PATTERNS))


def normalise_key(key: str) -> str:
    return _NOT_ALNUM.sub("", key.lower())


def is_secret_key(key: str) -> bool:
    """Whether a dict key, header name or query parameter names a secret."""
    return _SECRET.match(normalise_key(key)) is not None


def _masks(key: object, value: object) -> bool:
    if value is None or not isinstance(key, str) or not is_secret_key(key):
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _COUNT.match(normalise_key(key)) is None
    return True


def redact(value: Any) -> Any:
    """A copy of the JSON ``value`` with secrets masked, at most ``MAX_SHOWN_DEPTH`` deep."""
    root: list[Any] = [None]
    # (value to copy, container the copy goes in, its key or index there, depth)
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 1)]
    while stack:
        item, parent, slot, depth = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_SHOWN_DEPTH:
            parent[slot] = TOO_DEEP
        elif isinstance(item, dict):
            copy: dict[Any, Any] = {}
            parent[slot] = copy
            for key, child in item.items():
                shown_key = _valid_text(key) if isinstance(key, str) else key
                if _masks(key, child):
                    copy[shown_key] = MASK
                else:
                    copy[shown_key] = None  # keeps the order; filled from the stack
                    stack.append((child, copy, shown_key, depth + 1))
        elif isinstance(item, list):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((child, items, index, depth + 1) for index, child in enumerate(item))
        elif isinstance(item, str):
            text = _valid_text(item)
            parent[slot] = _hide_url_secrets(text) if "://" in text else text
        else:
            parent[slot] = item
    return root[0]


def _valid_text(text: str) -> str:
    """``text`` with lone surrogates (which no UTF-8 answer can carry) as U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def redact_text(text: str | None) -> str | None:
    """Free text (an error message, a traceback) with the secrets of every URL in it masked."""
    if not text:
        return text
    text = _valid_text(text)
    if "://" not in text:
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
    if not any(_masks(key, item) for key, item in pairs):
        return text
    masked = [(key, MASK if _masks(key, item) else item) for key, item in pairs]
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
