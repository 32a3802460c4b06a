"""Settings from the environment."""

import pytest

from app.backup.config import BackupJobSettings
from app.backup.errors import BackupError


def test_defaults_and_secrets_out_of_repr():
    settings = BackupJobSettings.from_env(
        {
            "BACKUP_BUCKET": "b",
            "DATABASE_URL": "postgresql://u:pw-123@h/db",  # pragma: allowlist secret
        }
    )

    assert settings.prefix == "dumps"
    assert settings.kms_key_id is None
    assert "pw-123" not in repr(settings)


def test_prefix_slashes_are_trimmed_and_empty_prefix_refused():
    assert BackupJobSettings.from_env({"BACKUP_PREFIX": "/prod/db/"}).prefix == "prod/db"
    with pytest.raises(BackupError) as caught:
        BackupJobSettings.from_env({"BACKUP_PREFIX": "/"})
    assert caught.value.cause == "config_invalid"


@pytest.mark.parametrize(
    ("getter", "name"),
    [
        ("require_bucket", "BACKUP_BUCKET"),
        ("require_database_url", "DATABASE_URL"),
        ("require_scratch_database_url", "SCRATCH_DATABASE_URL"),
    ],
)
def test_missing_setting_is_named(getter, name):
    with pytest.raises(BackupError, match=f"{name} is not set"):
        getattr(BackupJobSettings.from_env({}), getter)()
