"""Job handlers: the handler protocol and the built-in email, image and webhook handlers.

Importing this package does not import Pillow; image work imports it when it runs.
"""

from .base import BoundHandler, HandlerLike, JobHandler, call_maybe_async
from .builtin import (
    BUILTIN_JOB_TYPES,
    BUILTIN_PROCESSOR_QUEUES,
    build_builtin_handlers,
    build_builtin_processors,
)
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
