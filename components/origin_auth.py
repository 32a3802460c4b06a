"""The origin proof: what Cloudflare adds to every request it forwards, and the load balancer
requires, so only this zone's edge can reach the origin (Cloudflare's IP ranges are shared by
every Cloudflare customer, so an IP allow-list proves nothing about the zone).

The one place both sides read: the edge stack's request-header transform rule sets the header
to the current secret; the load balancer's listener forwards only requests carrying the current
(or, during a rotation, the previous) value and the site's Host.
"""

import secrets
import string
from typing import Final

ORIGIN_AUTH_HEADER: Final = "x-miko-origin-auth"
"""Request header Cloudflare sets (lower case: the form Cloudflare's transform rules take)."""
ORIGIN_AUTH_SECRET_KEY: Final = "originAuthSecret"  # noqa: S105 - a config key, not a secret
"""Stack secret config key of the current value (rotated with scripts/rotate-secret)."""
ORIGIN_AUTH_PREVIOUS_SECRET_KEY: Final = "originAuthSecretPrevious"  # noqa: S105 - a key
"""Stack secret config key of the value a rotation replaces, still accepted until the edge has
moved to the current one; empty outside a rotation."""

ORIGIN_SECRET_MIN_LENGTH: Final = 32
"""The shortest accepted value: 32 letters and digits are about 190 bits, far beyond guessing."""
ORIGIN_SECRET_GENERATED_LENGTH: Final = 48
ORIGIN_SECRET_ALPHABET: Final = string.ascii_letters + string.digits
"""Letters and digits only. The load balancer compares http-header condition values as patterns:
`*` and `?` are wildcards there (a secret holding one would accept many values), the comparison
ignores case, and Cloudflare's transform rule writes the value inside a quoted string; none of
this can touch a value made of [A-Za-z0-9]."""
ORIGIN_HEADER_VALUES_PER_RULE: Final = 2
"""The current value and, during a rotation, the previous one: two of the five condition values
an ALB rule takes (the Host condition takes one more)."""


def origin_secret_problem(key: str, value: str) -> str | None:
    """Why `value` cannot be the origin secret of config key `key`, or None.

    The message names the key and what is wrong, never the value.
    """
    wrong = sorted({char for char in value if char not in ORIGIN_SECRET_ALPHABET})
    if len(value) >= ORIGIN_SECRET_MIN_LENGTH and not wrong:
        return None
    found = []
    if len(value) < ORIGIN_SECRET_MIN_LENGTH:
        found.append(f"{len(value)} characters")
    if wrong:
        found.append(f"{len(wrong)} kind(s) of character other than a letter or digit")
    fix = (
        f"generate one with `scripts/rotate-secret --stack <stack> {ORIGIN_AUTH_SECRET_KEY}`"
        if key == ORIGIN_AUTH_SECRET_KEY
        else f"it holds the {ORIGIN_AUTH_SECRET_KEY} a rotation replaced, or is empty"
    )
    return (
        f"the origin secret must be at least {ORIGIN_SECRET_MIN_LENGTH} letters and digits "
        f"([A-Za-z0-9]; the load balancer reads `*` and `?` as wildcards), got "
        f"{' and '.join(found)}; {fix}"
    )


def generate_origin_secret() -> str:
    """A new origin secret: ORIGIN_SECRET_GENERATED_LENGTH letters and digits from `secrets`."""
    return "".join(
        secrets.choice(ORIGIN_SECRET_ALPHABET) for _ in range(ORIGIN_SECRET_GENERATED_LENGTH)
    )
