import pytest

from policies._cf_expression import evaluate_expression, expression_errors, request_fields


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


def errors(expression, plan="pro"):
    return expression_errors(expression, plan)


@pytest.mark.parametrize(
    "expression",
    [
        'http.request.uri.path eq "/"',
        'starts_with(http.request.uri.path, "/api/") or http.request.uri.path eq "/api"',
        'not (http.request.uri.path in {"/a" "/b"}) and http.host eq "www.example.com"',
        "true",
        "not ssl",
        'lower(http.host) == "www.example.com" xor http.request.method ne "GET"',
        'concat("a", http.host) eq "ab"',
        'any(http.request.headers["accept"][*] == "application/json")',
        'all(len(http.request.uri.args["filter"][*])[*] in {3 4})',
        "ip.src in {192.0.2.0/24 198.51.100.3..198.51.100.7 2001:db8::/32} or ip.src eq 10.0.0.1",
        "cf.edge.server_port in {80 443 8000..8009}",
        'http.request.uri.path wildcard "/a/*" and http.host strict wildcard "*.example.com"',
        r'http.request.uri.path wildcard r"/a/\*/b/*"',
        r'remove_bytes(http.host, "\x2e\x77") eq "examplecom"',
        'url_decode(http.request.uri.query, "r") contains "<script"',
        "ip.src in $office_network",
    ],
)
def test_valid_expressions_have_no_errors(expression):
    assert errors(expression) == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('http.request.uri.path eq "/" or unknown.field eq "x"', "unknown field 'unknown.field'"),
        ('http.host eq "a" and not http.hots eq "b"', "unknown field 'http.hots'"),
        ('(http.host eq "a" or (http.pth eq "/"))', "unknown field 'http.pth'"),
        ('lower(http.uri) eq "a"', "unknown field 'http.uri'"),
        ('http.host eq "a" or nope(http.host)', "unknown function 'nope()'"),
        ('not trim(http.host) eq "a"', "unknown function 'trim()'"),
    ],
)
def test_an_unknown_field_or_function_is_an_error_anywhere(expression, expected):
    assert expected in errors(expression)


@pytest.mark.parametrize("expression", ['lower(http.host "x") eq "a"', 'concat("a" "b") eq "ab"'])
def test_a_call_missing_its_comma_is_an_error(expression):
    (error,) = errors(expression)
    assert "missing ','" in error


def test_missing_comma_neighbours_are_accepted():
    assert errors('concat("a", "b") eq "ab"') == []
    assert errors('lower(http.host) eq "a"') == []


@pytest.mark.parametrize(
    "expression",
    ['http.request.uri.path matches "^/api/"', 'http.request.uri.path ~ r"^/api/\\d+$"'],
)
@pytest.mark.parametrize(
    ("plan", "refused"),
    [("free", True), ("pro", True), ("business", False), ("enterprise", False)],
)
def test_matches_needs_the_business_plan(expression, plan, refused):
    problems = errors(expression, plan)
    assert bool(problems) is refused
    if refused:
        assert "matches" in problems[0]
        assert "Business" in problems[0]


def test_the_plan_is_required_and_checked():
    with pytest.raises(ValueError, match="unknown Cloudflare plan"):
        expression_errors("true", "premium")


def test_plan_gated_fields_and_functions():
    assert "Business" in errors("ip.src.is_in_european_union", "pro")[0]
    assert errors("ip.src.is_in_european_union", "business") == []
    hmac = 'is_timed_hmac_valid_v0("key", http.request.uri, 100000, http.request.timestamp.sec, 8)'
    assert "Pro" in errors(hmac, "free")[0]
    assert errors(hmac, "pro") == []


@pytest.mark.parametrize(
    ("expression", "valid"),
    [
        (r'http.request.uri.path eq "\d"', False),
        (r'starts_with(http.request.uri.path, "\.")', False),
        (r'http.request.uri.path eq r"\d"', True),
        (r'http.request.uri.path eq r#"a"\d"#', True),
        (r'http.request.uri.path eq "a\"b\\c"', True),
        # Right of matches a quoted string follows regex escaping rules (Values page).
        (r'http.request.uri.path matches "^/a\d+\.js$"', True),
    ],
)
def test_quoted_strings_accept_only_their_escapes(expression, valid):
    problems = errors(expression, "business")
    assert (problems == []) is valid
    if not valid:
        assert "invalid escape" in problems[0]
        assert 'r"' in problems[0]


@pytest.mark.parametrize(
    ("expression", "valid"),
    [
        ('http.request.uri.path wildcard "/a/**"', False),
        ('http.request.uri.path strict wildcard "**.js"', False),
        ('wildcard_replace(http.request.uri.path, "/a/**", "/${1}") eq "/"', False),
        (r'http.request.uri.path wildcard r"/a/\b"', False),
        ('http.request.uri.path wildcard "/a/*/b/*"', True),
        (r'http.request.uri.path wildcard r"/a/\**"', True),
        ('wildcard_replace(http.request.uri.path, "/a/*", "/${1}") eq "/"', True),
    ],
)
def test_wildcard_patterns(expression, valid):
    problems = errors(expression)
    assert (problems == []) is valid
    if not valid:
        assert "wildcard" in problems[0]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("http.request.uri.path eq 5", "String cannot be compared with the number 5"),
        ('ip.src eq "x"', 'IP address cannot be compared with the string "x"'),
        ("http.request.method in {1 2}", "String cannot be compared with the number 1"),
        ('cf.edge.server_port eq "80"', "Integer cannot be compared with the string"),
        ('ip.src contains "10."', "'contains' does not accept an IP address operand"),
        ("ip.src eq 192.0.2.0/24", "use 'in {...}'"),
        ('lower(5) eq "a"', "argument 1 of lower() must be String, not Integer"),
        ('len(http.host) eq "3"', "Integer cannot be compared with the string"),
        ("starts_with(http.host)", "starts_with() takes 2 arguments, got 1"),
        ('starts_with(http.host, "a", "b")', "starts_with() takes 2 arguments, got 3"),
        ('starts_with("abc", "a")', "must be a field, not a literal"),
        ("http.host", "is not a condition"),
        ('"a" eq "a"', "must be a field or a function, not a literal"),
        ('http.request.headers["accept"][*] == "x"', "only allowed inside a function"),
    ],
)
def test_type_and_arity_errors(expression, expected):
    assert any(expected in problem for problem in errors(expression)), errors(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "http.request.uri.path eq",
        'http.request.uri.path eq "/a" extra',
        '(http.host eq "a"',
        'http.host eq "a',
        "http.host in {1, 2}",
        "",
    ],
)
def test_syntax_errors(expression):
    assert errors(expression)


def test_an_invalid_expression_never_evaluates():
    fields = request_fields("/api/x")
    assert evaluate_expression('starts_with(http.request.uri.path, "/api/")', fields) is True
    assert evaluate_expression('starts_with(http.request.uri.path "/api/")', fields) is None
    assert (
        evaluate_expression('starts_with(http.request.uri.path, "/api/") or nope eq "x"', fields)
        is None
    )
