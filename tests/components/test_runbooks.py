"""Every alarm's description links to its runbook section, and every section is a real alarm.

An alarm is a CloudWatch alarm or an EventBridge rule tagged `alarm` (the key), in either stack's
rendering. Its description must hold `docs/runbooks/<file>.md#<anchor>`: the file must exist and
have a heading whose GitHub anchor is `<anchor>`, and that anchor must be the alarm's own key
(components/runbooks.py). Every level-2 section of docs/runbooks/alarms.md must name an alarm
some stack renders, so a removed alarm cannot leave a stale section behind.
"""

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from components.runbooks import (
    ALARM_DESCRIPTION_MAX,
    ALARMS_RUNBOOK,
    RULE_DESCRIPTION_MAX,
    alarm_description,
    runbook_link,
)
from plan.render import RenderedResource, Rendering
from tests.components.conftest import STACKS, render

REPO_ROOT = Path(__file__).resolve().parents[2]
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
DESCRIPTION_INPUT = {METRIC_ALARM: "alarmDescription", EVENT_RULE: "description"}
DESCRIPTION_LIMIT = {METRIC_ALARM: ALARM_DESCRIPTION_MAX, EVENT_RULE: RULE_DESCRIPTION_MAX}
LINK = re.compile(r"(?P<path>docs/runbooks/[A-Za-z0-9_./-]+\.md)#(?P<anchor>[^\s\"')]+)")
HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


# --- GitHub's heading anchors ----------------------------------------------------------------


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup gone, lower case, punctuation dropped (letters,
    digits, `-`, `_` and spaces kept), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    text = "".join(char for char in text if char.isalnum() or char in "-_ ")
    return text.replace(" ", "-")


def headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of every ATX heading outside fenced code blocks."""
    found: list[tuple[int, str]] = []
    in_fence = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            found.append((len(match["level"]), match["text"]))
    return found


def anchors(markdown: str) -> set[str]:
    """Every heading anchor of the document, duplicates numbered `-1`, `-2`... as GitHub does."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    for _, text in headings(markdown):
        slug = github_slug(text)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


# --- the check -------------------------------------------------------------------------------


def alarms_of(resources: Iterable[RenderedResource]) -> list[RenderedResource]:
    return [
        resource
        for resource in resources
        if resource.type in DESCRIPTION_INPUT and (resource.inputs.get("tags") or {}).get("alarm")
    ]


def runbook_problems(resources: Iterable[RenderedResource], root: Path = REPO_ROOT) -> list[str]:
    """What is wrong with the runbook links of the alarms among `resources` (empty: nothing)."""
    problems: list[str] = []
    for resource in alarms_of(resources):
        key = resource.inputs["tags"]["alarm"]
        description = resource.inputs.get(DESCRIPTION_INPUT[resource.type]) or ""
        where = f"{resource.name} (alarm {key})"
        if len(description) > DESCRIPTION_LIMIT[resource.type]:
            problems.append(f"{where}: description longer than {DESCRIPTION_LIMIT[resource.type]}")
        links = list(LINK.finditer(description))
        if not links:
            problems.append(f"{where}: no runbook link in its description {description!r}")
            continue
        for link in links:
            path = root / link["path"]
            if not path.is_file():
                problems.append(f"{where}: {link['path']} does not exist")
                continue
            if link["anchor"] not in anchors(path.read_text(encoding="utf-8")):
                problems.append(f"{where}: {link['path']} has no heading #{link['anchor']}")
        if not any(link["path"] == ALARMS_RUNBOOK and link["anchor"] == key for link in links):
            problems.append(f"{where}: does not link its own section {runbook_link(key)}")
    return problems


def rendered_alarm_keys() -> set[str]:
    return {
        resource.inputs["tags"]["alarm"]
        for stack in STACKS
        for resource in alarms_of(render(stack).resources)
    }


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_links_an_existing_runbook_section(stack):
    rendering: Rendering = render(stack)
    assert len(alarms_of(rendering.resources)) >= 20, "the stack's alarms were not found"

    assert runbook_problems(rendering.resources) == []


def test_every_section_of_the_alarm_runbook_names_a_rendered_alarm():
    sections = [
        text
        for level, text in headings((REPO_ROOT / ALARMS_RUNBOOK).read_text(encoding="utf-8"))
        if level == 2
    ]
    keys = rendered_alarm_keys()

    assert sorted(set(sections) - keys) == [], "sections for alarms no stack renders"
    assert sorted(keys - set(sections)) == [], "alarms without a section"
    assert len(sections) == len(set(sections)), "a section appears twice"


def _alarm(description: str, key: str = "http-5xx-critical") -> RenderedResource:
    return RenderedResource(
        type=METRIC_ALARM,
        name=f"alarms-{key}",
        urn=f"urn:pulumi:prod::miko-platform::aws:cloudwatch/metricAlarm:MetricAlarm::{key}",
        parent="",
        provider="",
        custom=True,
        inputs={"alarmDescription": description, "tags": {"alarm": key}},
        secret_paths=frozenset(),
        outputs={},
    )


@pytest.mark.parametrize(
    ("description", "problem"),
    [
        ("5xx responses above 5% of requests", "no runbook link"),
        ("5xx. Runbook: docs/runbooks/nowhere.md#http-5xx-critical", "does not exist"),
        ("5xx. Runbook: docs/runbooks/alarms.md#no-such-alarm", "has no heading #no-such-alarm"),
        ("5xx. Runbook: docs/runbooks/alarms.md#http-5xx-warning", "does not link its own"),
        ("x" * 1100 + " docs/runbooks/alarms.md#http-5xx-critical", "longer than 1024"),
    ],
)
def test_an_alarm_without_a_working_link_is_reported(description, problem):
    problems = runbook_problems([_alarm(description)])

    assert any(problem in found for found in problems), problems


def test_an_alarm_with_its_link_passes():
    assert runbook_problems([_alarm(alarm_description("5xx", "http-5xx-critical"))]) == []


def test_a_description_that_does_not_fit_is_refused_at_render():
    with pytest.raises(ValueError, match="above the limit of 512"):
        alarm_description("x" * 500, "deployment-failed", limit=RULE_DESCRIPTION_MAX)
    with pytest.raises(ValueError, match="lower-case"):
        runbook_link("Http 5xx")


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("http-5xx-critical", "http-5xx-critical"),
        ("`backup-dump-failed`", "backup-dump-failed"),
        ("1. Restore from a dump", "1-restore-from-a-dump"),
        (
            "Rotating the origin secret (`originAuthSecret`)",
            "rotating-the-origin-secret-originauthsecret",
        ),
        ("Deploy order: staging → prod → edge", "deploy-order-staging--prod--edge"),
    ],
)
def test_github_slugs(heading, slug):
    assert github_slug(heading) == slug


def test_duplicate_headings_are_numbered_and_fenced_lines_are_not_headings():
    markdown = "# Title\n## Same\n```sh\n# a comment\n```\n## Same\n"

    assert anchors(markdown) == {"title", "same", "same-1"}


def test_every_relative_link_between_the_runbooks_resolves():
    """Links of docs/runbooks/*.md to other files of the repository, and their anchors."""
    runbooks = REPO_ROOT / "docs" / "runbooks"
    problems = []
    for document in sorted(runbooks.glob("*.md")):
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # an absolute URL
            path_part, _, anchor = target.partition("#")
            path = (document.parent / path_part).resolve() if path_part else document
            if not path.is_file():
                problems.append(f"{document.name}: {target} (no file)")
            elif (
                anchor
                and path.suffix == ".md"
                and anchor not in anchors(path.read_text(encoding="utf-8"))
            ):
                problems.append(f"{document.name}: {target} (no heading)")

    assert problems == []
