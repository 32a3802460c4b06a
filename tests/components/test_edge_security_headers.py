import pulumi
import pytest

from app.security_headers import security_headers
from components.cloudflare_rulesets import zone_phase_ruleset
from components.edge_security_headers import (
    edge_headers,
    header_operations,
    security_header_rules,
)
from config.sections import FrontendSettings
from tests.components.edge_alarm_fixtures import render

SUPABASE = "https://abcdefgh.supabase.co"
N8N_WEBHOOK = "https://n8n.example.com/webhook/7d1e-secret-path"
RULESET = "cloudflare:index/ruleset:Ruleset"


def frontend(**overrides: object) -> FrontendSettings:
    return FrontendSettings.model_validate(
        {
            "frontendSource": "",
            "browserSecrets": {
                "VITE_SUPABASE_URL": "supabaseUrl",
                "VITE_N8N_WEBHOOK_URL": "n8nWebhookUrl",
                "VITE_GOOGLE_API_KEY": "googleApiKey",
            },
            "browserValues": {"VITE_ENABLE_ANALYTICS": "false"},
            "cspMode": "enforce",
            "assetRetentionHours": 48,
            **overrides,
        }
    )


SECRETS = {"supabaseUrl": SUPABASE, "n8nWebhookUrl": N8N_WEBHOOK, "googleApiKey": "AIza-key"}


def test_every_app_header_is_set_with_the_app_value():
    headers = security_headers([SUPABASE, N8N_WEBHOOK])
    operations = header_operations(headers)

    assert {
        name: operation["value"]
        for name, operation in operations.items()
        if operation["operation"] == "set"
    } == headers


def test_revealing_headers_removed_but_not_server_which_cloudflare_forbids():
    operations = header_operations(security_headers([]))

    assert operations["X-Powered-By"] == {"operation": "remove"}
    assert "Server" not in operations


def test_one_rewrite_rule_for_every_response():
    (rule,) = security_header_rules(security_headers([]))

    assert rule["action"] == "rewrite"
    assert rule["expression"] == "true"


def test_one_rewrite_rule_for_every_response_of_its_hostname():
    (rule,) = security_header_rules(security_headers([]), "app.example.com", "prod")

    assert rule["expression"] == 'http.host eq "app.example.com"'
    assert rule["ref"] == "prod_security_headers"


def render_headers(settings: FrontendSettings, secrets: dict[str, str]):
    """The header map an environment stack exports, in the rule the edge stack builds from it
    (components/zone_rulesets.py), rendered as a ruleset."""

    def build() -> None:
        headers = edge_headers(
            settings, {key: pulumi.Output.secret(value) for key, value in secrets.items()}
        )
        zone_phase_ruleset(
            "security-headers-response-headers",
            zone_id="zone-1",
            phase="http_response_headers_transform",
            name="Security headers",
            description="test",
            rules=headers.apply(lambda h: security_header_rules(h, "app.example.com", "prod")),
            opts=pulumi.ResourceOptions(),
        )

    mocks = render(build)
    (ruleset,) = mocks.of_type(RULESET)
    return ruleset


def set_values(ruleset) -> dict[str, str]:
    (rule,) = ruleset.inputs["rules"]
    headers = rule["actionParameters"]["headers"]
    return {
        name: header["value"] for name, header in headers.items() if header["operation"] == "set"
    }


def test_the_rule_carries_the_routed_origins_and_never_a_secret_path():
    ruleset = render_headers(frontend(), SECRETS)

    assert ruleset.name == "security-headers-response-headers"
    assert ruleset.inputs["phase"] == "http_response_headers_transform"
    headers = set_values(ruleset)
    csp = headers["Content-Security-Policy"]
    assert "https://abcdefgh.supabase.co" in csp
    assert "wss://abcdefgh.supabase.co" in csp
    assert "https://n8n.example.com" in csp
    # The webhook's path is its credential and the key is a key: neither is in the rule.
    assert "7d1e-secret-path" not in repr(ruleset.inputs)
    assert "AIza-key" not in repr(ruleset.inputs)
    # Origins only, so the rule is readable in a preview.
    assert ruleset.secret_inputs == frozenset()


def test_a_secret_not_routed_to_the_browser_never_reaches_the_csp():
    ruleset = render_headers(frontend(browserSecrets={"VITE_SUPABASE_URL": "supabaseUrl"}), SECRETS)

    assert "n8n.example.com" not in set_values(ruleset)["Content-Security-Policy"]


def test_report_only_mode_sends_the_report_only_header_instead():
    headers = set_values(render_headers(frontend(cspMode="report-only"), SECRETS))

    assert "Content-Security-Policy" not in headers
    assert "default-src 'self'" in headers["Content-Security-Policy-Report-Only"]


def test_the_rule_is_the_app_s_function_of_the_same_values():
    headers = set_values(render_headers(frontend(), SECRETS))

    assert headers == security_headers([SUPABASE, N8N_WEBHOOK, "AIza-key", "false"])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"browserSecrets": {"VITE_DATABASE_URL": "databaseUrl"}}, "databaseUrl"),
        ({"browserSecrets": {"VITE_PAGER": "alarmPagerUrl"}}, "alarmPagerUrl"),
        ({"browserSecrets": {"VITE_SENTRY_DSN": "sentryDsn"}}, "sentryDsn"),
        ({"browserValues": {"VITE_APP_VERSION": "9"}}, "VITE_APP_VERSION"),
        ({"browserValues": {"supabase_url": "x"}}, "supabase_url"),
        (
            {"browserValues": {"VITE_SUPABASE_URL": "https://x.supabase.co"}},
            "VITE_SUPABASE_URL also in browserSecrets",
        ),
        ({"cspMode": "off"}, "'off'"),
        ({"assetRetentionHours": 12}, "24"),
        ({"frontendSource": "../clinic"}, "inside the project"),
    ],
)
def test_the_frontend_section_refuses_each_bad_value_naming_it(change, named):
    with pytest.raises(ValueError, match=named):
        frontend(**change)
