"""Typed payloads: the pydantic base every built-in model shares, and validation helpers.

Built-in models accept the snake_case names and the specification's camelCase
names (``image_path`` and ``imagePath``), reject unknown keys so a typo is an
error at enqueue, and dump back to snake_case JSON.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from ..core.errors import InvalidPayload
from ..core.job import JSON
from ..core.signals import UnrecoverableError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_REPORTED_ERRORS = 3


def _snake_or_camel(name: str) -> str | AliasChoices:
    camel = to_camel(name)
    return name if camel == name else AliasChoices(name, camel)


class PayloadModel(BaseModel):
    """Base of the built-in payload models; custom handlers may subclass it too."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=AliasGenerator(validation_alias=_snake_or_camel),
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
    )


def _decode_base64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 text (or bytes in Python)") from None
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return value


Base64Content = Annotated[
    bytes,
    BeforeValidator(_decode_base64),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
"""Bytes in Python, base64 text in JSON (both directions)."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(["payload", *(str(part) for part in loc)])


def invalid_payload(error: ValidationError) -> InvalidPayload:
    """An :class:`InvalidPayload` naming the first offending field (``payload.to``)."""
    details = error.errors(include_url=False)
    if not details:
        return InvalidPayload(f"payload is invalid: {error}")
    parts = [f"{_field_path(d['loc'])}: {d['msg']}" for d in details[:MAX_REPORTED_ERRORS]]
    if len(details) > MAX_REPORTED_ERRORS:
        parts.append(f"and {len(details) - MAX_REPORTED_ERRORS} more")
    return InvalidPayload("; ".join(parts), field=_field_path(details[0]["loc"]))


def parse_payload(model: type[ModelT], payload: Any) -> ModelT:
    """``payload`` (a dict, or a model instance) as a validated ``model``."""
    if isinstance(payload, model):
        return payload
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    if not isinstance(payload, Mapping):
        raise InvalidPayload(
            f"payload must be an object with the fields of {model.__name__}, "
            f"got {type(payload).__name__}",
            field="payload",
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise invalid_payload(exc) from None


def validate_payload(model: type[BaseModel], payload: Any) -> dict[str, JSON]:
    """Validate ``payload`` against ``model``; the normalised snake_case JSON dict.

    Raises :class:`~noormme_queue.core.errors.InvalidPayload` whose ``field`` names
    the offending field, e.g. ``payload.to``.
    """
    return parse_payload(model, payload).model_dump(mode="json")


def payload_schemas(handlers: Mapping[str, Any]) -> dict[str, dict[str, JSON]]:
    """JSON Schema of every handler in ``handlers`` (job type → handler) that declares a model."""
    schemas: dict[str, dict[str, JSON]] = {}
    for job_type, handler in sorted(handlers.items()):
        model = getattr(handler, "payload_model", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            schemas[job_type] = model.model_json_schema()
    return schemas


def parse_job_payload(model: type[ModelT], payload: Any) -> ModelT:
    """Like :func:`parse_payload`, for a payload already stored in a job.

    It passed validation at enqueue, so failing now (an older model, a job
    written by hand) is something no retry can fix.
    """
    try:
        return parse_payload(model, payload)
    except InvalidPayload as exc:
        raise UnrecoverableError(f"invalid payload: {exc}") from exc
