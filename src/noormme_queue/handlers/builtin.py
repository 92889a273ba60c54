"""The built-in handlers and in-memory processors, wired from settings.

``build_builtin_handlers`` gives the persistent job types ``email``,
``newsletter``, ``image``, ``thumbnail`` and ``webhook``;
``build_builtin_processors`` gives the processors of the in-memory queues
``email-sending``, ``image-processing``, ``webhook-delivery`` and
``api-calls``. Both call the same payload-level functions. Settings left as
``None`` are read from the environment on first use, so a bad ``EMAIL_*``
variable only matters to an application that sends mail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..core.config import QueueConfig
from ..core.job import JSON
from .catalog import BUILTIN_JOB_TYPES, BUILTIN_PROCESSOR_QUEUES
from .http_models import ApiCallPayload, WebhookPayload
from .image import ImageHandler, ImageProcessor, ThumbnailHandler
from .image_models import ImagePayload
from .lazy import Lazy
from .mail import EmailHandler, Mailer, NewsletterHandler
from .mail_models import EmailPayload
from .net import HttpClientFactory, guarded_client
from .payload import parse_payload
from .settings import EmailSettings, ImageSettings
from .webhook import WebhookHandler, WebhookSender

Processor = Callable[[Any], Awaitable[JSON]]

__all__ = [
    "BUILTIN_JOB_TYPES",
    "BUILTIN_PROCESSOR_QUEUES",
    "Processor",
    "build_builtin_handlers",
    "build_builtin_processors",
]


class _Parts:
    def __init__(
        self,
        config: QueueConfig,
        email: EmailSettings | None,
        image: ImageSettings | None,
        http_client_factory: HttpClientFactory | None,
    ) -> None:
        factory = http_client_factory or guarded_client
        self.mailer = Lazy(
            lambda: Mailer(email or EmailSettings.from_env(), client_factory=factory)
        )
        self.images = Lazy(lambda: ImageProcessor(image or ImageSettings.from_env()))
        self.http = WebhookSender(
            allow_private=config.webhook_allow_private, client_factory=factory
        )


def build_builtin_handlers(
    config: QueueConfig,
    *,
    email: EmailSettings | None = None,
    image: ImageSettings | None = None,
    http_client_factory: HttpClientFactory | None = None,
) -> dict[str, Any]:
    """Handlers for the built-in job types, keyed by type."""
    parts = _Parts(config, email, image, http_client_factory)
    return {
        "email": EmailHandler(parts.mailer),
        "newsletter": NewsletterHandler(parts.mailer),
        "image": ImageHandler(parts.images),
        "thumbnail": ThumbnailHandler(parts.images),
        "webhook": WebhookHandler(parts.http),
    }


def build_builtin_processors(
    config: QueueConfig,
    *,
    email: EmailSettings | None = None,
    image: ImageSettings | None = None,
    http_client_factory: HttpClientFactory | None = None,
) -> dict[str, Processor]:
    """Processors for the built-in in-memory queues, keyed by queue name.

    Each takes the payload given to ``queue.add(...)`` (a dict or a payload
    model) and resolves with the same result as the matching job type.
    """
    parts = _Parts(config, email, image, http_client_factory)

    async def send_email(payload: Any) -> JSON:
        return await parts.mailer.get().send_email(parse_payload(EmailPayload, payload))

    async def process_image(payload: Any) -> JSON:
        return await parts.images.get().process_image(parse_payload(ImagePayload, payload))

    async def deliver_webhook(payload: Any) -> JSON:
        return await parts.http.deliver(parse_payload(WebhookPayload, payload))

    async def api_call(payload: Any) -> JSON:
        return await parts.http.api_call(parse_payload(ApiCallPayload, payload))

    return {
        "email-sending": send_email,
        "image-processing": process_image,
        "webhook-delivery": deliver_webhook,
        "api-calls": api_call,
    }
