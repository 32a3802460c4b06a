"""The one header set sent on every response, by the service and by the Cloudflare edge rules.

Both build it with `security_headers(browser_values, csp_mode)` from the same inputs: the values
of the SPA's runtime configuration (whatever among them is an absolute URL becomes a
`connect-src` origin) and the stack's CSP mode. There is no second list of origins to drift.

Values follow the OWASP Secure Headers Project, loosened exactly where a real SPA of the clinic's
kind needs it, each checked in headless Chromium (tests/frontend/):
- Google Identity Services: the CSP sources Google documents for its sign-in script, button
  stylesheet, iframes and connections, and `Cross-Origin-Opener-Policy: same-origin-allow-popups`
  so the OAuth popup can post its result back to the page that opened it
  (https://developers.google.com/identity/gsi/web/guides/get-google-api-clientid, sections
  "Content Security Policy" and "Cross Origin Opener Policy");
- `Referrer-Policy: strict-origin-when-cross-origin` (the assessment's value): cross-origin
  requests carry the origin only, which referrer-restricted browser API keys need, and no path or
  query ever leaves the site;
- `style-src 'unsafe-inline'`: UI libraries inject <style> elements at run time.
Violations are reported to the service (CSP_REPORTS_PATH) by `report-uri` (every browser) and
`report-to` (the Reporting API, which supersedes it where supported).
Standard library only: the Pulumi program imports this module too.
"""

from collections.abc import Iterable
from urllib.parse import urlsplit

from app.contract import CSP_MODES, CSP_REPORT_GROUP, CSP_REPORTS_PATH

HSTS_MAX_AGE_SECONDS = 63_072_000  # two years

GOOGLE_SIGN_IN = "https://accounts.google.com/gsi/"
GOOGLE_SIGN_IN_SCRIPT = "https://accounts.google.com/gsi/client"
GOOGLE_SIGN_IN_STYLE = "https://accounts.google.com/gsi/style"
GOOGLE_APIS = "https://www.googleapis.com"
GOOGLE_CONNECT_SOURCES = (GOOGLE_SIGN_IN, GOOGLE_APIS)

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

URL_SCHEMES = ("https", "http", "wss")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL; ValueError when it has no http(s) scheme or no host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}".lower()


def is_absolute_url(value: str) -> bool:
    parts = urlsplit(value.strip())
    return parts.scheme in URL_SCHEMES and bool(parts.hostname)


def connect_origins(browser_values: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated origins of the values that are absolute URLs, for `connect-src`.

    Other values (keys, ids, flags) are skipped. A Supabase origin brings its realtime websocket
    origin (`wss://`) with it. A Sentry DSN's origin drops the key before `@`.
    """
    origins = {origin_of(value) for value in browser_values if is_absolute_url(value)}
    origins |= {
        "wss://" + origin.removeprefix("https://")
        for origin in origins
        if origin.startswith("https://") and origin.endswith(".supabase.co")
    }
    return sorted(origins)


def content_security_policy(origins: Iterable[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", GOOGLE_SIGN_IN_SCRIPT],
        "style-src": ["'self'", "'unsafe-inline'", GOOGLE_SIGN_IN_STYLE],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *origins, *GOOGLE_CONNECT_SOURCES],
        "frame-src": [GOOGLE_SIGN_IN],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "report-uri": [CSP_REPORTS_PATH],
        "report-to": [CSP_REPORT_GROUP],
    }
    rendered = [f"{name} {' '.join(values)}" for name, values in directives.items()]
    return "; ".join(["upgrade-insecure-requests", *rendered])


def csp_header_name(csp_mode: str) -> str:
    """`enforce` -> Content-Security-Policy; `report-only` -> ...-Report-Only (violations are
    reported, nothing is blocked: how a stricter policy is tried on real traffic first)."""
    if csp_mode not in CSP_MODES:
        raise ValueError(f"CSP mode must be one of {', '.join(CSP_MODES)}, not {csp_mode!r}")
    return "Content-Security-Policy" + ("-Report-Only" if csp_mode == "report-only" else "")


def security_headers(browser_values: Iterable[str], csp_mode: str = "enforce") -> dict[str, str]:
    """Header name to value, in a stable order, for the SPA's runtime configuration values."""
    return {
        "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains",
        csp_header_name(csp_mode): content_security_policy(connect_origins(browser_values)),
        "Reporting-Endpoints": f'{CSP_REPORT_GROUP}="{CSP_REPORTS_PATH}"',
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Permitted-Cross-Domain-Policies": "none",
    }
