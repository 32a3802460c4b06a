import pytest

from app.security_headers import connect_origins, origin_of, security_headers


def test_origin_of_strips_path_and_credentials():
    url = "https://user:pw@n8n.example.com:8443/webhook/chat?x=1"  # pragma: allowlist secret
    assert origin_of(url) == "https://n8n.example.com:8443"


@pytest.mark.parametrize("bad", ["not a url", "ftp://host/x", "https://", "/relative"])
def test_origin_of_refuses_non_http_urls(bad):
    with pytest.raises(ValueError, match="not an absolute"):
        origin_of(bad)


def test_supabase_brings_its_realtime_websocket_origin():
    origins = connect_origins(["https://abc.supabase.co", "https://n8n.example.com/webhook/x", ""])
    assert "wss://abc.supabase.co" in origins
    assert "wss://n8n.example.com" not in origins
    assert origins == sorted(set(origins))


def test_header_set_follows_owasp_values():
    headers = security_headers(["https://abc.supabase.co"])
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = dict(
        part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; ") if " " in part
    )
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'self'"
    assert "https://abc.supabase.co" in csp["connect-src"].split()
    assert "https:" not in csp["connect-src"].split()
