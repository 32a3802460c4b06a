"""Published limits of the services we configure, each with its source."""

from collections.abc import Mapping

# Fargate's valid task sizes: CPU units -> allowed memory (MiB).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
FARGATE_SIZES: Mapping[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4097, 1024)),
    1024: frozenset(range(2048, 8193, 1024)),
    2048: frozenset(range(4096, 16385, 1024)),
    4096: frozenset(range(8192, 30721, 1024)),
    8192: frozenset(range(16384, 61441, 4096)),
    16384: frozenset(range(32768, 122881, 8192)),
}
# CloudWatch Logs accepts only these retention periods (days).
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)

# AWS Backup refuses a vault lock grace period (ChangeableForDays) shorter than this.
# https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
MIN_VAULT_LOCK_COOLING_OFF_DAYS = 3

# S3's minimum storage duration per storage class, in days: an object deleted, overwritten or
# moved on earlier is billed for the rest of it. Classes not listed (STANDARD,
# INTELLIGENT_TIERING) have none. "Comparing the Amazon S3 storage classes":
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare
S3_MIN_STORAGE_DAYS: Mapping[str, int] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "GLACIER_IR": 90,
    "GLACIER": 90,
    "DEEP_ARCHIVE": 180,
}
# A lifecycle rule moves objects to these classes only after this many days in S3 Standard.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
S3_MIN_DAYS_BEFORE_TRANSITION: Mapping[str, int] = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
