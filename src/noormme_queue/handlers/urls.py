"""Checking and normalising the http(s) URLs of webhook and api-calls payloads at enqueue.

A URL is refused when an HTTP client could read it differently from the way it looks,
or could never send it at all, so it fails at enqueue rather than on every attempt:

- spaces and control characters anywhere (NUL, TAB, U+2028, a leading or trailing space);
- a scheme other than ``http`` or ``https``, a missing host, a bad or zero port, a
  backslash in the authority (browsers read ``\\`` as ``/``, ``urllib`` does not);
- a host that Unicode normalisation (NFKC) would change (``①②⑦.0.0.1`` becomes
  ``127.0.0.1``, full-width letters become ASCII) or that uses a dot other than ``.``;
- a numeric host in any form but canonical dotted decimal: octal ``0177.0.0.1``,
  hex ``0x7f.0.0.1``, short ``127.1`` and integer ``2130706433`` all mean 127.0.0.1 to
  some resolver;
- an IPv6 literal with a zone (``%eth0``).

The accepted URL is normalised: scheme and host in lower case, an IPv6 literal in its
compressed form, the port as a plain number. Whether the destination is private is
decided when the request is made (DNS can change); see :mod:`.net`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import SplitResult, urlsplit

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}
_OTHER_DOTS = frozenset("\u3002\uff0e\uff61")  # read as "." by IDNA (UTS #46)
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
MAX_HOST_LENGTH = 253


def _bad_character(value: str) -> str | None:
    for position, char in enumerate(value):
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return f"U+{ord(char):04X} at position {position}"
    return None


def normalise_http_url(value: str) -> str:
    """``value`` checked and normalised; ``ValueError`` saying what is wrong with it."""
    bad = _bad_character(value)
    if bad is not None:
        raise ValueError(f"must not contain spaces or control characters (found {bad})")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    if "\\" in parts.netloc:
        raise ValueError("must not contain a backslash before the path")
    userinfo, _, _hostport = parts.netloc.rpartition("@")
    host = _normal_host(parts)
    if port == 0:
        raise ValueError("port 0 is not a port to send to")
    netloc = host
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    if port is not None:
        netloc = f"{netloc}:{port}"
    normal = SplitResult(scheme, netloc, parts.path, parts.query, parts.fragment).geturl()
    _same_for_httpx(normal, host)
    return normal


def _normal_host(parts: SplitResult) -> str:
    """The host in the form the URL will carry (IPv6 in brackets), or ``ValueError``."""
    host = parts.hostname or ""
    if not host:
        raise ValueError("must name a host, e.g. https://hooks.example.com/path")
    if "[" in parts.netloc:
        return f"[{_ipv6(host)}]"
    if any(char in _OTHER_DOTS for char in host):
        raise ValueError(f"host {host!r} must separate its labels with '.' only")
    normal = unicodedata.normalize("NFKC", host)
    if normal != host:
        raise ValueError(
            f"host {host!r} is not in Unicode normal form (NFKC gives {normal!r}); "
            "write the host in that plain form"
        )
    if host.isascii():
        _check_ascii_host(host)
    return host


def _ipv6(host: str) -> str:
    if "%" in host:
        raise ValueError("an IPv6 address with a zone (%...) cannot be a webhook destination")
    try:
        return ipaddress.IPv6Address(host).compressed
    except ValueError:
        raise ValueError(f"[{host}] is not a valid IPv6 address") from None


def _check_ascii_host(host: str) -> None:
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # Resolvers read a host ending in a number as an IPv4 address, in any of the
        # inet_aton forms; only the one form that means the same thing everywhere is kept.
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            canonical = None
        if canonical != host:
            raise ValueError(
                f"numeric host {host!r} is not an IPv4 address in canonical form "
                "(four decimal numbers 0-255, no leading zeros, e.g. 203.0.113.7)"
            )
        return
    if len(name) > MAX_HOST_LENGTH or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"host {host!r} is not a valid host name")


def _same_for_httpx(url: str, host: str) -> None:
    """The client that sends the request must read the same host out of the URL."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"is not a URL an HTTP client can send to ({exc})") from None
    expected = host.strip("[]")
    raw = parsed.raw_host.decode("ascii")
    seen = raw if expected.isascii() else parsed.host
    if seen != expected:
        raise ValueError(f"is read with host {seen!r} by HTTP clients, not {expected!r}")
    if not host.isascii():
        # Each label of a non-ASCII host becomes an xn-- label, never a number or a dot.
        for given, encoded in zip(host.split("."), raw.split("."), strict=False):
            if given != encoded and not encoded.startswith("xn--"):
                raise ValueError(f"host {host!r} is encoded as {raw!r} by HTTP clients")
        if raw.count(".") != host.count("."):
            raise ValueError(f"host {host!r} is encoded as {raw!r} by HTTP clients")
        _check_ascii_host(raw)
