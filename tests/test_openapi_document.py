"""The OpenAPI document explains itself to a developer who has only /docs: an introduction,
a description on every field of a request, and worked examples of the main operations that
are true to their schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs  # schemathesis's validator (tests/test_openapi_conformance.py)
import pytest
from pydantic import BaseModel

from app.exchange.file_schemas import FileOut, FilePage
from app.exchange.message_schemas import MessageCreate, MessageOut, MessagePage
from app.main import create_app
from app.requests.schemas import (
    AckOut,
    RequestCreate,
    RequestDetailOut,
    RequestPage,
    SubmittedRequest,
)

# create_app() opens nothing until its lifespan runs: the document needs no database.
DOCUMENT: dict[str, Any] = create_app("postgresql://unused@127.0.0.1/unused").openapi()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (
        RequestCreate,
        SubmittedRequest,
        RequestPage,
        RequestDetailOut,
        AckOut,
        MessageCreate,
        MessageOut,
        MessagePage,
        FileOut,
        FilePage,
    )
}
# (method, path, status of the success answer, whether it takes a JSON body)
MAIN_OPERATIONS = [
    ("post", "/v1/requests", "201", True),
    ("get", "/v1/requests", "200", False),
    ("get", "/v1/requests/{request_id}", "200", False),
    ("post", "/v1/requests/{request_id}/ack", "200", False),
    ("post", "/v1/requests/{request_id}/messages", "201", True),
    ("get", "/v1/requests/{request_id}/messages", "200", False),
    ("post", "/v1/requests/{request_id}/files", "201", False),
    ("get", "/v1/requests/{request_id}/files", "200", False),
]


def test_the_document_introduces_the_api() -> None:
    description = DOCUMENT["info"].get("description", "")
    for subject in (
        "Authorization: Bearer",
        "application/problem+json",
        "next_cursor",
        "Idempotency-Key",
        "If-Match",
    ):
        assert subject in description, subject


def _referenced(schema: Any) -> Iterator[str]:
    """The names of the component schemas ``schema`` refers to, at any depth."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[1]
        for value in schema.values():
            yield from _referenced(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _referenced(value)


def _representation(*roots: str) -> set[str]:
    """The schemas a request's representation is made of, from ``roots`` down."""
    seen: set[str] = set()
    waiting = list(roots)
    while waiting:
        name = waiting.pop()
        if name not in seen:
            seen.add(name)
            waiting.extend(_referenced(SCHEMAS[name]))
    return seen


def test_every_field_of_a_request_is_described() -> None:
    names = _representation("RequestCreate", "SubmittedRequest", "RequestDetailOut", "RequestPage")
    assert {"Identifier", "RequestContentOut", "LegalHoldOut", "EscalationOut"} <= names
    undescribed = [
        f"{name}.{field}"
        for name in sorted(names)
        for field, schema in SCHEMAS[name].get("properties", {}).items()
        if not schema.get("description")
    ]
    assert undescribed == []


def _validate(example: Any, schema: dict[str, Any], where: str) -> None:
    """Against the published schema, and against the model the service parses it with."""
    validator = jsonschema_rs.Draft202012Validator(
        {**schema, "components": DOCUMENT["components"]}, validate_formats=True
    )
    errors = [error.message for error in validator.iter_errors(example)]
    assert errors == [], where
    name = schema["$ref"].rsplit("/", 1)[1]
    MODELS[name].model_validate_json(json.dumps(example))


@pytest.mark.parametrize(("method", "path", "status", "body"), MAIN_OPERATIONS)
def test_the_main_operations_have_examples_true_to_their_schemas(
    method: str, path: str, status: str, body: bool
) -> None:
    operation = DOCUMENT["paths"][path][method]
    answer = operation["responses"][status]["content"]["application/json"]
    assert "example" in answer, f"{method.upper()} {path}: no example of its answer"
    _validate(answer["example"], answer["schema"], f"{method.upper()} {path} {status}")
    if body:
        sent = operation["requestBody"]["content"]["application/json"]
        assert sent.get("examples"), f"{method.upper()} {path}: no example of its body"
        for name, example in sent["examples"].items():
            assert example.get("summary"), name
            _validate(example["value"], sent["schema"], f"{method.upper()} {path} {name}")


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def test_every_reference_in_the_document_resolves() -> None:
    """ReDoc and client generators refuse a document with a dangling $ref (the webhooks
    section once named FastAPI's HTTPValidationError, which the document no longer has)."""
    document = create_app("postgresql://unused/unused").openapi()
    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    for reference in set(_references(document)):
        assert reference.startswith(prefix), reference
        assert reference.removeprefix(prefix) in schemas, reference
