"""Turning an email payload into a MIME message (stdlib ``email``)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid

from .mail_models import MessageContent


def address_of(value: str) -> str:
    """The bare ``user@host`` of ``"Name <user@host>"``."""
    return getaddresses([value])[0][1]


def envelope_recipients(*groups: list[str]) -> list[str]:
    """Bare addresses of every recipient, in order, each once (case-insensitive)."""
    seen: set[str] = set()
    recipients: list[str] = []
    for group in groups:
        for value in group:
            address = address_of(value)
            if address.lower() not in seen:
                seen.add(address.lower())
                recipients.append(address)
    return recipients


def build_message(
    content: MessageContent,
    *,
    sender: str,
    to: list[str],
    cc: list[str] | None = None,
) -> EmailMessage:
    """A complete message: text and/or html alternatives, then attachments.

    Bcc recipients are never written into the message; they are only envelope
    recipients.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if content.reply_to:
        message["Reply-To"] = ", ".join(content.reply_to)
    message["Subject"] = content.subject
    message["Date"] = formatdate(localtime=True)
    domain = address_of(sender).rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in content.headers.items():
        message[name] = value

    if content.text is not None and content.html is not None:
        message.set_content(content.text)
        message.add_alternative(content.html, subtype="html")
    elif content.html is not None:
        message.set_content(content.html, subtype="html")
    else:
        message.set_content(content.text or "")

    for attachment in content.attachments:
        maintype, subtype = attachment.mime_type()
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message
