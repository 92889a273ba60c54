"""The payload schema of each job type with a model, in the OpenAPI of ``POST /jobs``.

The request body stays one model (``EnqueueRequest``, whose ``payload`` is any
JSON, so custom job types work); next to its ``$ref`` goes an ``anyOf`` with
one branch per typed job type (``type`` is ``"email"`` and ``payload`` is an
email) and one for every other type. Each schema is inlined, its ``$defs``
resolved, so the operation needs no extra components.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handlers.payload import payload_schemas


def _inline(node: Any, defs: Mapping[str, Any], depth: int = 0) -> Any:
    if depth > 20:  # the built-in models are not recursive; stop a custom one that is
        return {}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = defs.get(ref.removeprefix("#/$defs/"), {})
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(target, defs, depth + 1), **_inline(rest, defs, depth + 1)}
        return {k: _inline(v, defs, depth) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(item, defs, depth) for item in node]
    return node


def typed_payload_schemas(handlers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Self-contained JSON Schemas of the payload of every handler that declares a model."""
    return {
        job_type: _inline(schema, schema.get("$defs", {}))
        for job_type, schema in payload_schemas(handlers).items()
    }


def enqueue_openapi_extra(schemas: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """``openapi_extra`` for ``POST /jobs``: the body's per-type payload schemas."""
    if not schemas:
        return {}
    branches: list[dict[str, Any]] = [
        {
            "title": f"{job_type} job",
            "properties": {"type": {"const": job_type}, "payload": schema},
        }
        for job_type, schema in schemas.items()
    ]
    branches.append(
        {
            "title": "job of another type",
            "properties": {"type": {"not": {"enum": list(schemas)}}},
        }
    )
    return {
        "requestBody": {
            "content": {"application/json": {"schema": {"anyOf": branches}}},
        }
    }
