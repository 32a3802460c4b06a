"""POST /api/csp-reports: both report formats browsers send, cut to what is safe to keep.

Bodies follow the W3C definitions the endpoint cites (CSP3's deprecated report-uri document and
the Reporting API's application/reports+json batch); tests/frontend/ shows a real Chromium
violation arriving here.
"""

import json

import pytest
from prometheus_client import REGISTRY

from app.contract import CSP_REPORTS_PATH, CSP_VIOLATION_REPORTED
from app.ingest.csp_reports import MAX_REPORTS_PER_REQUEST, directive_label, without_query

pytestmark = pytest.mark.usefixtures("clean_environment")

LEGACY = {
    "csp-report": {
        "document-uri": "https://miko.example/consultation?email=jane%40example.com#step2",
        "referrer": "",
        "violated-directive": "connect-src",
        "effective-directive": "connect-src",
        "original-policy": "default-src 'self'",
        "disposition": "enforce",
        "blocked-uri": "https://evil.example/collect?token=abc123",
        "status-code": 200,
    }
}


def reporting_api(*directives: str, kind: str = "csp-violation") -> list[dict[str, object]]:
    return [
        {
            "type": kind,
            "age": 10,
            "url": "https://miko.example/",
            "user_agent": "Mozilla/5.0",
            "body": {
                "documentURL": "https://miko.example/?session=xyz",
                "blockedURL": "inline",
                "effectiveDirective": directive,
                "disposition": "report",
                "sourceFile": "https://miko.example/assets/index-Ab12Cd34.js?v=1",
                "lineNumber": 12,
            },
        }
        for directive in directives
    ]


def violations_logged(out: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if CSP_VIOLATION_REPORTED.matches(line)]


def count(directive: str) -> float:
    return REGISTRY.get_sample_value("miko_csp_violations_total", {"directive": directive}) or 0.0


def test_a_report_uri_document_is_logged_without_query_or_fragment(client, capsys):
    before = count("connect-src")
    response = client.post(
        CSP_REPORTS_PATH,
        content=json.dumps(LEGACY),
        headers={"content-type": "application/csp-report"},
    )

    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    out = capsys.readouterr().out
    (line,) = violations_logged(out)
    assert line["directive"] == "connect-src"
    assert line["blocked"] == "https://evil.example/collect"
    assert line["document"] == "https://miko.example/consultation"
    assert "abc123" not in out
    assert "jane" not in out
    assert count("connect-src") == before + 1


def test_a_reporting_api_batch_counts_each_violation_and_skips_other_types(client, capsys):
    body = [*reporting_api("script-src-elem", "style-src"), *reporting_api("x", kind="deprecation")]
    response = client.post(
        CSP_REPORTS_PATH,
        content=json.dumps(body),
        headers={"content-type": "application/reports+json"},
    )

    assert response.json() == {"accepted": 2}
    lines = violations_logged(capsys.readouterr().out)
    assert [line["directive"] for line in lines] == ["script-src-elem", "style-src"]
    assert {line["disposition"] for line in lines} == {"report"}
    assert lines[0]["blocked"] == "inline"
    assert lines[0]["source_file"] == "https://miko.example/assets/index-Ab12Cd34.js"


@pytest.mark.parametrize(
    ("directive", "label"),
    [("connect-src", "connect-src"), ("script-src 'self'", "script-src"), ("made-up-x", "other")],
)
def test_the_metric_label_is_a_closed_set_of_directives(directive, label):
    assert directive_label(directive) == label


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://user:pw@a.example:8443/p/q?x=1#f", "https://a.example:8443/p/q"),
        ("eval", "eval"),
        ("data", "data"),
        ("chrome-extension", "chrome-extension"),
        ("javascript:alert(document.cookie)", "javascript"),
        ("not a url at all", "other"),
    ],
)
def test_urls_keep_scheme_host_and_path_only(url, kept):
    assert without_query(url) == kept


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", json.dumps(LEGACY), 415),
        ("application/csp-report", "{", 400),
        ("application/csp-report", json.dumps({"csp-report": "x"}), 422),
        (
            "application/reports+json",
            json.dumps(reporting_api(*["img-src"] * (MAX_REPORTS_PER_REQUEST + 1))),
            422,
        ),
    ],
)
def test_bad_reports_are_4xx_and_nothing_is_logged(client, capsys, content_type, body, status):
    response = client.post(CSP_REPORTS_PATH, content=body, headers={"content-type": content_type})

    assert response.status_code == status
    assert violations_logged(capsys.readouterr().out) == []


def test_reports_are_size_capped_and_rate_limited(make_client):
    client = make_client(max_body_bytes=2048, rate_limit=2)
    big = json.dumps({"csp-report": {"blocked-uri": "x" * 4000}})
    headers = {"content-type": "application/csp-report"}

    assert client.post(CSP_REPORTS_PATH, content=big, headers=headers).status_code == 413
    statuses = [
        client.post(CSP_REPORTS_PATH, content=json.dumps(LEGACY), headers=headers).status_code
        for _ in range(3)
    ]
    assert statuses[-1] == 429


def test_a_batch_without_csp_violations_is_accepted_as_zero(client):
    body = reporting_api("x", kind="deprecation")
    response = client.post(
        CSP_REPORTS_PATH,
        content=json.dumps(body),
        headers={"content-type": "application/reports+json"},
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 0}


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example:99999/x",  # port out of range: ValueError from .port, was a 500
        "https://a.example:abc/x",  # port not a number: ValueError, was a 500
        "https://[::1/x",  # unclosed IPv6 bracket
        "http://a.example:-1/",
    ],
)
def test_a_url_that_does_not_parse_is_logged_as_other(client, capsys, url):
    assert without_query(url) == "other"
    document = {"csp-report": {"document-uri": url, "blocked-uri": url, "source-file": url}}
    response = client.post(
        CSP_REPORTS_PATH,
        content=json.dumps(document),
        headers={"content-type": "application/csp-report"},
    )
    assert response.status_code == 202
    (line,) = violations_logged(capsys.readouterr().out)
    assert (line["blocked"], line["document"], line["source_file"]) == ("other",) * 3


@pytest.mark.parametrize("line_number", ["12", True, 1.5, -1])
def test_line_numbers_are_json_integers(client, line_number):
    document = {"csp-report": {"line-number": line_number}}
    response = client.post(
        CSP_REPORTS_PATH,
        content=json.dumps(document),
        headers={"content-type": "application/csp-report"},
    )
    assert response.status_code == 422


def test_a_report_batch_whose_last_report_is_bad_logs_nothing(client, capsys):
    body = [*reporting_api("img-src", "style-src"), {"type": "csp-violation", "body": []}]
    response = client.post(
        CSP_REPORTS_PATH,
        content=json.dumps(body),
        headers={"content-type": "application/reports+json"},
    )
    assert response.status_code == 422
    assert violations_logged(capsys.readouterr().out) == []
