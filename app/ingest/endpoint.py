"""The shared shape of an ingestion endpoint: POST, a JSON body, validation, 202.

Every way a request can be wrong ends in a 4xx with a message naming the problem: another
method 405 (answered by the router, app/routing.py), another content type 415, unparsable JSON
400, a valid document of the wrong shape 422 with the location of each problem (never the
rejected value, which may be a secret).
"""

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from app.errors import send_error, send_json

MAX_VALIDATION_DETAILS = 20

IngestFunction = Callable[[Any, Scope], int]


class RequestProblem(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def is_json_content_type(scope: Scope, also: tuple[bytes, ...] = ()) -> bool:
    """application/json, any `+json` type, or one of `also` (CSP's application/csp-report)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type: bytes = value.split(b";", 1)[0].strip().lower()
            return (
                media_type == b"application/json"
                or media_type.endswith(b"+json")
                or media_type in also
            )
    return False


async def read_body(receive: Receive) -> bytes:
    chunks = []
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestProblem(400, "client_disconnected", "the client went away mid-body")
        chunks.append(message.get("body", b""))
        more_body = message.get("more_body", False)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    if not body:
        raise RequestProblem(400, "malformed_json", "the request body is empty; send JSON")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise RequestProblem(400, "malformed_json", "the body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        message = f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        raise RequestProblem(400, "malformed_json", message) from None
    except RecursionError:
        raise RequestProblem(400, "malformed_json", "JSON nested too deeply") from None


def validation_details(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"loc": ".".join(str(part) for part in problem["loc"]), "msg": problem["msg"]}
        for problem in error.errors(include_input=False, include_url=False)[:MAX_VALIDATION_DETAILS]
    ]


class IngestEndpoint:
    """ASGI endpoint: validates the JSON body with `ingest` and answers 202 `{"accepted": n}`.

    Only POST reaches it: the router answers other methods.
    """

    def __init__(self, ingest: IngestFunction, media_types: tuple[bytes, ...] = ()) -> None:
        self.ingest = ingest
        self.media_types = media_types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if not is_json_content_type(scope, self.media_types):
                raise RequestProblem(
                    415, "unsupported_media_type", "send the body as Content-Type: application/json"
                )
            accepted = self.ingest(parse_json(await read_body(receive)), scope)
        except RequestProblem as problem:
            await send_error(scope, send, problem.status, problem.code, problem.message)
            return
        except ValidationError as error:
            details = validation_details(error)
            summary = "; ".join(f"{item['loc'] or 'body'}: {item['msg']}" for item in details[:3])
            await send_error(
                scope, send, 422, "validation_error", f"invalid body: {summary}", details=details
            )
            return
        await send_json(scope, send, 202, {"accepted": accepted})
