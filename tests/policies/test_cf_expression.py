import pytest

from policies._cf_expression import evaluate_expression, request_fields


@pytest.mark.parametrize(
    ("expression", "path", "expected"),
    [
        ('starts_with(http.request.uri.path, "/api/")', "/api/leads", True),
        ('starts_with(http.request.uri.path, "/api/")', "/assets/app.js", False),
        ('http.request.uri.path.extension in {"js" "css"}', "/api/app.js", True),
        (
            'http.request.uri.path.extension in {"js"} '
            'and not starts_with(http.request.uri.path, "/api/")',
            "/api/app.js",
            False,
        ),
        ('http.request.uri.path matches "^/api/" && http.request.method eq "GET"', "/api/x", True),
        ('http.request.uri.path ~ r"^/api(/|$)"', "/api", True),
        ('http.request.uri.path wildcard "/API/*"', "/api/x", True),
        ('http.request.uri.path strict wildcard "/API/*"', "/api/x", False),
        ('lower(http.request.uri.path) contains "/static/"', "/Static/a.css", True),
        (
            'http.request.uri.path eq "/" or http.request.uri.path eq "/index.html"',
            "/index.html",
            True,
        ),
        ('not (http.request.uri.path in {"/a" "/b"})', "/a", False),
        (
            'http.host eq "www.example.com" and starts_with(http.request.uri.path, "/api/")',
            "/api/x",
            None,
        ),
        (
            'http.host eq "www.example.com" and starts_with(http.request.uri.path, "/api/")',
            "/x",
            False,
        ),
        (
            'http.host eq "www.example.com" or starts_with(http.request.uri.path, "/api/")',
            "/api/x",
            True,
        ),
        ("unknown_function(http.request.uri.path)", "/x", None),
        ("starts_with(http.request.uri.path", "/x", None),
        ('http.request.uri.path eq "/a" extra', "/a", None),
    ],
)
def test_expression_against_sample_request(expression, path, expected):
    assert evaluate_expression(expression, request_fields(path)) is expected


def test_query_string_is_part_of_the_uri_not_the_path():
    fields = request_fields("/api/leads", "page=2")
    assert evaluate_expression('http.request.uri eq "/api/leads?page=2"', fields) is True
    assert evaluate_expression('http.request.uri.path eq "/api/leads"', fields) is True
