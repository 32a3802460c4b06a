"""POST /api/csp-reports: Content-Security-Policy violation reports from browsers.

Two formats arrive, both parsed here: `report-uri` sends one `application/csp-report` document
(`{"csp-report": {...}}`, https://www.w3.org/TR/CSP3/#deprecated-serialize-violation) and the
Reporting API (`report-to`) sends an `application/reports+json` batch
(https://www.w3.org/TR/reporting-1/#media-type-registration, body fields as in
https://www.w3.org/TR/CSP3/#reporting). Each report becomes one log line (`event: csp_violation`,
counted by a CloudWatch metric filter for the spike alarm) and one increment of a Prometheus
counter labelled only by directive, drawn from a closed list so reports cannot create series.
URLs are cut to scheme, host and path: a query or fragment may carry a token or patient data;
a URL that does not parse (a port out of range, say) is logged as `other`. Every line of a request
is rendered before the first is written.
"""

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.types import Scope

from app.contract import CSP_VIOLATION_EVENT
from app.ingest.endpoint import Integer, document_names
from app.logging_setup import compact_json, utc_timestamp, write_text
from app.metrics import observe_csp_violation

MAX_REPORTS_PER_REQUEST = 20
URL_FIELD = Field(default="", max_length=4096)
KNOWN_DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "font-src",
        "connect-src",
        "media-src",
        "object-src",
        "frame-src",
        "child-src",
        "worker-src",
        "manifest-src",
        "frame-ancestors",
        "base-uri",
        "form-action",
        "require-trusted-types-for",
        "trusted-types",
    }
)
# Values browsers put in blocked-uri/blockedURL instead of a URL.
BLOCKED_KEYWORDS = frozenset(
    {"inline", "eval", "wasm-eval", "data", "blob", "self", "trusted-types-policy"}
)
# Browsers report a blocked extension or scheme by its scheme alone (`chrome-extension`).
SCHEME_ONLY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,31}$")
MEDIA_TYPES = (b"application/csp-report", b"application/reports+json")


class LegacyReport(BaseModel):
    """The `csp-report` member of a report-uri document (hyphenated keys)."""

    model_config = ConfigDict(extra="ignore")
    document_uri: str = Field(default="", max_length=4096, alias="document-uri")
    blocked_uri: str = Field(default="", max_length=4096, alias="blocked-uri")
    effective_directive: str = Field(default="", max_length=64, alias="effective-directive")
    violated_directive: str = Field(default="", max_length=256, alias="violated-directive")
    disposition: str = Field(default="enforce", max_length=16)
    source_file: str = Field(default="", max_length=4096, alias="source-file")
    line_number: Integer = Field(default=0, ge=0, le=10_000_000, alias="line-number")


class LegacyDocument(BaseModel):
    csp_report: LegacyReport = Field(alias="csp-report")


class ViolationBody(BaseModel):
    """The body of a Reporting API `csp-violation` report (camel-case keys)."""

    model_config = ConfigDict(extra="ignore")
    documentURL: str = URL_FIELD
    blockedURL: str = URL_FIELD
    effectiveDirective: str = Field(default="", max_length=256)
    disposition: str = Field(default="enforce", max_length=16)
    sourceFile: str = URL_FIELD
    lineNumber: Integer = Field(default=0, ge=0, le=10_000_000)


class ReportingApiReport(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=64)
    body: ViolationBody


ReportingApiBatch = Annotated[
    list[ReportingApiReport], Field(min_length=1, max_length=MAX_REPORTS_PER_REQUEST)
]
_batch: TypeAdapter[ReportingApiBatch] = TypeAdapter(ReportingApiBatch)
document_names(LegacyDocument, ReportingApiBatch)


def directive_label(directive: str) -> str:
    """The directive's name if it is a CSP directive, else `other` (a closed label set)."""
    name = directive.strip().split(" ", 1)[0].lower()
    return name if name in KNOWN_DIRECTIVES else "other"


def without_query(url: str) -> str:
    """`scheme://host/path` of a URL, a browser keyword as it is, anything else `other`."""
    value = url.strip()
    if value.lower() in BLOCKED_KEYWORDS or SCHEME_ONLY.fullmatch(value):
        return value.lower()
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an unparsable host or a port out of range
        return "other"
    if not parts.scheme or not hostname:
        return parts.scheme.lower() if parts.scheme.isalpha() else "other"
    return f"{parts.scheme.lower()}://{hostname}{port}{parts.path}"


def violation_line(violation: ViolationBody) -> dict[str, Any]:
    return {
        "timestamp": utc_timestamp(),
        "level": "WARNING",
        "logger": "csp",
        "event": CSP_VIOLATION_EVENT,
        "directive": directive_label(violation.effectiveDirective),
        "disposition": "report" if violation.disposition == "report" else "enforce",
        "blocked": without_query(violation.blockedURL),
        "document": without_query(violation.documentURL),
        "source_file": without_query(violation.sourceFile) if violation.sourceFile else "",
        "line": violation.lineNumber,
    }


def as_violation(report: LegacyReport) -> ViolationBody:
    """A report-uri report in the Reporting API's shape."""
    return ViolationBody(
        documentURL=report.document_uri,
        blockedURL=report.blocked_uri,
        effectiveDirective=report.effective_directive or report.violated_directive,
        disposition=report.disposition,
        sourceFile=report.source_file,
        lineNumber=report.line_number,
    )


def parse_reports(document: Any) -> list[dict[str, Any]]:
    """The log lines of a report-uri document or a Reporting API batch (other types skipped)."""
    if isinstance(document, dict):
        return [violation_line(as_violation(LegacyDocument.model_validate(document).csp_report))]
    return [
        violation_line(report.body)
        for report in _batch.validate_python(document)
        if report.type == "csp-violation"
    ]


def ingest_csp_reports(document: Any, scope: Scope) -> int:
    lines = parse_reports(document)
    for line in lines:
        observe_csp_violation(line["directive"])
        write_text(compact_json(line) + "\n")
    return len(lines)
