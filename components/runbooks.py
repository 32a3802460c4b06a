"""Where each alarm's runbook section is, and the alarm descriptions that link to it.

Every alarm (a CloudWatch alarm or an EventBridge rule tagged `alarm`) has one section in
docs/runbooks/alarms.md, headed by its key: the heading's anchor is the key itself (GitHub's
heading slug of a lower-case, hyphenated key is the key). Every place that builds an alarm's
description calls `alarm_description`, so the notification an on-call person reads names the
section to open; tests/components/test_runbooks.py checks every rendered alarm's link and anchor.

Standard library only: pure functions, called while the program registers resources.
"""

from typing import Final

ALARMS_RUNBOOK: Final = "docs/runbooks/alarms.md"
"""The alarm runbook, relative to the repository root."""
ALARM_DESCRIPTION_MAX: Final = 1024
"""CloudWatch's AlarmDescription limit (botocore's cloudwatch model: max 1024)."""
RULE_DESCRIPTION_MAX: Final = 512
"""EventBridge's RuleDescription limit (botocore's events model: max 512)."""
RUNBOOK_PREFIX: Final = "Runbook: "


def runbook_link(key: str) -> str:
    """`docs/runbooks/alarms.md#<key>`: the alarm's section in the runbook."""
    if not key or key != key.strip().lower() or " " in key:
        raise ValueError(f"an alarm key is lower-case without spaces, not {key!r}")
    return f"{ALARMS_RUNBOOK}#{key}"


def alarm_description(text: str, key: str, *, limit: int = ALARM_DESCRIPTION_MAX) -> str:
    """`text`, then `Runbook: <link>` to alarm `key`'s section; ValueError when the whole does
    not fit the service's length limit (`limit`), so a long description fails the render, not the
    deployment."""
    text = text.strip()
    separator = "" if not text or text.endswith(".") else "."
    description = f"{text}{separator} {RUNBOOK_PREFIX}{runbook_link(key)}".strip()
    if len(description) > limit:
        raise ValueError(
            f"alarm {key}: its description with the runbook link is {len(description)} "
            f"characters, above the limit of {limit}"
        )
    return description
