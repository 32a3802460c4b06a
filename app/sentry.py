"""Error reporting to Sentry when SENTRY_DSN is set, with the same redaction as the logs.

Unhandled errors are sent explicitly by the request-context middleware; the logging
integration keeps log lines as breadcrumbs only, so an error is not reported twice.
"""

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

from app.redaction import redact_event
from app.settings import Settings


def before_send(event: Any, hint: Any) -> Any:
    return redact_event(event)


def init_sentry(settings: Settings) -> bool:
    """Initialises the SDK; False (and nothing done) when no DSN is configured."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.app_env,
        release=settings.app_version,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        send_default_pii=False,
        before_send=before_send,
        before_send_transaction=before_send,
        integrations=[LoggingIntegration(event_level=None)],
    )
    return True
