"""The environment stack's `edge` output and what the environment stacks no longer create."""

import pytest

from components.edge_export import EDGE_KEYS, EdgeOutputError, parse_edge_output
from config.edge_stack import RateLimit
from config.stack import InvalidConfigError
from plan.render import RenderFailed
from tests.components.conftest import DUMMY_SECRETS, STACKS, render
from tests.components.edge_stack_fixtures import HOSTNAMES, RULESET, ZONE_SETTING

SITE_DOMAIN = {"staging": "staging.mikoplasticsurgery.com", "prod": "www.mikoplasticsurgery.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_environment_stacks_render_no_ruleset_and_no_zone_setting(stack):
    rendering = render(stack)

    assert rendering.of_type(RULESET) == []
    assert rendering.of_type(ZONE_SETTING) == []
    records = [
        r
        for r in rendering.of_type("cloudflare:index/dnsRecord:DnsRecord")
        if r.inputs["name"] == SITE_DOMAIN[stack]
    ]
    assert len(records) == 1
    assert records[0].inputs["proxied"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_the_edge_export_has_the_documented_shape(stack):
    rendering = render(stack)
    edge = rendering.exports["edge"]

    assert sorted(edge) == sorted(EDGE_KEYS)
    assert edge["hostname"] == HOSTNAMES[stack]
    assert sorted(edge["rateLimit"]) == [
        "mitigationTimeoutSeconds",
        "periodSeconds",
        "requestsPerPeriod",
    ]
    assert all(isinstance(value, int) for value in edge["rateLimit"].values())
    headers = edge["responseHeaders"]
    assert "Strict-Transport-Security" in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    # Only the origin-proof value is secret; the rest stays readable for the edge stack.
    assert edge["originAuthSecret"] == "[secret]"
    assert rendering.secret_exports >= {"edge.originAuthSecret"}
    assert "edge" not in rendering.secret_exports
    assert DUMMY_SECRETS["originAuthSecret"] not in repr(rendering.exports)


def test_the_edge_export_s_rate_limit_is_the_stack_s_config(prod):
    limit = prod.exports["edge"]["rateLimit"]

    assert limit == {"requestsPerPeriod": 100, "periodSeconds": 10, "mitigationTimeoutSeconds": 10}


def test_parse_reads_the_public_fields(staging):
    edge = parse_edge_output("staging", "org/miko-platform/staging", staging.exports["edge"])

    assert edge.hostname == HOSTNAMES["staging"]
    assert edge.rate_limit == RateLimit(200, 10, 10)
    assert edge.response_headers == staging.exports["edge"]["responseHeaders"]


def test_a_stack_without_the_edge_output_is_named_in_the_error():
    with pytest.raises(EdgeOutputError, match="stack 'org/miko-platform/qa' exports no `edge`"):
        parse_edge_output("qa", "org/miko-platform/qa", None)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"apiRateLimitPeriodSeconds": 25}, "apiRateLimitPeriodSeconds: 25 s is not a value"),
        ({"apiRateLimitBlockSeconds": 7}, "apiRateLimitBlockSeconds: 7 s is not a value"),
    ],
)
def test_the_environment_stack_refuses_periods_cloudflare_never_accepts(render_with, change, named):
    with pytest.raises(RenderFailed) as failure:
        render_with("staging", change)
    assert isinstance(failure.value.cause, InvalidConfigError)
    assert named in str(failure.value.cause)
