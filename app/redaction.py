"""The one scrubbing pipeline for everything that leaves the process.

Every sink calls it: the JSON line writer and formatter in `app.logging_setup` (stdout, so
CloudWatch Logs) and Sentry's `before_send`, `before_send_transaction`, `before_breadcrumb`,
`before_send_log` and `before_send_metric` in `app.sentry`. Producers need not (but may) call it;
scrubbing twice changes nothing.

What it replaces:

* By key, at any depth (`classify_key`): names are normalised (camelCase and every separator
  split into words, case folded) before matching, so `passwd`, `api-key`, `x_api_key`,
  `refreshToken` and `X-API-KEY` are all caught.
  - credentials -> REDACTED, whatever the value: a normalised key containing one of
    SECRET_FRAGMENTS, or having one of SECRET_WORDS as a word, or matching Sentry's own
    `DEFAULT_DENYLIST` / `DEFAULT_PII_DENYLIST` (sentry_sdk.scrubber);
  - patient identity -> `[email]`, `[phone]`, `[dob]`, `[ssn]` or REDACTED (names, addresses,
    `patient*`, record numbers), for any value but None, booleans and "" (they identify no one);
  - raw query strings (`query_string`, `http.query`) -> their values replaced as in URLs.
* By value, in every string (messages, nested data, list items, dict keys, URLs inside data,
  exception text, user agents), by one pass per kind, each run only when a cheap test on the
  string allows it (`scrub_text`):
  - `key=value`, `key: value`, `"key": "value"` and `--key value` whose key the key rules
    above catch (same normalisation, so `passwd: x`, `X-Api-Key: x`, `refreshToken=x`,
    `name="Jane Doe"`, `{'password': ['a', 'b']}`): the value gets the key's placeholder;
    `Authorization: Bearer ...`; bare `Bearer <token>` and `Basic <base64>`;
  - JWTs (`eyJ...`, even cut short), AWS access key ids (`AKIA...`, `ASIA...`), the prefixed
    token formats of GitHub, GitLab, Slack, Stripe, SendGrid, Google, OpenAI, npm, PyPI and
    Supabase, PEM private keys, and long high-entropy mixed-case tokens (an AWS secret key, an
    unlabelled API key); hex strings are kept, since request ids, trace ids and hashes are hex;
  - URL userinfo (`scheme://<userinfo>@host`, `//<userinfo>@host`, JSON-escaped `:\\/\\/`)
    and the values of query-string and fragment parameters, absolute or relative (Supabase's
    `#access_token=...&refresh_token=...`), keeping scheme, host, path and parameter names;
    values of SAFE_QUERY_PARAMETERS (`step=2`, `utm_source=...`) are kept when short and plain;
  - emails (also `%40`-encoded) -> `[email]`; phone numbers written as phone numbers (with
    separators, or `+` and a country code) -> `[phone]`; SSNs (`123-45-6789`) -> `[ssn]`; a
    date after `dob`, `date of birth`, `born` ... -> `[dob]`.
* Non-finite floats become None (JSON has no NaN); bytes are decoded and scrubbed as text; any
  other object is scrubbed as its `str()`; nesting deeper than MAX_DEPTH becomes TOO_DEEP.

Known limits (regular expressions, not a language model): a name or an unlabelled secret in
free prose (`"Jane Doe called"`, `"the key is hunter2"`) is not recognised; a bare 10-digit
number is not taken for a phone number (it may as well be an epoch timestamp); hex secrets are
only caught by key. No PII library fits a per-line budget here: Presidio needs a spaCy
language model in the image and an NLP pass per text, commonregex has been unmaintained since
2014, and detect-secrets (whose token formats are reused here) costs ~0.5 ms a line when its
plugins run at run time (bench/scrub.py); the tests run it as an independent oracle over every
sink's output instead. Sentry's own denylists and EventScrubber are used as they are.
"""

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from uuid import UUID

from sentry_sdk._types import AnnotatedValue
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST

REDACTED = "[redacted]"
EMAIL = "[email]"
PHONE = "[phone]"
DOB = "[dob]"
SSN = "[ssn]"
TOO_DEEP = "[too deep]"
UNREPRESENTABLE = "[unrepresentable]"
MAX_DEPTH = 16
MAX_INT_BITS = 1024
MAX_KEY_CHARS = 256
MIN_OPAQUE_ENTROPY = 3.5
"""Bits a character of a 32+ character token must carry to be taken for a key (random base64
carries ~5, `DataBaseConnection2Handler...` less than 3.5)."""

# --- keys --------------------------------------------------------------------------------------

SECRET_FRAGMENTS = (
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "key",  # apikey, accesskey, privatekey, anonkey ... (Sentry's data-collection list too)
    "credential",
    "authorization",
    "authentication",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "signature",
    "bearer",
    "jwt",
    "dsn",
    "saml",
    "mysqlpwd",
    "connectionstring",
    "verificationcode",
    "resetcode",
    "recoverycode",
)
"""Substrings of a normalised key (lower case, separators removed) that mark a credential."""

SECRET_WORDS = frozenset(
    {"pw", "pwd", "pass", "auth", "oauth", "otp", "totp", "mfa", "pin", "sid", "sso", "cvv", "cvc"}
)
"""Whole words of a key that mark a credential (as substrings they would match `passenger`,
`association`, `inside`)."""

EMAIL_FRAGMENTS = ("email",)
EMAIL_WORDS = frozenset({"mail", "mailto"})
DOB_FRAGMENTS = ("birth",)  # birthDate, dateOfBirth, birthday, placeOfBirth
DOB_WORDS = frozenset({"dob", "bday"})
SSN_FRAGMENTS = ("socialsecurity", "nationalid", "taxid", "passportnumber", "driverslicense")
SSN_WORDS = frozenset({"ssn", "sin", "nin", "itin", "tin"})
PHONE_FRAGMENTS = ("phone", "whatsapp")
PHONE_WORDS = frozenset({"mobile", "cell", "tel", "fax", "sms"})
NAME_KEYS = frozenset(
    {
        "name",
        "names",
        "firstname",
        "lastname",
        "fullname",
        "middlename",
        "givenname",
        "familyname",
        "surname",
        "displayname",
        "username",
        "maidenname",
        "preferredname",
        "legalname",
        "nickname",
        "fname",
        "lname",
    }
)
_NAME_WORDS = NAME_KEYS - {"name", "names"}
_NAME_ENDINGS = tuple(sorted(key for key in _NAME_WORDS if len(key) > len("fname")))
PERSON_WORDS = frozenset(
    {
        "patient",
        "user",
        "customer",
        "client",
        "contact",
        "guardian",
        "parent",
        "spouse",
        "emergency",
        "person",
        "member",
        "recipient",
        "sender",
        "owner",
        "guest",
        "caller",
        "lead",
        "doctor",
        "surgeon",
        "provider",
    }
)
"""`<person word> ... name` is a person's name (`patientName`, `contact_full_name`)."""
TECHNICAL_WORDS = frozenset(
    {
        "file",
        "service",
        "host",
        "db",
        "database",
        "schema",
        "table",
        "column",
        "event",
        "metric",
        "logger",
        "log",
        "app",
        "application",
        "bucket",
        "route",
        "component",
        "function",
        "method",
        "module",
        "class",
        "field",
        "key",
        "tag",
        "queue",
        "topic",
        "domain",
        "server",
        "cluster",
        "region",
        "zone",
        "image",
        "container",
        "task",
        "stack",
        "env",
        "environment",
        "browser",
        "os",
        "device",
        "package",
        "library",
        "thread",
        "process",
        "job",
        "step",
        "procedure",
        "product",
        "project",
        "branch",
        "span",
        "transaction",
        "operation",
        "action",
        "type",
        "attribute",
        "param",
        "parameter",
        "header",
        "property",
        "variable",
        "dimension",
        "namespace",
        "resource",
        "role",
        "group",
        "team",
        "organization",
        "company",
        "clinic",
        "integration",
        "check",
        "target",
    }
)
"""`<technical word> name` names a thing (`serviceName`, `db_name`); any other `... name` is
taken for a person's (`x_name`, `new_name`), as a clinic's logs had better over-redact."""
IDENTITY_FRAGMENTS = (
    "patient",  # patient, patientId, patient_email, patientRecord ...
    "address",
    "street",
    "zipcode",
    "postalcode",
    "postcode",
    "medicalrecord",
    "insuranceid",
    "insurancenumber",
    "memberid",
    "policynumber",
    "ipaddress",
    "xforwardedfor",
    "xrealip",
    "remoteaddr",
)
IDENTITY_WORDS = frozenset({"zip", "city", "mrn", "geo", "gps", "latitude", "longitude"})
QUERY_KEYS = frozenset({"querystring", "httpquery", "qs", "rawquery", "fragment", "httpfragment"})
"""Keys whose string value is a raw query string or fragment (Sentry's request.query_string,
http.query, http.fragment): its parameter values are replaced as in URLs."""

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


def key_words(key: str) -> list[str]:
    """`X-Api-Key` -> [x, api, key]; `refreshToken` -> [refresh, token]; `APIKey` -> [api, key].

    Compatibility forms are folded first (NFKC: full-width letters) and invisible format
    characters (zero-width spaces) dropped, so `pass\u200bword` is still `password`.
    """
    if not key.isascii():
        folded = unicodedata.normalize("NFKC", key)
        key = "".join(char for char in folded if unicodedata.category(char) != "Cf")
    return [word for word in _NOT_ALPHANUMERIC.split(_CAMEL_BOUNDARY.sub(" ", key).lower()) if word]


def _normalised_denylist(names: list[str]) -> tuple[tuple[str, ...], frozenset[str]]:
    compact = {"".join(key_words(name)) for name in names}
    return tuple(sorted(c for c in compact if len(c) >= 5)), frozenset(c for c in compact if c)


_SENTRY_FRAGMENTS, _SENTRY_WORDS = _normalised_denylist(DEFAULT_DENYLIST + DEFAULT_PII_DENYLIST)


def _matches(
    compact: str, words: frozenset[str], fragments: tuple[str, ...], whole: frozenset[str]
) -> bool:
    return bool(words & whole) or any(part in compact for part in fragments)


_PLACEHOLDER_RULES = (
    (EMAIL, EMAIL_FRAGMENTS, EMAIL_WORDS),
    (DOB, DOB_FRAGMENTS, DOB_WORDS),
    (SSN, SSN_FRAGMENTS, SSN_WORDS),
    (PHONE, PHONE_FRAGMENTS, PHONE_WORDS),
)


@lru_cache(maxsize=8192)
def _key_rule(key: str) -> tuple[str | None, bool]:
    """(placeholder, is a credential) for a key: (None, False) when the key says nothing."""
    words = key_words(key)
    compact = "".join(words)
    word_set = frozenset(words)
    if _matches(compact, word_set, SECRET_FRAGMENTS, SECRET_WORDS) or _matches(
        compact, word_set, _SENTRY_FRAGMENTS, _SENTRY_WORDS
    ):
        return REDACTED, True
    if not words:
        return None, False
    for placeholder, fragments, whole in _PLACEHOLDER_RULES:
        if _matches(compact, word_set, fragments, whole):
            return placeholder, False
    is_name = (
        compact in NAME_KEYS
        or (
            words[-1] in {"name", "names"}
            and (bool(word_set & PERSON_WORDS) or not word_set & TECHNICAL_WORDS)
        )
        or compact.endswith(_NAME_ENDINGS)
        or bool(word_set & _NAME_WORDS)
    )
    if is_name or _matches(compact, word_set, IDENTITY_FRAGMENTS, IDENTITY_WORDS):
        return REDACTED, False
    return None, False


def classify_key(key: str) -> str | None:
    """The placeholder for every value under this key, None when the key says nothing."""
    return _key_rule(key)[0] if len(key) <= MAX_KEY_CHARS else None


def is_sensitive_key(key: object) -> bool:
    """True when the values under `key` are replaced (a credential or a patient's identity)."""
    return classify_key(str(key)) is not None


# --- values ------------------------------------------------------------------------------------

SAFE_QUERY_PARAMETERS = frozenset(
    {
        "step",
        "page",
        "tab",
        "lang",
        "locale",
        "view",
        "sort",
        "order",
        "limit",
        "offset",
        "type",
        "error",
        "error_code",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    }
)
"""Query parameters whose values are kept (when SAFE_QUERY_VALUE): every other value goes."""
SAFE_QUERY_VALUE = re.compile(r"[A-Za-z0-9_.+-]{1,40}")

# Each kind of value has its own expression, run only when a cheap test on the string allows
# it: one expression with every alternative costs ~0.7 us a character in Python's engine.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
    r"(?:-----END[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)"
)
_USERINFO = re.compile(r"(?P<slashes>(?:\\?/){2})[^\s/?#@\"'<>\\]++@")
r"""`scheme://<userinfo>@`, `//<userinfo>@` and the JSON-escaped `:\/\/<userinfo>@`."""
_CLI_FLAG = re.compile(
    r"(?P<flag>--?[A-Za-z0-9][A-Za-z0-9_-]*+)(?P<space>[ \t]++)(?P<value>[^\s\"'-][^\s\"']*+)"
)
"""`--password hunter2`, `-p` aside (a flag the key rules catch, its value a separate word)."""
_QUERY_PARAMETER = re.compile(
    r"(?P<lead>[?#&;][ \t]*)(?P<name>[A-Za-z0-9_.~%\[\]-]{1,64}+)=(?P<value>[^&#;\s\"'<>\\]*+)"
)
_PAIR_KEY = re.compile(
    r"(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z0-9_.-]{1,64}+)(?:\\?[\"'])?[ \t]*[:=][ \t]*"
)
_PAIR_VALUE = re.compile(
    # A Python bytes or raw literal's prefix (`b'...'`, as botocore's DEBUG lines print headers)
    # belongs to the quoted value; taken alone it would be redacted in the value's place.
    r"(?:[bBrRuU]{1,2}(?=\\?[\"']))?(?P<quote>\\?[\"'])(?P<quoted>[^\"'\\\r\n]*)"
    r"|(?P<plain>(?:(?:bearer|basic|digest|token|negotiate)[ \t]+)?[^\s\"'&,;<>(){}\[\]\\]+)",
    re.IGNORECASE,
)
_NOT_A_VALUE = frozenset({"true", "false", "null", "none", "undefined", "nan"})
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DOB = re.compile(
    r"(?P<key>(?<![a-z0-9])(?:dob|d\.o\.b\.?|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday"
    r"|born(?:[ _-]on)?)(?![a-z])(?:\\?[\"'])?[ \t]*[:=]?[ \t]*(?:\\?[\"'])?)"
    r"(?:[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}"
    r"|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}"
    rf"|{_MONTH}[ \t]+[0-9]{{1,2}}(?:st|nd|rd|th)?,?[ \t]+[0-9]{{4}}"
    rf"|[0-9]{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTH},?[ \t]+[0-9]{{4}}"
    r"|[0-9]{8})(?![0-9])",
    re.IGNORECASE | re.ASCII,
)
_BEARER = re.compile(
    r"(?P<scheme>\b(?:[Bb]earer|BEARER|[Bb]asic|BASIC))[ \t]++"
    r"(?P<credential>[A-Za-z0-9._~+/-]++=*+)"
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}+(?:\.[A-Za-z0-9_-]*+){0,2}+")
_TOKEN_FORMATS = re.compile(  # after detect-secrets' plugins, plus Supabase's and OpenAI's
    r"(?<![A-Za-z0-9])(?:(?:A3T[A-Z0-9]|AKIA|ABIA|ACCA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"
    r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}+|github_pat_[A-Za-z0-9_]{22,}+"
    r"|glpat-[A-Za-z0-9_-]{20,}+|xox[abposr]-[A-Za-z0-9-]{10,}+"
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9_-]{8,}+"
    r"|SG\.[A-Za-z0-9_-]{16,}+\.[A-Za-z0-9_-]{16,}+|AIza[A-Za-z0-9_-]{35}"
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}+|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,}+"
    r"|sb_(?:secret|publishable)_[A-Za-z0-9_-]{16,}+)"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._+-])[A-Za-z0-9._+-]++(?:@|%40)(?:[A-Za-z0-9-]++\.)++[A-Za-z]{2,}+"
    r"(?![A-Za-z0-9-])"
)
_NUMBER_RUN = re.compile(r"[+(0-9][0-9 .()-]{7,24}[0-9]")
"""Candidates for the SSN and phone expressions, which are slow to run over a whole string."""
_SSN = re.compile(r"(?<![0-9-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9-])")
_PHONE = re.compile(
    r"(?<![0-9+])(?:"
    r"(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{3}\)[ .-]?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}"
    r"|\+[0-9](?:[ .()-]{0,2}+[0-9]){7,14}+"
    r")(?![0-9-])"
)
_TOKEN_RUN = re.compile(r"[A-Za-z0-9+/_.-]{20,}+=*+")
"""Candidates for the token formats and the high-entropy check (one scan instead of two)."""
_TOKEN_PREFIX = re.compile(
    r"A3T|AKIA|ABIA|ACCA|ASIA|gh[pousr]_|github_pat_|glpat-|xox|k_live_|k_test_|SG\.|AIza|sk-"
    r"|npm_|pypi-|sb_"
)
_OPAQUE = re.compile(r"[A-Za-z0-9+/_-]{32,}+=*+")
_PLAIN = re.compile(
    r"[A-Za-z][A-Za-z_]{0,18}"  # a word or an identifier, shorter than any token format
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"  # an ISO 8601 timestamp
    r"|(?=[0-9-]*[a-f])[0-9a-f-]{16,64}"  # a request id, trace id, UUID or hash
)
"""Whole strings that are certainly neither a credential nor a patient's data."""
_DIGIT = re.compile(r"[0-9]")


def _query_parameter(match: re.Match[str]) -> str:
    value = match["value"]
    name = match["name"]
    if not value or (name.lower() in SAFE_QUERY_PARAMETERS and SAFE_QUERY_VALUE.fullmatch(value)):
        return match[0]
    return f"{match['lead']}{name}={REDACTED}"


_OPENERS = {"[": "]", "{": "}", "(": ")"}


def _closing(text: str, start: int) -> int:
    """The index after the bracket closing the one at `start` (quotes aside), else the end of
    the line: `password: ['a', 'b']` and `patient: {'name': ...}` lose the whole value."""
    stack = [_OPENERS[text[start]]]
    index = start + 1
    while index < len(text):
        char = text[index]
        if char in _OPENERS:
            stack.append(_OPENERS[char])
        elif char == stack[-1]:
            stack.pop()
            if not stack:
                return index + 1
        elif char in "\r\n":
            return index
        index += 1
    return index


def _scrub_pairs(text: str) -> str:
    """`key=value`, `key: value` and `"key": "value"` whose key the key rules catch (the same
    normalisation as for structured keys): the value is replaced by the key's placeholder."""
    parts: list[str] = []
    position = 0
    for key_match in _PAIR_KEY.finditer(text):
        if key_match.start() < position:
            continue
        placeholder, secret = _key_rule(key_match["key"])
        if placeholder is None:
            continue
        if text[key_match.end() : key_match.end() + 1] in _OPENERS:
            start, end = key_match.end(), _closing(text, key_match.end())
            parts += (text[position:start], placeholder)
            position = end
            continue
        value = _PAIR_VALUE.match(text, key_match.end())
        if value is None:
            continue
        if value["quote"] is not None:
            if not value["quoted"] and not secret:
                continue
            start, end = value.start("quoted"), value.end("quoted")
        else:
            if not secret and value["plain"].lower() in _NOT_A_VALUE:
                continue
            start, end = value.span()
        parts += (text[position:start], placeholder)
        position = end
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)


def _cli_flag(match: re.Match[str]) -> str:
    start = match.start()
    if (start and not match.string[start - 1].isspace()) or not _key_rule(match["flag"])[1]:
        return match[0]  # `x-api-key missing` is no flag; `--verbose` no credential
    return f"{match['flag']}{match['space']}{REDACTED}"


def _bearer(match: re.Match[str]) -> str:
    credential = match["credential"]
    if match["scheme"].lower() == "basic" and (
        len(credential) < 8 or (credential.isalpha() and credential.islower())
    ):
        return match[0]
    return f"{match['scheme']} {REDACTED}"


def _number(match: re.Match[str]) -> str:
    candidate = match[0]
    return _PHONE.sub(PHONE, _SSN.sub(SSN, candidate))


def _looks_like_path(token: str) -> bool:
    return token.startswith("/") or any(
        len(segment) >= 3 and segment.isalpha() and (segment.islower() or segment.istitle())
        for segment in token.split("/")
    )


def _token(match: re.Match[str]) -> str:
    start = match.start()
    if start and match.string[start - 1].isalnum():
        return match[0]  # inside a longer word: `task_test_...` is no Stripe key
    return REDACTED


def _opaque(match: re.Match[str]) -> str:
    """Mixed case, digits and high entropy: a key, not a word, a path or a hex id."""
    token = match[0]
    body = token.rstrip("=")
    if (
        body == body.lower()
        or body == body.upper()
        or _DIGIT.search(body) is None
        or ("/" in body and _looks_like_path(body))
    ):
        return token
    size = len(body)
    entropy = -sum(n / size * math.log2(n / size) for n in Counter(body).values())
    return REDACTED if entropy >= MIN_OPAQUE_ENTROPY else token


def _run(match: re.Match[str]) -> str:
    """A run of token characters: known token formats, then long high-entropy tokens."""
    run = match[0]
    if len(run) >= 20 and _TOKEN_PREFIX.search(run):
        run = _TOKEN_FORMATS.sub(_token, run)
    if len(run) >= 32:
        run = _OPAQUE.sub(_opaque, run)
    return run


def scrub_text(text: str) -> str:
    """`text` with every credential and patient identifier that its wording shows replaced."""
    if _PLAIN.fullmatch(text):
        return text
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY.sub(REDACTED, text)
    if "//" in text or "\\/\\/" in text:
        text = _USERINFO.sub(lambda match: f"{match['slashes']}{REDACTED}@", text)
    if text.startswith("-") or " -" in text or "\t-" in text:
        text = _CLI_FLAG.sub(_cli_flag, text)
    has_equals = "=" in text
    if has_equals and ("?" in text or "#" in text or "&" in text or ";" in text):
        text = _QUERY_PARAMETER.sub(_query_parameter, text)
    if has_equals or ":" in text:
        text = _scrub_pairs(text)
    lowered = text.lower()
    if "dob" in lowered or "birth" in lowered or "born" in lowered or "d.o.b" in lowered:
        text = _DOB.sub(lambda match: match["key"] + DOB, text)
    if "earer" in lowered or "asic" in lowered:
        text = _BEARER.sub(_bearer, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(EMAIL, text)
    if len(text) >= 9:
        text = _NUMBER_RUN.sub(_number, text)
    if len(text) >= 20:
        text = _TOKEN_RUN.sub(_run, text)
    return text


def scrub_query(query: str) -> str:
    """A raw query string (no `?`) with its values replaced as in URLs."""
    return scrub_text("?" + query)[1:]


def scrub_url(url: str) -> str:
    """The URL with userinfo and query/fragment values replaced; scheme, host and path kept."""
    return scrub_text(url)


# --- structures --------------------------------------------------------------------------------

STRUCTURAL_KEYS = frozenset({"_aws"})
"""Keys whose subtree is written by the service itself (CloudWatch EMF metadata, whose metric
`Name` is no person's): credentials and values are still scrubbed there, patient keys are not."""


def scrub(value: Any, depth: int = 0, *, identity_keys: bool = True) -> Any:
    """A scrubbed copy of `value` made only of JSON types (and date/time/UUID objects).

    Dicts become dicts with string keys, tuples, lists and sets become lists; the input is not
    modified. `identity_keys=False` skips the patient-identity keys (for Sentry's SDK metadata).
    """
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset | AnnotatedValue):
        if depth > MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, Mapping):
            return _scrub_mapping(value, depth, identity_keys)
        if isinstance(value, AnnotatedValue):
            return AnnotatedValue(scrub(value.value, depth + 1), dict(value.metadata))
        return [scrub(item, depth + 1, identity_keys=identity_keys) for item in value]
    return _scrub_scalar(value)


def _scrub_scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | datetime | date | time | UUID):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= MAX_INT_BITS else UNREPRESENTABLE
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray | memoryview):
        return scrub_text(bytes(value).decode("utf-8", "replace"))
    try:
        text = str(value)
    except Exception:
        return UNREPRESENTABLE
    return scrub_text(text)


def _scrub_mapping(value: Mapping[Any, Any], depth: int, identity_keys: bool) -> dict[str, Any]:
    scrubbed: dict[str, Any] = {}
    for key, item in value.items():
        name, clean = _scrub_member(key, item, depth, identity_keys=identity_keys)
        scrubbed[name] = clean
    return scrubbed


@lru_cache(maxsize=8192)
def _key_facts(key: str) -> tuple[str, str | None, bool, bool]:
    """(scrubbed key, placeholder, is a credential, holds a raw query) of a key up to
    MAX_KEY_CHARS: keys repeat from line to line, so this is one cache look-up."""
    placeholder, secret = _key_rule(key)
    return scrub_text(key), placeholder, secret, "".join(key_words(key)) in QUERY_KEYS


def _scrub_member(key: Any, item: Any, depth: int, *, identity_keys: bool) -> tuple[str, Any]:
    """(scrubbed key, scrubbed value) of one member of a mapping at `depth`."""
    name = key if type(key) is str else str(scrub(key, depth + 1))
    if len(name) <= MAX_KEY_CHARS:
        clean_name, placeholder, secret, query = _key_facts(name)
    else:
        clean_name, placeholder, secret, query = scrub_text(name), None, False, False
    kind = type(item)
    if secret:
        clean: Any = REDACTED
    elif item is None or kind is bool or (kind is str and not item):
        clean = item  # identifies no one
    elif placeholder is not None and identity_keys:
        clean = placeholder
    elif kind is str:
        clean = scrub_query(item) if query else scrub_text(item)
    elif kind is int or kind is float:
        clean = _scrub_scalar(item)
    else:
        inner_identity = identity_keys and name not in STRUCTURAL_KEYS
        clean = scrub(item, depth + 1, identity_keys=inner_identity)
    return clean_name, clean


# --- Sentry ------------------------------------------------------------------------------------

SENTRY_STRUCTURAL = frozenset({"sdk", "threads", "debug_meta", "modules", "measurements", "_meta"})
"""Top-level event members the SDK fills with its own metadata (`sdk.name`, thread names)."""
SENTRY_CONTEXTS = frozenset(
    {"runtime", "os", "device", "app", "browser", "trace", "otel", "gpu", "culture", "response"}
)
"""Contexts the SDK fills itself; any other context (set_context) is scrubbed in full."""


def scrub_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A Sentry event (error or transaction) with the pipeline applied to every member."""
    scrubbed: dict[str, Any] = {}
    for key, value in event.items():
        if key in SENTRY_STRUCTURAL:
            scrubbed[key] = scrub(value, 1, identity_keys=False)
        elif key == "contexts" and isinstance(value, Mapping):
            scrubbed[key] = {
                scrub_text(str(name)): scrub(context, 2, identity_keys=name not in SENTRY_CONTEXTS)
                for name, context in value.items()
            }
        else:
            name, clean = _scrub_member(key, value, 0, identity_keys=True)
            scrubbed[name] = clean
    return scrubbed


def scrub_breadcrumb(crumb: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = scrub(crumb)
    return result


def scrub_log(log: Mapping[str, Any]) -> dict[str, Any]:
    """A Sentry log item: its body and attributes (the SDK's own fields are kept)."""
    scrubbed = dict(log)
    if isinstance(log.get("body"), str):
        scrubbed["body"] = scrub_text(log["body"])
    if "attributes" in log:
        scrubbed["attributes"] = scrub(log["attributes"])
    return scrubbed


def scrub_metric(metric: Mapping[str, Any]) -> dict[str, Any]:
    """A Sentry metric: its attributes (name, unit and value are the service's own)."""
    scrubbed = dict(metric)
    if "attributes" in metric:
        scrubbed["attributes"] = scrub(metric["attributes"])
    return scrubbed


# --- the names the rest of the service imports ----------------------------------------------


def redact(value: Any, depth: int = 0) -> Any:
    """A scrubbed copy of `value` (see the module docstring); the input is not modified."""
    return scrub(value, depth)


def redact_url(url: str) -> str:
    return scrub_url(url)


def redact_event(event: dict[str, Any]) -> dict[str, Any]:
    """Sentry's `before_send`: the whole event through the pipeline."""
    return scrub_event(event)
