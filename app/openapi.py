"""The OpenAPI 3.1 document of the service, built from the pydantic models it validates with."""

import json
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from starlette.types import Receive, Scope, Send

from app import __version__
from app.errors import method_not_allowed, send_body
from app.health.models import ApisHealth, DatabaseHealth, Liveness
from app.ingest.client_metrics import ClientMetricsFlush
from app.ingest.logs import ClientLogBatch, ClientLogEntry

REF_TEMPLATE = "#/components/schemas/{model}"


class ValidationProblem(BaseModel):
    loc: str
    msg: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    requestId: str | None = None
    details: list[ValidationProblem] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Accepted(BaseModel):
    accepted: int = Field(ge=1)


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


REQUEST_ID_HEADER = {
    "description": "The request id: the caller's X-Request-ID when valid, else a new one.",
    "schema": {"type": "string"},
}


def json_response(description: str, schema: Any, **headers: Any) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        "headers": {"X-Request-ID": REQUEST_ID_HEADER, **headers},
    }
    return response


def ingestion_operation(
    summary: str, body_schema: Any, error: Any, accepted: Any
) -> dict[str, Any]:
    retry_after = {"description": "Seconds until the window resets.", "schema": {"type": "string"}}
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            },
            "responses": {
                "202": json_response("Accepted: how many entries were taken.", accepted),
                "400": json_response("Malformed JSON or Content-Length.", error),
                "413": json_response("The body is larger than MAX_BODY_BYTES.", error),
                "415": json_response("The body is not application/json.", error),
                "422": json_response(
                    "Valid JSON of the wrong shape; details name each problem.", error
                ),
                "429": json_response("Rate limited.", error, **{"Retry-After": retry_after}),
            },
        }
    }


def health_operation(summary: str, schema: Any, codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "responses": {code: json_response(summary, schema) for code in codes},
        }
    }


def build_document(version: str = __version__) -> dict[str, Any]:
    collector = SchemaCollector()
    error = collector.ref(ErrorBody)
    accepted = collector.ref(Accepted)
    logs_body = collector.ref(
        ClientLogEntry | ClientLogBatch, mode="validation", name="ClientLogEntryOrBatch"
    )
    metrics_body = collector.ref(ClientMetricsFlush, mode="validation")
    paths = {
        "/health": health_operation(
            "Liveness; calls no dependency.", collector.ref(Liveness), ("200",)
        ),
        "/health/db": health_operation(
            "Database reachability (503 when unhealthy or error).",
            collector.ref(DatabaseHealth),
            ("200", "503"),
        ),
        "/health/apis": health_operation(
            "External APIs (503 when any check errs).", collector.ref(ApisHealth), ("200", "503")
        ),
        "/metrics": {
            "get": {
                "summary": "Prometheus text exposition.",
                "responses": {
                    "200": {
                        "description": "Metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document.",
                "responses": {"200": json_response("OpenAPI document.", {"type": "object"})},
            }
        },
        "/api/logs": ingestion_operation(
            "Browser log entries, one or a batch.", logs_body, error, accepted
        ),
        "/api/metrics": ingestion_operation(
            "Browser metrics collector flush.", metrics_body, error, accepted
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "MiKO platform service", "version": version},
        "paths": paths,
        "components": {"schemas": collector.schemas},
    }


class OpenAPIEndpoint:
    def __init__(self, version: str) -> None:
        self.body = json.dumps(build_document(version), separators=(",", ":")).encode()
        self.headers = ((b"content-type", b"application/json"), (b"cache-control", b"no-cache"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await method_not_allowed(scope, send, "GET, HEAD")
            return
        await send_body(send, 200, self.body, self.headers, head=scope["method"] == "HEAD")
