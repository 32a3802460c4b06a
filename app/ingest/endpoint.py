"""The shared shape of an ingestion endpoint: POST, a JSON body, validation, 202.

Every way a request can be wrong ends in a 4xx with a message naming the problem: another
method 405 (answered by the router, app/routing.py), another content type 415, unparsable JSON
400, a valid document of the wrong shape 422 with the location of each problem. A message never
carries what was rejected, which may be a secret: no value, and no key either (a location names
only the documented fields and the positions in a list; any other key reads `*`).

A document is parsed as the JSON RFC says and nothing this process cannot render gets through:
an integer too long for Python's int/str conversion is a 400 (it was a 500), and a lone
surrogate escape (`"\\ud800"`, which a browser's JSON.stringify writes for a broken emoji) is
replaced by U+FFFD, since no UTF-8 line could hold it (it was a 500 when the line was written).

Each ingest function validates and renders every output line of a request before it writes the
first one, so a request is taken or refused whole: a retry of a refused batch duplicates nothing.
"""

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from starlette.types import Receive, Scope, Send

from app.errors import send_error, send_json

MAX_VALIDATION_DETAILS = 20
HIDDEN_KEY = "*"
REPLACEMENT_CHARACTER = "\ufffd"

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


# A `\uD800`-`\uDFFF` escape in the raw body: only then can the document hold a lone surrogate.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(body: bytes) -> Any:
    if not body:
        raise RequestProblem(400, "malformed_json", "the request body is empty; send JSON")
    try:
        # Strict decoding: an encoded surrogate (not UTF-8) is refused, not smuggled in.
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError:
        raise RequestProblem(400, "malformed_json", "the body is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        raise RequestProblem(400, "malformed_json", message) from None
    except ValueError:
        # int("…") past sys.get_int_max_str_digits(): no valid document needs such a number.
        raise RequestProblem(400, "malformed_json", "a number in the body is too long") from None
    except RecursionError:
        raise RequestProblem(400, "malformed_json", "JSON nested too deeply") from None
    if SURROGATE_ESCAPE.search(body):
        return without_lone_surrogates(document)
    return document


def _clean(text: str) -> str:
    return SURROGATE.sub(REPLACEMENT_CHARACTER, text)


def without_lone_surrogates(document: Any) -> Any:
    """The document with every lone surrogate (in keys and strings) replaced by U+FFFD.

    json.loads joins escaped pairs into one code point, so any surrogate left is a lone one.
    Iterative: the document may be nested as deep as the JSON parser allowed.
    """
    if isinstance(document, str):
        return _clean(document)
    root = [document]
    pending: list[tuple[Any, Any]] = [(root, 0)]
    while pending:
        container, position = pending.pop()
        value = container[position]
        if isinstance(value, str):
            container[position] = _clean(value)
        elif isinstance(value, list):
            pending.extend((value, index) for index in range(len(value)))
        elif isinstance(value, dict):
            cleaned = {_clean(key): item for key, item in value.items()}
            container[position] = cleaned
            pending.extend((cleaned, key) for key in cleaned)
    return root[0]


# --- what a 422 may say -------------------------------------------------------------------------

_documented_names: set[str] = set()


def document_names(*annotations: Any) -> None:
    """Adds the property names (and constant values) of these types' JSON schemas to the names
    a 422 may repeat. Each ingest module registers its body types at import."""
    for annotation in annotations:
        schema = TypeAdapter(annotation).json_schema(mode="validation")
        _documented_names.update(_schema_names(schema))


def _schema_names(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            yield from properties
        if isinstance(node.get("const"), str):
            yield node["const"]
        for value in node.values():
            yield from _schema_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_names(value)


def safe_location(loc: tuple[int | str, ...]) -> str:
    """A problem's location: list positions and documented names, anything else `*`."""
    return ".".join(
        str(part) if isinstance(part, int) or part in _documented_names else HIDDEN_KEY
        for part in loc
    )


def validation_details(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"loc": safe_location(problem["loc"]), "msg": problem["msg"]}
        for problem in error.errors(include_input=False, include_url=False, include_context=False)[
            :MAX_VALIDATION_DETAILS
        ]
    ]


# --- timestamps ---------------------------------------------------------------------------------

# RFC 3339 section 5.6 `date-time`, what OpenAPI's `format: date-time` means: a string with a
# time offset. No number (pydantic alone would read one as Unix time), no bare date.
RFC3339_DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<clock>[0-9]{2}:[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?P<fraction>\.[0-9]+)?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
DATE_TIME_MESSAGE = "must be an RFC 3339 date-time string, e.g. 2026-01-16T10:00:00.000Z"


def rfc3339_only(value: Any) -> str:
    """The value if it is an RFC 3339 date-time string (a leap second read as :59.999999)."""
    if not isinstance(value, str) or (matched := RFC3339_DATE_TIME.fullmatch(value)) is None:
        raise PydanticCustomError("date_time_format", DATE_TIME_MESSAGE)
    if matched["second"] == "60":
        return f"{matched['date']}T{matched['clock']}:59.999999{matched['offset']}"
    return value


DateTime = Annotated[datetime, BeforeValidator(rfc3339_only)]
"""A timestamp as the OpenAPI document says: `{"type": "string", "format": "date-time"}`."""


def json_integer(value: Any) -> int:
    """A JSON Schema `integer`: an int, or a number with a zero fraction (`3.0`); no boolean,
    no numeric string (pydantic alone would take `"3"`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("int_type", "Input should be a valid integer")


Integer = Annotated[int, BeforeValidator(json_integer)]
"""An integer as the OpenAPI document says: `{"type": "integer"}`."""


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
