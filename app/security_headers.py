"""The one header set sent on every response, by the service and by the Cloudflare edge rules.

Values follow the OWASP Secure Headers Project's recommendations; the Content-Security-Policy is
built from the origins the single-page app talks to (Supabase, n8n, Google), so `connect-src`
lists exactly those. Standard library only: the Pulumi program imports this module too.
"""

from collections.abc import Iterable
from urllib.parse import urlsplit

HSTS_MAX_AGE_SECONDS = 63_072_000  # two years

GOOGLE_CONNECT_ORIGINS = ("https://www.googleapis.com", "https://accounts.google.com")

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "xr-spatial-tracking",
        "interest-cohort",
    )
)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL; ValueError when it has no http(s) scheme or no host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http", "wss") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}".lower()


def connect_origins(urls: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated origins of the given URLs plus Google's, for `connect-src`.

    A Supabase origin brings its realtime websocket origin (`wss://`) with it.
    """
    origins = {origin_of(url) for url in urls if url}
    origins |= {
        "wss://" + origin.removeprefix("https://")
        for origin in origins
        if origin.startswith("https://") and origin.endswith(".supabase.co")
    }
    return sorted(origins | set(GOOGLE_CONNECT_ORIGINS))


def content_security_policy(origins: Iterable[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "https://apis.google.com", "https://accounts.google.com"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *origins],
        "frame-src": ["https://accounts.google.com"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    rendered = [f"{name} {' '.join(values)}" for name, values in directives.items()]
    return "; ".join([*rendered, "upgrade-insecure-requests"])


def security_headers(integration_urls: Iterable[str]) -> dict[str, str]:
    """Header name to value, in a stable order, for the given integration URLs."""
    return {
        "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains",
        "Content-Security-Policy": content_security_policy(connect_origins(integration_urls)),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Permitted-Cross-Domain-Policies": "none",
    }
