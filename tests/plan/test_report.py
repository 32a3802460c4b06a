"""The plan's text and JSON carry the same tree, findings, diff and summary."""

from plan.diff import diff_states
from plan.report import Finding, PlanResult, render_text
from tests.plan.builders import make_resource as planned

NETWORK = planned("miko:network:Network", "network")
VPC = planned("aws:ec2/vpc:Vpc", "network-vpc", parent=NETWORK.urn, cidrBlock="10.20.0.0/16")
LISTENER = planned(
    "aws:lb/listener:Listener", "alb-https", port=443, protocol="HTTPS", sslPolicy="TLS13"
)


def test_tree_nests_children_under_their_component_with_key_properties():
    text = render_text(PlanResult("staging", [VPC, NETWORK, LISTENER], findings=[]))
    lines = text.splitlines()
    network_line = next(i for i, line in enumerate(lines) if "miko:network:Network" in line)
    assert "network-vpc  cidrBlock=10.20.0.0/16" in lines[network_line + 1]
    assert lines[network_line + 1].startswith(("│  ", "   "))
    assert "port=443 protocol=HTTPS sslPolicy=TLS13" in text
    assert "Policies: no violations." in text
    assert text.rstrip().endswith(
        "staging: 3 resources in 1 components, 0 mandatory and 0 advisory policy violations"
    )


def test_findings_are_listed_mandatory_first_with_their_urn():
    findings = [
        Finding("tags-required", "advisory", "add the owner tag", VPC.urn),
        Finding("https-listener-tls", "mandatory", "use a TLS 1.2+ policy", LISTENER.urn),
    ]
    result = PlanResult("staging", [VPC, LISTENER], findings)
    text = render_text(result)
    assert text.index("[mandatory] https-listener-tls") < text.index("[advisory] tags-required")
    assert LISTENER.urn in text
    assert result.to_json()["summary"].endswith("1 mandatory and 1 advisory policy violations")


def test_diff_section_and_json_agree():
    changed = planned("aws:ec2/vpc:Vpc", "network-vpc", parent=NETWORK.urn, cidrBlock="10.9.0.0/16")
    changes = diff_states([NETWORK, VPC], [NETWORK, changed, LISTENER])
    result = PlanResult("staging", [NETWORK, changed, LISTENER], [], changes, base="origin/main")

    text = render_text(result)
    document = result.to_json()

    assert "~ aws:ec2/vpc:Vpc" in text
    assert "cidrBlock: 10.20.0.0/16 -> 10.9.0.0/16" in text
    assert "+ aws:lb/listener:Listener" in text
    assert "against origin/main: 1 to add, 1 to change, 0 to remove" in document["summary"]
    assert [(change["kind"], change["type"]) for change in document["changes"]] == [
        ("change", "aws:ec2/vpc:Vpc"),
        ("add", "aws:lb/listener:Listener"),
    ]


def test_a_long_changed_value_shows_the_part_that_changed():
    repository = "123456789012.dkr.ecr.us-west-2.amazonaws.com/miko-prod-app"
    before = planned("docker:index/image:Image", "image", imageName=f"{repository}:2.0.0-aaaa")
    after = planned("docker:index/image:Image", "image", imageName=f"{repository}:2.0.0-bbbb")
    result = PlanResult("prod", [after], [], diff_states([before], [after]), base="origin/main")

    assert "imageName: …-prod-app:2.0.0-aaaa -> …-prod-app:2.0.0-bbbb" in render_text(result)


def test_program_warnings_are_shown_and_kept_in_the_json():
    result = PlanResult("prod", [VPC], [], warnings=["connectOrigins is empty: …"])
    assert "Warnings:\n  connectOrigins is empty: …" in render_text(result)
    assert result.to_json()["warnings"] == ["connectOrigins is empty: …"]
    assert "Warnings:" not in render_text(PlanResult("prod", [VPC], []))
