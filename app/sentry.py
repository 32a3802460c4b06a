"""Error reporting to Sentry when SENTRY_DSN is set, through the same scrubbing as the logs.

Unhandled errors are sent explicitly by the request-context middleware; the logging
integration keeps log lines as breadcrumbs only, so an error is not reported twice.

Nothing is collected that the pipeline would have to find afterwards: no default PII (cookies,
user, client IP), no local variables of stack frames (they held raw request bytes and parsed
entries), no request bodies. What is sent (messages, headers, URLs, breadcrumbs, tags, extra,
log and metric attributes) goes through `app.redaction` in every `before_*` hook, after
Sentry's own EventScrubber (recursive, with the normalised denylist) has run. A hook that fails
drops the item: nothing unscrubbed is sent.
"""

import warnings
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

from app.redaction import scrub_breadcrumb, scrub_event, scrub_log, scrub_metric
from app.settings import Settings

# Sentry's EventScrubber compares lower-cased keys exactly; these are spellings its default
# list lacks (the hooks below match any spelling).
EXTRA_DENYLIST = [
    "access_token",
    "refresh_token",
    "id_token",
    "accesstoken",
    "refreshtoken",
    "api-key",
    "x-api-key",
    "apikey",
    "client_secret",
    "clientsecret",
    "supabase_anon_key",
    "service_role_key",
    "email",
    "phone",
    "dob",
    "ssn",
    "name",
    "first_name",
    "last_name",
    "full_name",
    "firstname",
    "lastname",
    "fullname",
    "date_of_birth",
    "birthdate",
    "address",
]


def _fail_closed(scrubber: Any, item: Any) -> Any:
    try:
        return scrubber(item)
    except Exception:
        return None


def before_send(event: Any, hint: Any) -> Any:
    return _fail_closed(scrub_event, event)


def before_breadcrumb(crumb: Any, hint: Any) -> Any:
    return _fail_closed(scrub_breadcrumb, crumb)


def before_send_log(log: Any, hint: Any) -> Any:
    return _fail_closed(scrub_log, log)


def before_send_metric(metric: Any, hint: Any) -> Any:
    return _fail_closed(scrub_metric, metric)


def sentry_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `sentry_sdk.init` (a DSN must be configured)."""
    assert settings.sentry_dsn is not None
    return {
        "dsn": settings.sentry_dsn.get_secret_value(),
        "environment": settings.app_env,
        "release": settings.app_version,
        "traces_sample_rate": settings.sentry_traces_sample_rate,
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
        "event_scrubber": EventScrubber(
            denylist=[*DEFAULT_DENYLIST, *EXTRA_DENYLIST],
            pii_denylist=list(DEFAULT_PII_DENYLIST),
            recursive=True,
            send_default_pii=False,
        ),
        "before_send": before_send,
        "before_send_transaction": before_send,
        "before_breadcrumb": before_breadcrumb,
        "before_send_log": before_send_log,
        "before_send_metric": before_send_metric,
        "integrations": [LoggingIntegration(event_level=None)],
    }


def init_sentry(settings: Settings) -> bool:
    """Initialises the SDK; False (and nothing done) when no DSN is configured."""
    if settings.sentry_dsn is None:
        return False
    with warnings.catch_warnings():
        # sentry-sdk 2.75 deprecates send_default_pii for data_collection; False is what both
        # mean by default, and stating it keeps the intent visible.
        warnings.filterwarnings(
            "ignore",
            message="The send_default_pii option is deprecated",
            category=DeprecationWarning,
        )
        sentry_sdk.init(**sentry_options(settings))
    return True
