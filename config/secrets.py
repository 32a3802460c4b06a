"""The integration secrets: which config key feeds which Secrets Manager secret and variable.

The container variable names come from the app's contract; the config keys are those of
Pulumi.yaml. Every secret carries a plain `<key>RotatedOn` date (set by scripts/rotate-secret);
those of the Secrets Manager secrets also reach their `rotated-on` tag.
"""

from collections.abc import Mapping

from app.contract import BROWSER_VISIBLE_VARIABLES, SecretEnv

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

PLATFORM_SECRET_KEYS = ("alarmPagerUrl",)
"""Secrets the program itself uses (never given to a container)."""
SECRET_KEYS: tuple[str, ...] = (
    *(key for keys in INTEGRATION_SECRETS.values() for key in keys.values()),
    *PLATFORM_SECRET_KEYS,
)
ROTATED_ON_SUFFIX = "RotatedOn"
ROTATED_ON_KEYS: tuple[str, ...] = tuple(f"{key}{ROTATED_ON_SUFFIX}" for key in SECRET_KEYS)

VARIABLE_OF_SECRET_KEY: Mapping[str, str] = {
    key: variable for keys in INTEGRATION_SECRETS.values() for variable, key in keys.items()
}
"""Secret config key -> the container variable it reaches."""
BROWSER_VISIBLE_SECRET_KEYS: tuple[str, ...] = tuple(
    key for key, variable in VARIABLE_OF_SECRET_KEY.items() if variable in BROWSER_VISIBLE_VARIABLES
)
"""The secret config keys `browserSecrets` may route to the browser (app.contract decides)."""
