"""Backups: the locked dump bucket, the scheduled jobs and AWS Backup, per stack."""

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app.backup import cli as backup_cli
from components.backup_job_specs import (
    dead_letter_queue_policy,
    job_policy,
    scheduler_policy,
    task_failed_to_start_pattern,
)
from components.backup_success_alarms import success_filter_pattern
from components.backup_vault import failed_job_event_pattern
from plan.mocks import ACCOUNT_ID as MOCK_ACCOUNT

BUCKET = "aws:s3/bucket:Bucket"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
VAULT = "aws:backup/vault:Vault"
PLAN = "aws:backup/plan:Plan"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RULE = "aws:cloudwatch/eventRule:EventRule"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SCHEDULE = "aws:scheduler/schedule:Schedule"

EXPECTED = {
    "staging": {"mode": "GOVERNANCE", "days": 7, "retention": 7, "copy": None, "lock": None},
    "prod": {"mode": "COMPLIANCE", "days": 35, "retention": 35, "copy": "us-east-2", "lock": 7},
}


def test_dump_bucket_is_locked_per_stack(rendering):
    expected = EXPECTED[rendering.stack]
    bucket = rendering.get(BUCKET, "backups-dumps-bucket")
    assert bucket.inputs["objectLockEnabled"] is True
    retention = rendering.get(LOCK, "backups-dumps-object-lock").inputs["rule"]
    assert retention["defaultRetention"] == {"mode": expected["mode"], "days": expected["days"]}


def test_dump_bucket_is_private_versioned_encrypted_and_tls_only(rendering):
    bucket_id = rendering.get(BUCKET, "backups-dumps-bucket").outputs["id"]
    versioning = rendering.named("backups-dumps-versioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    block = rendering.named("backups-dumps-public-access-block").inputs
    assert all(block[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy"))
    assert all(block[flag] is True for flag in ("ignorePublicAcls", "restrictPublicBuckets"))
    encryption = rendering.named("backups-dumps-encryption").inputs["rules"][0]
    default = encryption["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"] == rendering.named("backups-dumps-key").outputs["arn"]
    policy = json.loads(rendering.named("backups-dumps-tls-only").inputs["policy"])
    [deny] = policy["Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert versioning["bucket"] == bucket_id


def test_lifecycle_moves_dumps_to_cold_storage_then_expires_them(rendering):
    rules = rendering.named("backups-dumps-lifecycle").inputs["rules"]
    dumps = next(rule for rule in rules if rule["id"] == "dumps")
    # Staging expires dumps before Glacier IR's 90-day minimum would be paid: no move.
    expected = {"staging": None, "prod": [{"days": 30, "storageClass": "GLACIER_IR"}]}
    assert dumps.get("transitions") == expected[rendering.stack]
    assert dumps["expiration"]["days"] == {"staging": 35, "prod": 400}[rendering.stack]
    aborts = next(rule for rule in rules if rule["id"] == "abort-incomplete-uploads")
    assert aborts["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}


def test_aws_backup_plan_retention_and_copy_per_stack(rendering):
    expected = EXPECTED[rendering.stack]
    [rule] = rendering.get(PLAN, "backups-vault-plan").inputs["rules"]
    assert rule["lifecycle"] == {"deleteAfter": expected["retention"]}
    copy_vaults = [v for v in rendering.of_type(VAULT) if v.name == "backups-vault-copy-vault"]
    if expected["copy"] is None:
        assert not copy_vaults
        assert not rule.get("copyActions")
    else:
        [copy_vault] = copy_vaults
        assert copy_vault.inputs["region"] == expected["copy"]
        [action] = rule["copyActions"]
        assert action["destinationVaultArn"] == copy_vault.outputs["arn"]


def test_vault_lock_only_where_asked_with_a_cooling_off_period(rendering):
    expected = EXPECTED[rendering.stack]
    locks = rendering.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    if expected["lock"] is None:
        assert locks == []
        return
    assert {lock.inputs["changeableForDays"] for lock in locks} == {expected["lock"]}
    assert {lock.inputs["minRetentionDays"] for lock in locks} == {expected["retention"]}
    assert len(locks) == 2  # the primary vault and its cross-region copy


def test_vaults_are_encrypted_with_their_own_rotating_keys(rendering):
    for vault in rendering.of_type(VAULT):
        key = rendering.named(vault.name.removesuffix("-vault") + "-vault-key")
        assert vault.inputs["kmsKeyArn"] == key.outputs["arn"]
        assert key.inputs["enableKeyRotation"] is True


def test_restore_testing_only_in_prod(rendering):
    plans = rendering.of_type("aws:backup/restoreTestingPlan:RestoreTestingPlan")
    assert len(plans) == (1 if rendering.stack == "prod" else 0)


def test_stateful_backup_resources_are_protected_in_prod_only(rendering):
    stateful = [
        rendering.get(BUCKET, "backups-dumps-bucket"),
        rendering.named("backups-dumps-key"),
        *rendering.of_type(VAULT),
    ]
    assert {resource.protect for resource in stateful} == {rendering.stack == "prod"}


def test_dump_and_verify_run_on_schedules_as_private_fargate_tasks(rendering):
    cluster_arn = rendering.named("app-cluster").outputs["arn"]
    for command in ("dump", "verify"):
        schedule = rendering.get(
            "aws:scheduler/schedule:Schedule", f"backups-jobs-{command}"
        ).inputs
        target = schedule["target"]
        assert target["arn"] == cluster_arn
        ecs = target["ecsParameters"]
        assert ecs["launchType"] == "FARGATE"
        assert ecs["networkConfiguration"]["assignPublicIp"] is False
        task = rendering.get(TASK, f"backups-jobs-{command}")
        assert ecs["taskDefinitionArn"] == task.outputs["arnWithoutRevision"]
        [container] = json.loads(task.inputs["containerDefinitions"])
        assert container["command"] == ["python", "-m", "app", "backup", command]
        assert container["readonlyRootFilesystem"] is True
        secrets = {entry["name"] for entry in container["secrets"]}
        assert "DATABASE_URL" in secrets
        assert ("SCRATCH_DATABASE_URL" in secrets) == (command == "verify")
        environment = {entry["name"] for entry in container["environment"]}
        assert not environment & secrets


def test_missed_or_failed_backups_raise_alarms_on_the_warning_topic(rendering):
    warning_topic = rendering.named("alarms-warning-topic").outputs["arn"]
    for key, days in (("backup-dump-failed", 1), ("backup-verify-failed", 7)):
        alarm = rendering.get(ALARM, f"backups-jobs-{key}")
        assert alarm.inputs["tags"] == {"alarm": key}
        assert alarm.inputs["alarmActions"] == [warning_topic]
        assert alarm.inputs["treatMissingData"] == "breaching"
        assert alarm.inputs["evaluationPeriods"] == days == alarm.inputs["datapointsToAlarm"]
        # Whole UTC days (the sequences: tests/components/test_backup_alarms.py).
        assert alarm.inputs["evaluationWindow"] == {"wallClockWindow": {"timezone": "UTC"}}
        [metric] = [q["metric"] for q in alarm.inputs["metricQueries"] if q.get("metric")]
        assert metric["period"] == 86400
    start_alarms = {
        "backup-dump-not-started": ALARM,
        "backup-verify-not-started": ALARM,
        "backup-schedule-undelivered": ALARM,
        "backup-task-failed-to-start": RULE,
    }
    for key, kind in start_alarms.items():
        [resource] = [r for r in rendering.of_type(kind) if r.inputs["tags"] == {"alarm": key}]
        actions = resource.inputs.get("alarmActions")
        if kind == RULE:
            [target] = [
                t
                for t in rendering.of_type("aws:cloudwatch/eventTarget:EventTarget")
                if t.inputs["rule"] == resource.outputs["name"]
            ]
            actions = [target.inputs["arn"]]
        assert actions == [warning_topic], key
    rule = rendering.get(RULE, "backups-vault-job-failed")
    assert rule.inputs["tags"] == {"alarm": "backup-job-failed"}
    target = rendering.named("backups-vault-job-failed-topic")
    assert target.inputs["arn"] == warning_topic


def test_job_policy_can_write_and_read_dumps_but_never_destroy_a_version():
    policy = json.loads(job_policy("arn:aws:s3:::dumps", "arn:aws:kms:key"))
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert {"s3:PutObject", "s3:GetObject", "s3:ListBucket", "kms:GenerateDataKey"} <= actions
    assert not actions & {"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:*"}


def test_scheduler_may_run_only_the_backup_tasks():
    policy = json.loads(scheduler_policy(["arn:td/dump"], ["arn:role/task"], ["arn:q"], "arn:k"))
    run_task = next(s for s in policy["Statement"] if s["Action"] == ["ecs:RunTask"])
    assert run_task["Resource"] == ["arn:td/dump:*"]
    send = next(s for s in policy["Statement"] if s["Action"] == ["sqs:SendMessage"])
    assert send["Resource"] == ["arn:q"]
    key = next(s for s in policy["Statement"] if "kms:GenerateDataKey" in s["Action"])
    assert key["Resource"] == ["arn:k"]


def test_each_schedule_has_an_encrypted_dead_letter_queue_only_it_may_send_to(rendering):
    # Sources: https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
    # (the execution role sends: sqs:SendMessage) and the SQS key management page (a producer
    # to an SSE-KMS queue needs kms:GenerateDataKey and kms:Decrypt).
    stack_key = rendering.named("secrets-key").outputs["arn"]
    scheduler = rendering.get("aws:iam/role:Role", "backups-jobs-scheduler").outputs["arn"]
    role_policy = json.loads(
        rendering.get("aws:iam/rolePolicy:RolePolicy", "backups-jobs-scheduler").inputs["policy"]
    )
    granted = {a: s["Resource"] for s in role_policy["Statement"] for a in s["Action"]}
    group = rendering.get("aws:scheduler/scheduleGroup:ScheduleGroup", "backups-jobs-schedules")
    for command in ("dump", "verify"):
        queue = rendering.get("aws:sqs/queue:Queue", f"backups-jobs-{command}-dead-letters-queue")
        assert queue.inputs["kmsMasterKeyId"] == stack_key
        schedule = rendering.get(SCHEDULE, f"backups-jobs-{command}").inputs
        assert schedule["groupName"] == group.outputs["name"]
        target = schedule["target"]
        assert target["deadLetterConfig"] == {"arn": queue.outputs["arn"]}
        assert target["retryPolicy"] == {
            "maximumRetryAttempts": 2,
            "maximumEventAgeInSeconds": 3600,
        }
        assert queue.outputs["arn"] in granted["sqs:SendMessage"]
        assert granted["kms:GenerateDataKey"] == [stack_key] == granted["kms:Decrypt"]
        policy = json.loads(
            rendering.named(f"backups-jobs-{command}-dead-letters-policy").inputs["policy"]
        )
        expected_arn = (
            f"arn:aws:scheduler:us-west-2:123456789012:schedule/"
            f"{schedule['groupName']}/{schedule['name']}"
        )
        statements = {s["Sid"]: s for s in policy["Statement"]}
        assert statements["ScheduleExecutionRoleSends"]["Principal"] == {"AWS": scheduler}
        allowed = statements["SchedulerSendsForThisSchedule"]["Condition"]
        assert allowed == {"ArnEquals": {"aws:SourceArn": expected_arn}}
        denied = statements["NobodyElseSends"]
        assert denied["Effect"] == "Deny"
        assert denied["Principal"] == "*"
        assert denied["Condition"]["ArnNotEquals"] == {
            "aws:PrincipalArn": scheduler,
            "aws:SourceArn": expected_arn,
        }


def test_dead_letter_queue_policy_allows_only_the_role_or_the_schedule():
    policy = json.loads(dead_letter_queue_policy("arn:q", "arn:schedule", "arn:role"))
    assert {s["Effect"] for s in policy["Statement"]} == {"Allow", "Deny"}
    assert all(s["Resource"] == "arn:q" for s in policy["Statement"])


def test_success_filter_reads_fields_the_jobs_result_line_has(monkeypatch, capsys):
    for name in ("BACKUP_BUCKET", "DATABASE_URL", "SCRATCH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert backup_cli.main(["dump"]) == 1  # no bucket configured: a failed run's line
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    pattern = success_filter_pattern("dump")
    assert set(re.findall(r"\$\.(\w+)", pattern)) == {"command", "ok"}
    assert line["command"] == "dump"
    # `IS TRUE` matches only a JSON boolean, so the job must write one.
    assert line["ok"] is False


def test_failed_job_pattern_covers_backup_copy_and_restore_jobs():
    pattern = json.loads(failed_job_event_pattern())
    assert pattern["source"] == ["aws.backup"]
    assert set(pattern["detail-type"]) == {
        "Backup Job State Change",
        "Copy Job State Change",
        "Restore Job State Change",
    }
    assert {"state": ["FAILED", "ABORTED", "EXPIRED"]} in pattern["detail"]["$or"]


def backup_event(detail_type: str, **detail: str) -> str:
    """An AWS Backup event shaped like the examples of
    https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html (trimmed)."""
    return json.dumps(
        {
            "version": "0",
            "id": "710b0398-d48e-f3c3-afca-cfeb2fdaa656",
            "detail-type": detail_type,
            "source": "aws.backup",
            "account": "123456789012",
            "time": "2026-11-20T05:12:00Z",
            "region": "us-west-2",
            "resources": ["arn:aws:backup:us-west-2:123456789012:backup-vault:vault"],
            "detail": {"backupVaultName": "vault", **detail},
        }
    )


@pytest.mark.parametrize(
    ("detail_type", "detail", "matched"),
    [
        ("Backup Job State Change", {"backupJobId": "b-1", "state": "FAILED"}, True),
        ("Copy Job State Change", {"copyJobId": "c-1", "state": "FAILED"}, True),
        # Restore job events report `status`, not `state` (the documented example).
        ("Restore Job State Change", {"restoreJobId": "r-1", "status": "FAILED"}, True),
        ("Restore Job State Change", {"restoreJobId": "r-1", "status": "ABORTED"}, True),
        ("Restore Job State Change", {"restoreJobId": "r-1", "status": "COMPLETED"}, False),
        ("Backup Job State Change", {"backupJobId": "b-1", "state": "COMPLETED"}, False),
    ],
)
def test_failed_job_pattern_on_the_event_bus(detail_type, detail, matched):
    # moto's EventBridge routes the event: a rule with the pattern, an SQS queue as its target,
    # then PutEvents with the documented event's fields ($or evaluated by moto).
    event = json.loads(backup_event(detail_type, **detail))
    with mock_aws():
        events = boto3.client("events", region_name="us-west-2")
        sqs = boto3.client("sqs", region_name="us-west-2")
        queue_url = sqs.create_queue(QueueName="failed-jobs")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="failed-jobs", EventPattern=failed_job_event_pattern())
        events.put_targets(Rule="failed-jobs", Targets=[{"Id": "queue", "Arn": queue_arn}])
        events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                }
            ]
        )
        delivered = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
    assert bool(delivered) is matched


def ecs_task_event(**detail_changes: object) -> dict[str, Any]:
    """The task state change event of
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html (trimmed
    of attachments and container details), with `detail` fields replaced."""
    detail = {
        "availabilityZone": "us-west-2c",
        "clusterArn": CLUSTER,
        "containers": [{"lastStatus": "RUNNING", "name": "FargateApp"}],
        "createdAt": "2020-01-23T17:57:34.402Z",
        "launchType": "FARGATE",
        "cpu": "256",
        "memory": "512",
        "desiredStatus": "RUNNING",
        "group": "family:sample-fargate",
        "lastStatus": "RUNNING",
        "taskArn": (
            "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/"
            "c13b4cb40f1f4fe4a2971f76ae5a47ad"
        ),
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:111122223333:task-definition/sample-fargate:1",
        "version": 4,
        "platformVersion": "1.3.0",
    }
    return {
        "version": "0",
        "id": "3317b2af-7005-947d-b652-f55e762e571a",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "111122223333",
        "time": "2020-01-23T17:57:58Z",
        "region": "us-west-2",
        "resources": [detail["taskArn"]],
        "detail": {**detail, **detail_changes},
    }


CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster"
FAMILIES = ("miko-prod-backup-dump", "miko-prod-backup-verify")
FAILED_TO_START = {
    "desiredStatus": "STOPPED",
    "lastStatus": "STOPPED",
    "stopCode": "TaskFailedToStart",
    "stoppedReason": "ResourceInitializationError: unable to pull secrets or registry auth",
}


@pytest.mark.parametrize(
    ("detail", "matched"),
    [
        ({**FAILED_TO_START, "group": "family:miko-prod-backup-dump"}, True),
        ({**FAILED_TO_START, "group": "family:miko-prod-backup-verify"}, True),
        # The documented sample as it is: a running task of another family.
        ({}, False),
        # A backup task still starting or running, or one that ran and stopped.
        ({"group": "family:miko-prod-backup-dump", "lastStatus": "PENDING"}, False),
        ({"group": "family:miko-prod-backup-dump"}, False),
        (
            {
                **FAILED_TO_START,
                "group": "family:miko-prod-backup-dump",
                "stopCode": "EssentialContainerExited",
            },
            False,
        ),
        # The web service's tasks, another cluster's backup family.
        ({**FAILED_TO_START, "group": "service:miko-prod-app"}, False),
        (
            {
                **FAILED_TO_START,
                "group": "family:miko-prod-backup-dump",
                "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/other",
            },
            False,
        ),
    ],
)
def test_task_failed_to_start_pattern_on_the_event_bus(detail, matched):
    # moto's EventBridge evaluates the rule (the operators used: exact values only).
    event = ecs_task_event(**detail)
    pattern = task_failed_to_start_pattern(CLUSTER, FAMILIES)
    with mock_aws():
        events = boto3.client("events", region_name="us-west-2")
        sqs = boto3.client("sqs", region_name="us-west-2")
        queue_url = sqs.create_queue(QueueName="failed-starts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="failed-starts", EventPattern=pattern)
        events.put_targets(Rule="failed-starts", Targets=[{"Id": "queue", "Arn": queue_arn}])
        events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                }
            ]
        )
        delivered = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
    assert bool(delivered) is matched


def test_task_failed_to_start_rule_watches_this_stacks_backup_families(rendering):
    rule = rendering.get(RULE, "backups-jobs-start-failures-task-failed-to-start")
    pattern = json.loads(rule.inputs["eventPattern"])
    prefix = f"miko-{rendering.stack}"
    assert pattern["detail"]["group"] == [
        f"family:{prefix}-backup-dump",
        f"family:{prefix}-backup-verify",
    ]
    assert pattern["detail"]["clusterArn"] == [rendering.named("app-cluster").outputs["arn"]]
    families = {t.inputs["family"] for t in rendering.of_type(TASK) if "backup" in t.name}
    assert {g.removeprefix("family:") for g in pattern["detail"]["group"]} == families


def test_every_backup_key_has_an_explicit_key_policy_that_delegates_to_iam(rendering):
    # AWS Backup: "The permissions in IAM policy and KMS key policy must be consistent"
    # (https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html); the role's
    # AWS-managed policies grant the key use, the key policy delegates to IAM and nothing else.
    names = ["backups-dumps-key", "backups-vault-vault-key"]
    if EXPECTED[rendering.stack]["copy"]:
        names.append("backups-vault-copy-vault-key")
    for name in names:
        key = rendering.named(name).inputs
        assert key["enableKeyRotation"] is True
        [statement] = json.loads(key["policy"])["Statement"]
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{MOCK_ACCOUNT}:root"}
        assert statement["Action"] == "kms:*"


def test_schedules_are_encrypted_with_the_stack_key_the_scheduler_role_may_decrypt(rendering):
    stack_key = rendering.named("secrets-key").outputs["arn"]
    for command in ("dump", "verify"):
        schedule = rendering.get(SCHEDULE, f"backups-jobs-{command}").inputs
        assert schedule["kmsKeyArn"] == stack_key
    policy = json.loads(
        rendering.get("aws:iam/rolePolicy:RolePolicy", "backups-jobs-scheduler").inputs["policy"]
    )
    decrypt = [s for s in policy["Statement"] if "kms:Decrypt" in s["Action"]]
    assert [s["Resource"] for s in decrypt] == [[stack_key]]
