"""The OpenAPI 3.1 document of a route table, built from the pydantic models it validates with.

The service's table is app/routes.py; the schemas of errors and acceptances are defined here.
"""

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from starlette.types import Receive, Scope, Send

from app import __version__
from app.errors import send_body
from app.routing import REQUEST_ID_HEADER, RETRY_AFTER_HEADER, Reply, Route

REF_TEMPLATE = "#/components/schemas/{model}"


class ValidationProblem(BaseModel):
    loc: str = Field(
        description="Where the problem is: list positions and documented field names joined by "
        "`.`; a key the document does not name reads `*` (a rejected key is never repeated)."
    )
    msg: str = Field(description="What is wrong, never the rejected value.")


class ErrorDetail(BaseModel):
    code: str
    message: str
    requestId: str | None = None
    details: list[ValidationProblem] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Accepted(BaseModel):
    accepted: int = Field(
        ge=0,
        description="Entries taken: 0 for a Reporting API batch holding no CSP violation "
        "(reports of other types are skipped).",
    )


class SchemaCollector:
    """Turns types into `$ref`s, gathering their definitions under components/schemas."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, annotation: Any, mode: str = "serialization", name: str | None = None) -> Any:
        schema = TypeAdapter(annotation).json_schema(ref_template=REF_TEMPLATE, mode=mode)  # type: ignore[arg-type]
        self.schemas.update(schema.pop("$defs", {}))
        if name is None and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            name = annotation.__name__
        if name is None:
            return schema
        self.schemas[name] = schema
        return {"$ref": REF_TEMPLATE.format(model=name)}


HEADERS: dict[str, Any] = {
    REQUEST_ID_HEADER: {
        "description": "The request id: the caller's X-Request-ID when valid, else a new one.",
        "schema": {"type": "string"},
    },
    RETRY_AFTER_HEADER: {
        "description": "Seconds until the window resets.",
        "schema": {"type": "string"},
    },
}
"""What each response header a `Reply` names means."""


def response_object(reply: Reply, collector: SchemaCollector) -> dict[str, Any]:
    schema = reply.schema if isinstance(reply.schema, dict) else collector.ref(reply.schema)
    response: dict[str, Any] = {
        "description": reply.description,
        "content": {reply.media_type: {"schema": schema}},
    }
    if reply.headers:
        response["headers"] = {name: HEADERS[name] for name in reply.headers}
    return response


def operation(route: Route, collector: SchemaCollector) -> dict[str, Any]:
    described: dict[str, Any] = {"summary": route.summary}
    body = route.request_body
    if body is not None:
        schema = collector.ref(body.annotation, mode="validation", name=body.name)
        described["requestBody"] = {
            "required": True,
            "content": {body.media_type: {"schema": schema}},
        }
    described["responses"] = {
        str(status): response_object(reply, collector) for status, reply in route.responses.items()
    }
    return described


def build_document(routes: Iterable[Route], version: str = __version__) -> dict[str, Any]:
    """The document of a route table: one path item per route, one operation per method."""
    collector = SchemaCollector()
    paths: dict[str, Any] = {}
    for route in routes:
        described = operation(route, collector)
        paths[route.path] = {method.lower(): described for method in route.methods}
    return {
        "openapi": "3.1.0",
        "info": {"title": "MiKO platform service", "version": version},
        "paths": paths,
        "components": {"schemas": collector.schemas},
    }


class OpenAPIEndpoint:
    """GET /openapi.json. The table it is part of publishes its document once it is complete."""

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.headers = ((b"content-type", b"application/json"), (b"cache-control", b"no-cache"))

    def publish(self, document: dict[str, Any]) -> None:
        self.body = json.dumps(document, separators=(",", ":")).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.body is None:
            raise RuntimeError("the OpenAPI document was never published")
        await send_body(send, 200, self.body, self.headers, head=scope["method"] == "HEAD")
