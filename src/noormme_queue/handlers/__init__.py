"""The built-in email, newsletter, image, thumbnail and webhook handlers.

The built-in handlers and their payload models load on first use, so a worker that never
runs them never imports pydantic, httpx or Pillow. ``JobHandler``, ``HandlerLike``,
``BoundHandler``, ``LazyHandler`` and ``call_maybe_async`` are kept here for code that
imported them from this package; they live in ``core`` and ``engine``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..core.handler import HandlerLike, JobHandler
from ..core.threads import call as call_maybe_async

if TYPE_CHECKING:
    from .builtin import build_builtin_handlers, build_builtin_processors
    from .catalog import BUILTIN_JOB_TYPES, BUILTIN_PROCESSOR_QUEUES
    from .http_models import ApiCallOptions, ApiCallPayload, WebhookPayload
    from .image import ImageHandler, ImageProcessor, ThumbnailHandler
    from .image_files import PathNotAllowed
    from .image_models import (
        BlurOperation,
        BlurParams,
        CropOperation,
        CropParams,
        FlipOperation,
        FlipParams,
        GrayscaleOperation,
        ImagePayload,
        Operation,
        ResizeOperation,
        ResizeParams,
        RotateOperation,
        RotateParams,
        SharpenOperation,
        SharpenParams,
        ThumbnailPayload,
        ThumbnailSize,
    )
    from .mail import EmailHandler, Mailer, NewsletterHandler
    from .mail_models import Attachment, EmailPayload, NewsletterPayload
    from .net import DestinationNotAllowed, GuardedTransport, HttpClientFactory, guarded_client
    from .payload import PayloadModel, payload_schemas, validate_payload
    from .settings import EmailSettings, ImageSettings, SmtpServer
    from .webhook import NetworkError, WebhookHandler, WebhookSender

_LAZY = {
    "ApiCallOptions": "http_models",
    "ApiCallPayload": "http_models",
    "Attachment": "mail_models",
    "BUILTIN_JOB_TYPES": "catalog",
    "BUILTIN_PROCESSOR_QUEUES": "catalog",
    "BlurOperation": "image_models",
    "BlurParams": "image_models",
    "CropOperation": "image_models",
    "CropParams": "image_models",
    "DestinationNotAllowed": "net",
    "EmailHandler": "mail",
    "EmailPayload": "mail_models",
    "EmailSettings": "settings",
    "FlipOperation": "image_models",
    "FlipParams": "image_models",
    "GrayscaleOperation": "image_models",
    "GuardedTransport": "net",
    "HttpClientFactory": "net",
    "ImageHandler": "image",
    "ImagePayload": "image_models",
    "ImageProcessor": "image",
    "ImageSettings": "settings",
    "Mailer": "mail",
    "NetworkError": "webhook",
    "NewsletterHandler": "mail",
    "NewsletterPayload": "mail_models",
    "Operation": "image_models",
    "PathNotAllowed": "image_files",
    "PayloadModel": "payload",
    "ResizeOperation": "image_models",
    "ResizeParams": "image_models",
    "RotateOperation": "image_models",
    "RotateParams": "image_models",
    "SharpenOperation": "image_models",
    "SharpenParams": "image_models",
    "SmtpServer": "settings",
    "ThumbnailHandler": "image",
    "ThumbnailPayload": "image_models",
    "ThumbnailSize": "image_models",
    "WebhookHandler": "webhook",
    "WebhookPayload": "http_models",
    "WebhookSender": "webhook",
    "build_builtin_handlers": "builtin",
    "build_builtin_processors": "builtin",
    "guarded_client": "net",
    "payload_schemas": "payload",
    "validate_payload": "payload",
}


# Compatibility: the worker's handler adapter moved to the engine layer.
_MOVED = {"BoundHandler": "..engine.binding", "LazyHandler": "..engine.binding"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        module = f".{module}"
    else:
        module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BUILTIN_JOB_TYPES",
    "BUILTIN_PROCESSOR_QUEUES",
    "ApiCallOptions",
    "ApiCallPayload",
    "Attachment",
    "BlurOperation",
    "BlurParams",
    "BoundHandler",
    "CropOperation",
    "CropParams",
    "DestinationNotAllowed",
    "EmailHandler",
    "EmailPayload",
    "EmailSettings",
    "FlipOperation",
    "FlipParams",
    "GrayscaleOperation",
    "GuardedTransport",
    "HandlerLike",
    "HttpClientFactory",
    "ImageHandler",
    "ImagePayload",
    "ImageProcessor",
    "ImageSettings",
    "JobHandler",
    "LazyHandler",
    "Mailer",
    "NetworkError",
    "NewsletterHandler",
    "NewsletterPayload",
    "Operation",
    "PathNotAllowed",
    "PayloadModel",
    "ResizeOperation",
    "ResizeParams",
    "RotateOperation",
    "RotateParams",
    "SharpenOperation",
    "SharpenParams",
    "SmtpServer",
    "ThumbnailHandler",
    "ThumbnailPayload",
    "ThumbnailSize",
    "WebhookHandler",
    "WebhookPayload",
    "WebhookSender",
    "build_builtin_handlers",
    "build_builtin_processors",
    "call_maybe_async",
    "guarded_client",
    "payload_schemas",
    "validate_payload",
]
