"""The cross-stack check: every stack rendered together claims each singleton once."""

import shutil
from pathlib import Path

import pytest

from plan import cross_stack
from plan.cross_stack import AWS_NAMES, NameRule, check, claims, relabel, report, unclassified
from plan.project import PROJECT_DIR
from plan.render import RenderedResource, Rendering, render_stack
from tests.components.conftest import DUMMY_SECRETS, render

ZONE_ID = "3eed57d2689f85b2c9e2f6518cac84a0"
EDGE_DIR = PROJECT_DIR / "edge"
HAS_EDGE = (EDGE_DIR / "Pulumi.yaml").is_file()
ENTRY_POINT_PHASES = (
    "http_request_cache_settings",
    "http_ratelimit",
    "http_response_headers_transform",
)


def resource(stack, type_token, name, inputs, provider="", *, project="miko-platform"):
    """A registration as plan.render records it."""
    return RenderedResource(
        type=type_token,
        name=name,
        urn=f"urn:pulumi:{stack}::{project}::{type_token}::{name}",
        parent=f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}",
        provider=provider,
        custom=True,
        inputs=inputs,
        secret_paths=frozenset(),
        outputs={**inputs, "id": f"{name}-id"},
    )


def aws_provider(stack, name="aws", region="us-west-2"):
    provider = resource(stack, "pulumi:providers:aws", name, {"region": region})
    return provider, f"{provider.urn}::{name}-id"


def rendering(stack, *resources):
    return Rendering(stack=stack, resources=tuple(resources), exports={})


def edge_rendering(environments, stack="clinic"):
    outputs = {name: r.exports for name, r in environments.items()}
    return render_stack(stack, project_dir=EDGE_DIR, stack_outputs=outputs)


# --- today's stacks ---


def test_staging_and_prod_claim_no_aws_singleton_twice():
    collisions = check([render("staging"), render("prod")])
    aws = [c for c in collisions if c.claims[0].key[0] == "aws"]
    assert aws == [], report([render("staging"), render("prod")], aws)


def test_every_stack_together_claims_nothing_twice():
    environments = {stack: render(stack) for stack in ("staging", "prod")}
    renderings = list(environments.values())
    if HAS_EDGE:
        renderings.append(edge_rendering(environments))
    collisions = check(renderings)
    assert collisions == [], report(renderings, collisions)
    assert "none claimed twice" in report(renderings, collisions)


def test_the_environments_claim_their_physical_names():
    whats = {claim.what for claim in claims(render("staging"))}
    assert "AWS S3 bucket name 'miko-staging-release-assets' worldwide" in whats
    assert "AWS CloudWatch log group name '/miko-staging/app' in us-west-2" in whats
    assert "AWS CloudWatch dashboard name 'miko-staging-operations' in the account" in whats
    # the us-east-1 alarm and topic, through the explicit us-east-1 provider
    assert "AWS CloudWatch alarm name 'miko-staging-external-health-check' in us-east-1" in whats
    assert "AWS SNS topic name 'miko-staging-alarms-us-east-1' in us-east-1" in whats
    assert (
        "AWS ECS service name 'miko-staging-app' in us-west-2 under cluster miko-staging" in whats
    )
    assert any(w.startswith("Cloudflare DNS name 'staging.mikoplasticsurgery.com'") for w in whats)


def test_no_rendered_name_like_input_or_cloudflare_type_is_unclassified():
    renderings = [render("staging"), render("prod")]
    if HAS_EDGE:
        renderings.append(edge_rendering({s: render(s) for s in ("staging", "prod")}))
    assert unclassified(renderings) == []


def test_the_guard_fails_on_a_new_kind_of_name():
    new = rendering(
        "staging",
        resource("staging", "aws:glue/job:Job", "etl", {"name": "miko-staging-etl"}),
        resource(
            "staging", "aws:iam/role:Role", "r", {"name": "x", "permissionsBoundaryName": "b"}
        ),
        resource("staging", "cloudflare:index/webAnalyticsSite:WebAnalyticsSite", "w", {}),
    )
    assert unclassified([new]) == [
        "aws:glue/job:Job.name",
        "aws:iam/role:Role.permissionsBoundaryName",
        "cloudflare:index/webAnalyticsSite:WebAnalyticsSite (Cloudflare type)",
    ]


def test_the_table_names_a_scope_for_every_claim():
    for type_token, rules in AWS_NAMES.items():
        assert rules, type_token
        assert all(isinstance(rule, NameRule) for rule in rules)
        assert all(rule.scope in ("global", "account", "region") for rule in rules)


# --- Cloudflare: the collision of issue 13, and DNS names ---


def zone_ruleset(stack, phase):
    """A zone entry-point ruleset, as the environment stacks registered them before issue 13."""
    return resource(
        stack,
        "cloudflare:index/ruleset:Ruleset",
        f"cdn-{phase}",
        {
            "zoneId": ZONE_ID,
            "kind": "zone",
            "phase": phase,
            "name": phase,
            "description": "per-environment rules",
            "rules": [
                {
                    "action": "block",
                    "expression": 'starts_with(http.request.uri.path, "/api/")',
                    "ref": "rate_limit_api",
                    "ratelimit": {
                        "period": 10,
                        "mitigationTimeout": 10,
                        "requestsPerPeriod": 100,
                        "characteristics": ["ip.src", "cf.colo.id"],
                    },
                }
            ],
        },
    )


def zone_setting(stack, setting_id, value):
    return resource(
        stack,
        "cloudflare:index/zoneSetting:ZoneSetting",
        f"cdn-{setting_id}",
        {"zoneId": ZONE_ID, "settingId": setting_id, "value": value},
    )


def test_two_environments_owning_the_zone_entry_points_are_refused():
    """Issue 13: staging and prod each created the zone's entry-point rulesets and settings."""
    stacks = [
        rendering(
            stack,
            *(zone_ruleset(stack, phase) for phase in ENTRY_POINT_PHASES),
            zone_setting(stack, "ssl", "strict"),
            zone_setting(stack, "always_use_https", "on"),
        )
        for stack in ("staging", "prod")
    ]
    collisions = check(stacks)
    assert {c.what for c in collisions} == {
        *(
            f"Cloudflare zone entry-point ruleset of phase {phase} in zone {ZONE_ID}"
            for phase in ENTRY_POINT_PHASES
        ),
        f"Cloudflare zone setting 'ssl' of zone {ZONE_ID}",
        f"Cloudflare zone setting 'always_use_https' of zone {ZONE_ID}",
    }
    assert all(c.stacks == ("staging", "prod") for c in collisions)
    text = report(stacks, collisions)
    assert "5 singleton(s) claimed twice (mandatory)" in text
    assert (
        "urn:pulumi:prod::miko-platform::cloudflare:index/ruleset:Ruleset::cdn-http_ratelimit"
        in text
    )
    assert "stack staging (miko-platform): cdn-http_ratelimit" in text


def test_one_owner_per_phase_and_custom_rulesets_claim_nothing():
    custom = resource(
        "prod",
        "cloudflare:index/ruleset:Ruleset",
        "custom",
        {"accountId": "acct", "kind": "custom", "phase": "http_ratelimit"},
    )
    assert (
        check(
            [
                rendering("staging", zone_ruleset("staging", "http_ratelimit")),
                rendering("prod", custom),
            ]
        )
        == []
    )
    other_zone = resource(
        "prod",
        "cloudflare:index/ruleset:Ruleset",
        "elsewhere",
        {"zoneId": "another-zone", "kind": "zone", "phase": "http_ratelimit"},
    )
    assert (
        check(
            [
                rendering("staging", zone_ruleset("staging", "http_ratelimit")),
                rendering("prod", other_zone),
            ]
        )
        == []
    )


def test_a_second_entry_point_in_one_stack_is_refused():
    twice = rendering(
        "clinic",
        zone_ruleset("clinic", "http_ratelimit"),
        resource(
            "clinic",
            "cloudflare:index/ruleset:Ruleset",
            "another",
            {"zoneId": ZONE_ID, "kind": "zone", "phase": "http_ratelimit"},
        ),
    )
    (collision,) = check([twice])
    assert collision.stacks == ("clinic",)
    assert "claimed by clinic twice" in collision.message()


@pytest.mark.skipif(not HAS_EDGE, reason="no edge project yet")
def test_the_edge_stack_deployed_twice_is_refused_for_every_phase_and_setting():
    environments = {stack: render(stack) for stack in ("staging", "prod")}
    edge = edge_rendering(environments)
    copy = relabel(edge, "clinic-copy")  # the same program and config under a second stack
    collisions = check([edge, copy])
    phases = {r.inputs["phase"] for r in edge.of_type("cloudflare:index/ruleset:Ruleset")}
    settings = {
        r.inputs["settingId"] for r in edge.of_type("cloudflare:index/zoneSetting:ZoneSetting")
    }
    assert len(phases) >= 5
    assert {c.what for c in collisions} >= {
        *(
            f"Cloudflare zone entry-point ruleset of phase {phase} in zone {ZONE_ID}"
            for phase in phases
        ),
        *(f"Cloudflare zone setting {setting!r} of zone {ZONE_ID}" for setting in settings),
    }
    assert all(c.stacks == ("clinic", "clinic-copy") for c in collisions)


def dns(stack, name, record_type, content, logical=None):
    return resource(
        stack,
        "cloudflare:index/dnsRecord:DnsRecord",
        logical or f"{record_type.lower()}-{name}",
        {"zoneId": ZONE_ID, "name": name, "type": record_type, "content": content, "proxied": True},
    )


def test_a_dns_name_claimed_by_two_stacks_is_refused():
    staging = rendering("staging", dns("staging", "www.mikoplasticsurgery.com", "CNAME", "a.elb"))
    prod = rendering("prod", dns("prod", "WWW.mikoplasticsurgery.com.", "CNAME", "b.elb"))
    (collision,) = check([staging, prod])
    assert "Cloudflare DNS name 'www.mikoplasticsurgery.com'" in collision.what
    assert collision.stacks == ("staging", "prod")


def test_a_cname_excludes_every_other_record_of_its_name_even_in_one_stack():
    one = rendering(
        "prod",
        dns("prod", "www.mikoplasticsurgery.com", "CNAME", "b.elb"),
        dns("prod", "www.mikoplasticsurgery.com", "TXT", "v=spf1 -all"),
    )
    (collision,) = check([one])
    assert "a CNAME excludes every other record of its name; records: CNAME, TXT" in collision.what


def test_records_of_one_type_may_repeat_within_a_stack_but_not_across_stacks():
    a_records = [
        dns("prod", "mikoplasticsurgery.com", "A", f"192.0.2.{i}", f"a{i}") for i in (1, 2)
    ]
    assert check([rendering("prod", *a_records)]) == []
    staging = rendering("staging", dns("staging", "mikoplasticsurgery.com", "A", "192.0.2.9"))
    (collision,) = check([rendering("prod", *a_records), staging])
    assert len(collision.claims) == 3
    other_names = rendering("staging", dns("staging", "staging.mikoplasticsurgery.com", "A", "x"))
    assert check([rendering("prod", *a_records), other_names]) == []


def test_a_copy_of_staging_collides_on_its_dns_names(tmp_path: Path):
    """The real program for a second stack with staging's config (Pulumi.staging-copy.yaml):
    its AWS names follow the stack name, its site hostname does not."""
    for entry in PROJECT_DIR.iterdir():
        if not entry.name.startswith((".", "Pulumi.")):
            (tmp_path / entry.name).symlink_to(entry)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "Pulumi.staging.yaml", tmp_path / "Pulumi.staging-copy.yaml")
    copy = render_stack("staging-copy", secret_values=DUMMY_SECRETS, project_dir=tmp_path)
    collisions = check([render("staging"), copy])
    assert collisions
    assert all(c.what.startswith("Cloudflare DNS name ") for c in collisions)
    assert any("'staging.mikoplasticsurgery.com'" in c.what for c in collisions)
    assert all(c.stacks == ("staging", "staging-copy") for c in collisions)


# --- AWS names ---


def test_an_iam_role_name_claimed_by_two_stacks_is_refused():
    stacks = []
    for stack, region in (("staging", "us-west-2"), ("prod", "eu-west-1")):
        provider, reference = aws_provider(stack, region=region)
        role = resource(
            stack,
            "aws:iam/role:Role",
            "app-task",
            {"name": "miko-app-task", "assumeRolePolicy": "{}"},
            provider=reference,
        )
        stacks.append(rendering(stack, provider, role))
    (collision,) = check(stacks)
    assert collision.what == "AWS IAM role name 'miko-app-task' in the account"
    assert [claim.urn for claim in collision.claims] == [
        "urn:pulumi:staging::miko-platform::aws:iam/role:Role::app-task",
        "urn:pulumi:prod::miko-platform::aws:iam/role:Role::app-task",
    ]


def test_one_stack_of_the_account_records_its_management_events():
    staging, prod = render("staging"), render("prod")
    owners = [c.stack for c in claims(staging) + claims(prod) if "management-event" in c.what]
    assert owners == ["prod"]


@pytest.mark.parametrize(
    "trail_inputs",
    [
        {
            "advancedEventSelectors": [
                {"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}
            ]
        },
        {},  # basic selectors: CloudTrail records management events by default
    ],
)
def test_two_stacks_recording_the_account_s_management_events_are_refused(trail_inputs):
    stacks = [
        rendering(stack, resource(stack, "aws:cloudtrail/trail:Trail", "audit", trail_inputs))
        for stack in ("staging", "prod")
    ]
    (collision,) = check(stacks)
    assert collision.what == "The account's management-event trail (auditAccountTrail)"
    assert collision.stacks == ("staging", "prod")


def test_a_data_events_only_trail_claims_nothing():
    data_only = {
        "advancedEventSelectors": [
            {"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}
        ]
    }
    stacks = [
        rendering(stack, resource(stack, "aws:cloudtrail/trail:Trail", "audit", data_only))
        for stack in ("staging", "prod")
    ]
    assert check(stacks) == []


def test_iam_names_are_case_insensitive():
    first = rendering(
        "staging", resource("staging", "aws:iam/role:Role", "r", {"name": "Miko-Role"})
    )
    second = rendering("prod", resource("prod", "aws:iam/role:Role", "r", {"name": "miko-role"}))
    assert len(check([first, second])) == 1


def test_staging_rendered_twice_under_two_names_collides_on_every_explicit_name():
    """The same config deployed as a second stack whose names do not follow the stack name."""
    staging = render("staging")
    copy = relabel(staging, "staging-copy")
    collisions = check([staging, copy])
    namespaces = {c.claims[0].key[1] for c in collisions if c.claims[0].key[0] == "aws"}
    assert namespaces >= {
        "S3 bucket",
        "CloudWatch log group",
        "CloudWatch alarm",
        "CloudWatch dashboard",
        "ECR repository",
        "KMS alias",
        "ECS cluster",
        "ECS service",
        "EventBridge Scheduler group",
        "EventBridge Scheduler schedule",
        "EventBridge rule",
        "SNS topic",
        "SQS queue",
        "Secrets Manager secret",
        "load balancer",
    }
    claimed = {c.claims[0].urn for c in collisions}
    assert len({claim.urn for claim in claims(staging)} - claimed) == 0
    assert all(c.stacks == ("staging", "staging-copy") for c in collisions)


def test_a_bucket_prefix_claims_nothing():
    first = rendering(
        "staging",
        resource("staging", "aws:s3/bucket:Bucket", "dumps", {"bucketPrefix": "backups-dumps-"}),
    )
    second = rendering(
        "prod",
        resource("prod", "aws:s3/bucket:Bucket", "dumps", {"bucketPrefix": "backups-dumps-"}),
    )
    assert claims(first) == []
    assert check([first, second]) == []
    # the real program: the dump bucket is named by prefix in both stacks
    dumps = [
        r for r in render("prod").of_type("aws:s3/bucket:Bucket") if "bucketPrefix" in r.inputs
    ]
    assert dumps
    assert not any(c.urn == dumps[0].urn for c in claims(render("prod")))


def test_an_s3_bucket_name_is_global_across_regions():
    stacks = []
    for stack, region in (("staging", "us-west-2"), ("prod", "eu-west-1")):
        provider, reference = aws_provider(stack, region=region)
        bucket = resource(stack, "aws:s3/bucket:Bucket", "b", {"bucket": "miko-assets"}, reference)
        stacks.append(rendering(stack, provider, bucket))
    (collision,) = check(stacks)
    assert collision.what == "AWS S3 bucket name 'miko-assets' worldwide"


def test_regional_names_collide_only_in_one_region():
    def stack_with_alarm(stack, region, own_region=None):
        provider, reference = aws_provider(stack, name=f"aws-{region}", region=region)
        inputs = {"name": "miko-health"} | ({"region": own_region} if own_region else {})
        alarm = resource(stack, "aws:cloudwatch/metricAlarm:MetricAlarm", "a", inputs, reference)
        return rendering(stack, provider, alarm)

    assert (
        check([stack_with_alarm("staging", "us-west-2"), stack_with_alarm("prod", "us-east-1")])
        == []
    )
    (collision,) = check(
        [stack_with_alarm("staging", "us-east-1"), stack_with_alarm("prod", "us-east-1")]
    )
    assert collision.what == "AWS CloudWatch alarm name 'miko-health' in us-east-1"
    # a resource's own region (pulumi-aws 7) wins over its provider's
    (collision,) = check(
        [
            stack_with_alarm("staging", "us-west-2", own_region="us-east-1"),
            stack_with_alarm("prod", "us-east-1"),
        ]
    )
    assert "in us-east-1" in collision.what


def test_names_under_a_parent_collide_only_under_the_same_parent():
    def stack_with_rule(stack, bus=None):
        inputs = {"name": "deployment-failed"} | ({"eventBusName": bus} if bus else {})
        return rendering(stack, resource(stack, "aws:cloudwatch/eventRule:EventRule", "r", inputs))

    assert len(check([stack_with_rule("staging"), stack_with_rule("prod")])) == 1
    assert check([stack_with_rule("staging", "bus-a"), stack_with_rule("prod", "bus-b")]) == []

    def stack_with_group(stack):
        """A security group named the same in each stack's own VPC (mock ids are per logical
        name, so both VPCs have the id `vpc-id`: the parent is resolved to the stack's VPC)."""
        vpc = resource(stack, "aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
        group = resource(
            stack, "aws:ec2/securityGroup:SecurityGroup", "sg", {"name": "alb", "vpcId": "vpc-id"}
        )
        return rendering(stack, vpc, group)

    assert check([stack_with_group("staging"), stack_with_group("prod")]) == []


def test_restore_testing_plans_are_named_per_stack():
    """Restore-testing plan names are unique per account and region: this check found them
    named after the component (`backups_vault_restore_testing`), the same in both stacks; they
    now carry the stack's prefix."""
    staging = render_stack(
        "staging", config={"backupRestoreTesting": True}, secret_values=DUMMY_SECRETS
    )
    collisions = [c for c in check([staging, render("prod")]) if c.claims[0].key[0] == "aws"]
    assert collisions == [], report([staging, render("prod")], collisions)


# --- the entry point ---


def test_main_exits_1_on_a_collision_and_0_without(tmp_path: Path, capsys):
    colliding = [
        rendering(stack, zone_ruleset(stack, "http_ratelimit")) for stack in ("staging", "prod")
    ]
    json_path = tmp_path / "cross.json"
    status = cross_stack.main(
        ["--stacks", "staging", "prod", "--edge-stacks", "--json", str(json_path)],
        render=lambda stacks, edge: colliding,
    )
    assert status == 1
    assert "phase http_ratelimit" in capsys.readouterr().out
    assert '"stack": "prod"' in json_path.read_text()
    assert cross_stack.main(["--stacks", "staging"], render=lambda stacks, edge: colliding[:1]) == 0
    assert cross_stack.main(["--stacks", "qa"]) == 2


def test_main_renders_the_environments_and_the_edge_stacks():
    env_seen: list[str] = []
    edge_seen: list[tuple[str, list[str]]] = []

    def fake_env(stack):
        env_seen.append(stack)
        return rendering(stack)

    def fake_edge(stack, environments):
        edge_seen.append((stack, sorted(environments)))
        return rendering(stack)

    renderings = cross_stack.render_all(["staging", "prod"], ["clinic"], fake_env, fake_edge)
    assert [r.stack for r in renderings] == ["staging", "prod", "clinic"]
    assert env_seen == ["staging", "prod"]
    assert edge_seen == [("clinic", ["prod", "staging"])]
    assert cross_stack.edge_stacks() == (["clinic"] if HAS_EDGE else [])
