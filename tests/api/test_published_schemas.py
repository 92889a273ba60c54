"""The published OpenAPI schemas accept what the API accepts: the specification's examples,
written as it writes them (``to`` as one string, ``imagePath``, ``retryPolicy`` in camelCase),
validate against the document ``/openapi.json`` serves, and the API takes them too."""

from __future__ import annotations

import base64
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from noormme_queue import QueueManager
from noormme_queue.api.models import CleanupRequest, EnqueueRequest

PDF = base64.b64encode(b"%PDF-1.4 receipt").decode()

# The specification's examples (its README), as REST bodies.
SPEC_EXAMPLES: list[dict[str, Any]] = [
    {
        "type": "email",
        "payload": {
            "to": "user@example.com",
            "subject": "Welcome!",
            "html": "<h1>Welcome to our service!</h1>",
        },
    },
    {
        "type": "email",
        "payload": {
            "to": "user@example.com",
            "subject": "Order Confirmation",
            "html": "<h1>Thank you for your order!</h1>",
            "attachments": [
                {"filename": "receipt.pdf", "content": PDF, "contentType": "application/pdf"}
            ],
        },
    },
    {
        "type": "newsletter",
        "payload": {
            "to": ["user1@example.com", "user2@example.com"],
            "subject": "Weekly Newsletter",
            "html": "<h1>This week's updates</h1>",
        },
    },
    {
        "type": "image",
        "payload": {
            "imagePath": "uploads/photo.jpg",
            "operations": [
                {"type": "resize", "params": {"width": 300, "height": 300}},
                {"type": "grayscale", "params": {}},
            ],
            "quality": 85,
            "format": "webp",
        },
    },
    {
        "type": "thumbnail",
        "payload": {
            "imagePath": "uploads/photo.jpg",
            "operations": [{"type": "resize", "params": {"width": 150, "height": 150}}],
        },
    },
    {
        "type": "webhook",
        "payload": {
            "url": "https://api.example.com/webhook",
            "method": "POST",
            "headers": {"X-API-Key": "your-key"},
            "body": {"event": "user.created", "data": {"id": 7}},
            "retryPolicy": {
                "maxRetries": 5,
                "baseDelay": 2000,
                "maxDelay": 30000,
                "backoffMultiplier": 2,
            },
        },
    },
    {
        "type": "email",
        "payload": {"to": "user@example.com", "subject": "Hello", "text": "Hi"},
        "options": {"priority": 5},
    },
    {
        "type": "webhook",
        "payload": {"url": "https://hooks.example.com/orders", "body": {"order": 42}},
        "options": {
            "maxAttempts": 5,
            "scheduledAt": "2030-01-01T09:00:00Z",
            "retryPolicy": {"maxRetries": 4, "baseDelay": 2000},
            "uniqueKey": "order-42",
        },
    },
    {"type": "custom", "payload": {"data": "process this"}, "options": {"delayMs": 5000}},
]
# What the API refuses, the schema refuses too.
REFUSED: list[dict[str, Any]] = [
    {"type": "email", "payload": {"subject": "no recipient"}},
    {"type": "email", "payload": {"to": "a@example.com", "colour": "red"}},
    {"type": "image", "payload": {"operations": []}},
    {"type": "ok", "options": {"colour": "red"}},
    {"type": "ok", "options": {"retryPolicy": {"maxRetries": -1}}},
    {"payload": {}},
]


def _document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A 2020-12 validator for ``schema`` whose ``#/components`` refs resolve in ``document``."""
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "components": document["components"],
    }
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


@pytest.fixture
def enqueue_schema(client: TestClient) -> Any:
    document = _document(client)
    body = document["paths"]["/api/queue/jobs"]["post"]["requestBody"]
    return _validator(document, body["content"]["application/json"]["schema"])


@pytest.mark.parametrize("body", SPEC_EXAMPLES, ids=lambda b: str(b["type"]))
def test_the_specifications_examples_validate(
    enqueue_schema: Any, manager: QueueManager, body: dict[str, Any]
) -> None:
    errors = [str(error) for error in enqueue_schema.iter_errors(body)]
    assert errors == []
    request = EnqueueRequest.model_validate(body)  # and the API's own models take it
    handler = manager.handlers.get(request.type)
    if handler is not None and handler.payload_model is not None:
        handler.payload_model.model_validate(request.payload)


@pytest.mark.parametrize("body", REFUSED, ids=str)
def test_what_the_api_refuses_the_schema_refuses(enqueue_schema: Any, body: dict[str, Any]) -> None:
    assert not enqueue_schema.is_valid(body)


def test_the_api_takes_the_examples_it_can_run_here(client: TestClient) -> None:
    for body in SPEC_EXAMPLES:
        if body["type"] not in ("email", "newsletter", "webhook"):
            continue  # image inputs must exist; custom has no handler here
        options = {k: v for k, v in body.get("options", {}).items() if k != "scheduledAt"}
        sent = {**body, "options": {**options, "delay": 3600}}  # saved, never run
        response = client.post("/api/queue/jobs", json=sent)
        assert response.status_code == 201, response.text


def test_cleanup_accepts_both_spellings(client: TestClient) -> None:
    document = _document(client)
    operation = document["paths"]["/api/queue/cleanup"]["post"]
    schema = _validator(document, operation["requestBody"]["content"]["application/json"]["schema"])
    for body in ({"older_than_days": 7}, {"olderThanDays": 7}):
        assert schema.is_valid(body), body
        CleanupRequest.model_validate(body)
        assert client.post("/api/queue/cleanup", json=body).status_code == 200


def test_a_required_field_may_come_in_either_spelling(enqueue_schema: Any) -> None:
    for key in ("image_path", "imagePath"):
        assert enqueue_schema.is_valid({"type": "image", "payload": {key: "a.png"}}), key
