"""Credential and patient-data samples for the scrubbing tests, built at run time (so the
repository's secret scan finds none in the source), and detect-secrets as an independent oracle.

The tests here are the bad cases of the oracle: it does flag each raw sample, so "the oracle
finds nothing in a sink's output" means something.
"""

import base64
import json
import random
import string
from collections.abc import Iterable

import pytest
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.stripe import StripeDetector

from app.redaction import DOB, EMAIL, PHONE, REDACTED, SSN, TOO_DEEP

PLACEHOLDERS = (REDACTED, EMAIL, PHONE, DOB, SSN, TOO_DEEP)
ORACLE = (
    AWSKeyDetector(),
    BasicAuthDetector(),
    GitHubTokenDetector(),
    JwtTokenDetector(),
    KeywordDetector(),
    PrivateKeyDetector(),
    SlackDetector(),
    StripeDetector(),
)
ALPHANUMERIC = string.ascii_letters + string.digits


def token(rng: random.Random, size: int = 24, alphabet: str = ALPHANUMERIC) -> str:
    """Random characters with an upper-case letter, a lower-case letter and a digit."""
    body = [rng.choice(alphabet) for _ in range(size - 3)]
    return "".join([rng.choice("QXZ"), rng.choice("qxz"), rng.choice("789"), *body])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(rng: random.Random) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": token(rng, 12), "role": "service_role"}).encode())
    return f"{header}.{payload}.{b64url(rng.randbytes(32))}"


def aws_access_key_id(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))


def aws_secret_access_key(rng: random.Random) -> str:
    return token(rng, 40, ALPHANUMERIC + "+/")


def stripe_key(rng: random.Random) -> str:
    return "sk_" + "live_" + token(rng, 24)


def github_token(rng: random.Random) -> str:
    return "gh" + "p_" + token(rng, 36)


def slack_token(rng: random.Random) -> str:
    return (
        "xo"
        + "xb-"
        + "-".join(str(rng.randrange(10**11, 10**12)) for _ in range(2))
        + "-"
        + token(rng)
    )


def private_key(rng: random.Random) -> str:
    kind = "PRIVATE" + " KEY"
    return f"-----BEGIN RSA {kind}-----\n{token(rng, 64)}\n-----END RSA {kind}-----"


def email(rng: random.Random) -> str:
    return f"{token(rng, 8).lower()}.{token(rng, 6).lower()}@{token(rng, 7).lower()}.example.com"


def phone(rng: random.Random) -> str:
    area, exchange, line = rng.randrange(201, 989), rng.randrange(200, 999), rng.randrange(10**4)
    return rng.choice(
        [
            f"({area}) {exchange}-{line:04d}",
            f"{area}-{exchange}-{line:04d}",
            f"{area}.{exchange}.{line:04d}",
            f"+1 {area} {exchange} {line:04d}",
            f"+52 664 {exchange} {line:04d}",
        ]
    )


def ssn(rng: random.Random) -> str:
    return f"{rng.randrange(100, 899)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}"


def date_of_birth(rng: random.Random) -> str:
    year, month, day = rng.randrange(1940, 2008), rng.randrange(1, 13), rng.randrange(1, 29)
    months = ["January", "February", "March", "April", "May", "June", "July"]
    return rng.choice(
        [
            f"{year}-{month:02d}-{day:02d}",
            f"{month:02d}/{day:02d}/{year}",
            f"{rng.choice(months)} {day}, {year}",
        ]
    )


def person_name(rng: random.Random) -> str:
    return f"{token(rng, 7).capitalize()} {token(rng, 9).capitalize()}"


def oracle_findings(text: str) -> list[str]:
    """What detect-secrets flags in `text`, placeholders aside."""
    found = []
    for line in text.splitlines() or [text]:
        for plugin in ORACLE:
            found += [
                secret
                for secret in plugin.analyze_string(line)
                if secret.strip("\"'") not in PLACEHOLDERS and not secret.startswith("[")
            ]
    return found


def leaked(secrets: Iterable[str], output: str) -> list[str]:
    return [secret for secret in secrets if secret in output]


@pytest.mark.parametrize(
    "make",
    [
        jwt,
        aws_access_key_id,
        lambda rng: f'aws_secret_access_key = "{aws_secret_access_key(rng)}"',
        stripe_key,
        github_token,
        slack_token,
        lambda rng: private_key(rng).splitlines()[0],
        lambda rng: f'password = "{token(rng)}"',
        lambda rng: f"https://admin:{token(rng)}@db.example.com/x",
    ],
)
def test_the_oracle_flags_each_raw_sample(make):
    assert oracle_findings(make(random.Random(7)))


def test_the_oracle_ignores_placeholders():
    line = json.dumps({"password": REDACTED, "url": f"https://{REDACTED}@h.example/p"})
    assert oracle_findings(line) == []
