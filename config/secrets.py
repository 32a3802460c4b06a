"""The integration secrets: which config key feeds which Secrets Manager secret and variable.

The container variable names come from the app's contract; the config keys are those of
Pulumi.yaml. Every secret but the optional ones carries a plain `<key>RotatedOn` date (set by
scripts/rotate-secret); those of the Secrets Manager secrets also reach their `rotated-on` tag.
"""

from collections.abc import Callable, Mapping

from app.contract import BROWSER_VISIBLE_VARIABLES, SecretEnv
from components.origin_auth import (
    ORIGIN_AUTH_PREVIOUS_SECRET_KEY,
    ORIGIN_AUTH_SECRET_KEY,
    ORIGIN_SECRET_MIN_LENGTH,
    origin_secret_problem,
)

# Secrets Manager secret -> {container variable (the secret's JSON key): secret config key}.
INTEGRATION_SECRETS: Mapping[str, Mapping[str, str]] = {
    "supabase": {
        SecretEnv.SUPABASE_URL: "supabaseUrl",
        SecretEnv.SUPABASE_ANON_KEY: "supabaseAnonKey",
    },
    "n8n": {SecretEnv.N8N_WEBHOOK_URL: "n8nWebhookUrl", SecretEnv.N8N_INSTANCE_ID: "n8nInstanceId"},
    "google": {
        SecretEnv.GOOGLE_CLIENT_ID: "googleClientId",
        SecretEnv.GOOGLE_API_KEY: "googleApiKey",
    },
    "base44": {SecretEnv.BASE44_APP_ID: "base44AppId"},
    "sentry": {SecretEnv.SENTRY_DSN: "sentryDsn"},
    "database": {SecretEnv.DATABASE_URL: "databaseUrl"},
    "backup-scratch": {SecretEnv.SCRATCH_DATABASE_URL: "backupScratchDatabaseUrl"},
}
APP_INTEGRATIONS = ("supabase", "n8n", "google", "base44", "sentry", "database")
"""The integrations the app container reads; `backup-scratch` is for the backup verify job only."""
BACKUP_DUMP_SECRETS = ("database",)
BACKUP_VERIFY_SECRETS = ("database", "backup-scratch")

PLATFORM_SECRET_KEYS = ("alarmPagerUrl", ORIGIN_AUTH_SECRET_KEY)
"""Secrets the program itself uses (never given to a container)."""
OPTIONAL_SECRET_KEYS = (ORIGIN_AUTH_PREVIOUS_SECRET_KEY,)
"""Platform secrets that may be unset or empty: the origin secret a rotation replaced, accepted
only until the edge sends the new one. Never rotated itself, so without a `<key>RotatedOn`."""
SECRET_KEYS: tuple[str, ...] = (
    *(key for keys in INTEGRATION_SECRETS.values() for key in keys.values()),
    *PLATFORM_SECRET_KEYS,
    *OPTIONAL_SECRET_KEYS,
)
ROTATED_ON_SUFFIX = "RotatedOn"
ROTATED_SECRET_KEYS: tuple[str, ...] = tuple(
    key for key in SECRET_KEYS if key not in OPTIONAL_SECRET_KEYS
)
ROTATED_ON_KEYS: tuple[str, ...] = tuple(f"{key}{ROTATED_ON_SUFFIX}" for key in ROTATED_SECRET_KEYS)


def _optional_origin_secret_problem(key: str, value: str) -> str | None:
    return None if value == "" else origin_secret_problem(key, value)


SECRET_VALUE_CHECKS: Mapping[str, Callable[[str, str], str | None]] = {
    ORIGIN_AUTH_SECRET_KEY: origin_secret_problem,
    ORIGIN_AUTH_PREVIOUS_SECRET_KEY: _optional_origin_secret_problem,
}
"""Secret key -> check(key, value) returning a problem (naming no value) or None. Run on the
plaintext at config load, so a bad value fails like any other config problem; the value itself
stays a secret Output everywhere it goes."""


def secret_placeholder(key: str) -> str:
    """A stand-in value for secret `key` that its check accepts (for renders that read no secret,
    such as the offline plan): `placeholder-<key>`, or letters and digits for the origin secrets."""
    if key not in SECRET_VALUE_CHECKS:
        return f"placeholder-{key}"
    return f"placeholder{key}".ljust(ORIGIN_SECRET_MIN_LENGTH, "0")


VARIABLE_OF_SECRET_KEY: Mapping[str, str] = {
    key: variable for keys in INTEGRATION_SECRETS.values() for variable, key in keys.items()
}
"""Secret config key -> the container variable it reaches."""
BROWSER_VISIBLE_SECRET_KEYS: tuple[str, ...] = tuple(
    key for key, variable in VARIABLE_OF_SECRET_KEY.items() if variable in BROWSER_VISIBLE_VARIABLES
)
"""The secret config keys `browserSecrets` may route to the browser (app.contract decides)."""
