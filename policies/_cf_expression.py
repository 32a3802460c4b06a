r"""Check a Cloudflare Rules language expression, and evaluate it against one sample request.

`expression_errors(expression, plan)` lists why Cloudflare would refuse an expression on a zone of
the given plan (free | pro | business | enterprise); `evaluate_expression(expression, fields)`
says whether it matches a sample request. One small tokenizer and recursive-descent parser does
both: it types every operand from the field and function tables below and evaluates the parts the
sample defines.

The tables and rules encode these Cloudflare pages:

- Operators and grouping symbols
  (https://developers.cloudflare.com/ruleset-engine/rules-language/operators/): the comparison
  operators and the data types each accepts (eq ne: String IP Number; lt le gt ge: String
  Number; contains, matches/~, wildcard, strict wildcard: String; in: String IP Number), the
  precedence not > and > xor > or, "Access to the `matches` operator requires a Cloudflare
  Business or Enterprise plan", and for wildcards "Two unescaped `*` characters in a row (`**`)
  in a wildcard literal string are considered invalid".
- Values (https://developers.cloudflare.com/ruleset-engine/rules-language/values/): quoted strings
  escape `"` and `\\` as `\"` and `\\`; on the right of `matches` a quoted string is parsed with
  regex escaping rules; raw strings `r"..."`, `r#"..."#` have no escapes; inline lists `{...}`
  hold literals of one type, with `a..b` ranges for integers and IPs and CIDR ranges for IPs;
  `$name` refers to a list; `[*]` unpacks an array only in a function's first argument.
  Beyond `\"` and `\\`, the engine behind the language (github.com/cloudflare/wirefilter,
  engine/src/rhs_types/bytes.rs) also takes `\xHH` and three-digit octal escapes, which the
  Functions page uses (`remove_bytes(http.host, "\x2e\x77")`); every other escape is refused.
- Fields reference (https://developers.cloudflare.com/ruleset-engine/rules-language/fields/reference/,
  source: cloudflare-docs src/content/fields/index.yaml): each field's data type and, where it has
  one, the plan it requires ("Pro or above", "Business or above", "Enterprise", "Enterprise
  add-on").
- Functions reference (https://developers.cloudflare.com/ruleset-engine/rules-language/functions/):
  each function's parameter and return types, the parameters that must be a field rather than a
  literal ("The source cannot be a literal value"), and "Access to the HMAC validation function
  requires a Cloudflare Pro, Business, or Enterprise plan".

Evaluation is three-valued: a field the sample does not define gives None ("cannot tell"), and so
does any expression `expression_errors` refuses, so callers decide conservatively.
"""

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PLANS = ("free", "pro", "business", "enterprise")
_PLAN_LABELS = {"free": "Free", "pro": "Pro", "business": "Business", "enterprise": "Enterprise"}

# Types, as the Fields and Functions references name them (Number and Integer are one type, and so
# are String and Bytes: both compare the same way).
STRING, INTEGER, BOOLEAN, IP = "String", "Integer", "Boolean", "IP address"


def _array(element: str) -> str:
    return f"Array<{element}>"


def _map(element: str) -> str:
    return f"Map<{element}>"


_STRINGS_MAP = _map(_array(STRING))

# Field name -> (data type, lowest plan that has it).
FIELDS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        (
            "http.cookie",
            "http.host",
            "http.referer",
            "http.request.full_uri",
            "http.request.method",
            "http.request.uri",
            "http.request.uri.path",
            "http.request.uri.path.extension",
            "http.request.uri.query",
            "http.user_agent",
            "http.request.version",
            "http.x_forwarded_for",
            "http.request.body.mime",
            "http.response.content_type.media_type",
            "ip.src.lat",
            "ip.src.lon",
            "ip.src.city",
            "ip.src.postal_code",
            "ip.src.metro_code",
            "ip.src.region",
            "ip.src.region_code",
            "ip.src.timezone.name",
            "ip.src.continent",
            "ip.src.country",
            "ip.geoip.continent",
            "ip.geoip.country",
            "raw.http.request.full_uri",
            "raw.http.request.uri",
            "raw.http.request.uri.path",
            "raw.http.request.uri.path.extension",
            "raw.http.request.uri.query",
            "cf.verified_bot_category",
            "cf.hostname.metadata",
            "cf.ray_id",
            "cf.tls_cipher",
            "cf.tls_version",
            "cf.tls_client_random",
            "cf.tls_ciphers_sha1",
            "cf.tls_client_extensions_sha1",
            "cf.tls_client_extensions_sha1_le",
            "cf.tls_client_auth.cert_issuer_dn",
            "cf.tls_client_auth.cert_subject_dn",
            "cf.tls_client_auth.cert_issuer_dn_rfc2253",
            "cf.tls_client_auth.cert_subject_dn_rfc2253",
            "cf.tls_client_auth.cert_issuer_dn_legacy",
            "cf.tls_client_auth.cert_subject_dn_legacy",
            "cf.tls_client_auth.cert_serial",
            "cf.tls_client_auth.cert_issuer_serial",
            "cf.tls_client_auth.cert_fingerprint_sha256",
            "cf.tls_client_auth.cert_fingerprint_sha1",
            "cf.tls_client_auth.cert_not_before",
            "cf.tls_client_auth.cert_not_after",
            "cf.tls_client_auth.cert_ski",
            "cf.tls_client_auth.cert_issuer_ski",
            "cf.worker.upstream_zone",
            "cf.response.error_type",
        ),
        (STRING, "free"),
    ),
    **dict.fromkeys(
        (
            "http.request.timestamp.sec",
            "http.request.timestamp.msec",
            "http.response.code",
            "ip.src.asnum",
            "ip.geoip.asnum",
            "cf.edge.server_port",
            "cf.threat_score",
            "cf.tls_client_hello_length",
            "cf.edge.l4.delivery_rate",
            "cf.timings.client_tcp_rtt_msec",
            "cf.timings.client_quic_rtt_msec",
            "cf.timings.edge_msec",
            "cf.timings.origin_ttfb_msec",
            "cf.timings.worker_msec",
            "cf.response.1xxx_code",
        ),
        (INTEGER, "free"),
    ),
    **dict.fromkeys(
        (
            "ssl",
            "cf.client.bot",
            "cf.edge.client_tcp",
            "cf.tls_client_auth.cert_revoked",
            "cf.tls_client_auth.cert_verified",
            "cf.tls_client_auth.cert_presented",
            "http.request.headers.truncated",
        ),
        (BOOLEAN, "free"),
    ),
    **dict.fromkeys(("ip.src", "cf.edge.server_ip"), (IP, "free")),
    **{
        name: (_array(STRING), "free")
        for name in (
            "http.request.headers.names",
            "http.request.headers.values",
            "http.request.uri.args.names",
            "http.request.uri.args.values",
            "raw.http.request.uri.args.names",
            "raw.http.request.uri.args.values",
            "http.request.accepted_languages",
            "http.response.headers.names",
            "http.response.headers.values",
            "raw.http.response.headers.names",
            "raw.http.response.headers.values",
        )
    },
    **dict.fromkeys(
        (
            "http.request.headers",
            "http.request.uri.args",
            "raw.http.request.uri.args",
            "http.response.headers",
            "raw.http.response.headers",
        ),
        (_STRINGS_MAP, "free"),
    ),
    "cf.random_seed": (STRING, "free"),
    "http.request.cookies": (_STRINGS_MAP, "pro"),
    "ip.src.subdivision_1_iso_code": (STRING, "business"),
    "ip.src.subdivision_2_iso_code": (STRING, "business"),
    "ip.src.is_in_european_union": (BOOLEAN, "business"),
    "cf.waf.score.class": (STRING, "business"),
    **dict.fromkeys(
        (
            "cf.waf.score",
            "cf.waf.score.sqli",
            "cf.waf.score.xss",
            "cf.waf.score.rce",
            "cf.bot_management.score",
            "http.request.body.size",
        ),
        (INTEGER, "enterprise"),
    ),
    **dict.fromkeys(
        (
            "cf.bot_management.verified_bot",
            "cf.bot_management.static_resource",
            "cf.bot_management.js_detection.passed",
            "cf.bot_management.corporate_proxy",
            "http.request.body.truncated",
        ),
        (BOOLEAN, "enterprise"),
    ),
    **dict.fromkeys(
        ("cf.bot_management.ja3_hash", "cf.bot_management.ja4", "http.request.body.raw"),
        (STRING, "enterprise"),
    ),
    "http.request.body.form": (_STRINGS_MAP, "enterprise"),
    "http.request.body.form.names": (_array(STRING), "enterprise"),
    "http.request.body.form.values": (_array(STRING), "enterprise"),
}


@dataclass(frozen=True)
class Signature:
    """A function of the Functions reference: one accepted-type tuple per parameter."""

    parameters: tuple[tuple[str, ...], ...]
    returns: str
    optional: int = 0  # how many trailing parameters may be left out
    variadic: bool = False  # the last parameter repeats
    field_first: bool = False  # the first argument must be a field, not a literal
    plan: str = "free"


_TEXT = (STRING,)
_SEQUENCE = (STRING, "Array")
_KEY = (STRING, INTEGER)
FUNCTIONS: dict[str, Signature] = {
    "any": Signature(((_array(BOOLEAN),),), BOOLEAN),
    "all": Signature(((_array(BOOLEAN),),), BOOLEAN),
    "cidr": Signature(((IP,), (INTEGER,), (INTEGER,)), IP, field_first=True),
    "cidr6": Signature(((IP,), (INTEGER,)), IP, field_first=True),
    "concat": Signature((_SEQUENCE,), STRING, variadic=True),
    "decode_base64": Signature((_TEXT,), STRING, field_first=True),
    "ends_with": Signature((_TEXT, _TEXT), BOOLEAN, field_first=True),
    "join": Signature(((_array(STRING),), _TEXT), STRING),
    "len": Signature((_SEQUENCE,), INTEGER),
    "lookup_json_integer": Signature((_TEXT, _KEY), INTEGER, variadic=True),
    "lookup_json_string": Signature((_TEXT, _KEY), STRING, variadic=True),
    "lower": Signature((_TEXT,), STRING),
    "regex_replace": Signature((_TEXT, _TEXT, _TEXT), STRING),
    "remove_bytes": Signature((_TEXT, _TEXT), STRING),
    "remove_query_args": Signature((_TEXT, _TEXT), STRING, variadic=True, field_first=True),
    "split": Signature((_TEXT, _TEXT, (INTEGER,)), _array(STRING)),
    "starts_with": Signature((_TEXT, _TEXT), BOOLEAN, field_first=True),
    "substring": Signature((_TEXT, (INTEGER,), (INTEGER,)), STRING, optional=1),
    "to_string": Signature(((INTEGER, BOOLEAN, IP),), STRING),
    "upper": Signature((_TEXT,), STRING),
    "url_decode": Signature((_TEXT, _TEXT), STRING, optional=1, field_first=True),
    "uuidv4": Signature((_TEXT,), STRING, field_first=True),
    "wildcard_replace": Signature((_TEXT, _TEXT, _TEXT, _TEXT), STRING, optional=1),
    "is_timed_hmac_valid_v0": Signature(
        (_TEXT, _TEXT, (INTEGER,), (INTEGER,), (INTEGER,), _TEXT),
        BOOLEAN,
        optional=2,
        plan="pro",
    ),
}

# Operator -> the operand types it accepts (Operators page, "Supported Data Types").
_OPERAND_TYPES = {
    "==": (STRING, IP, INTEGER),
    "!=": (STRING, IP, INTEGER),
    "<": (STRING, INTEGER),
    "<=": (STRING, INTEGER),
    ">": (STRING, INTEGER),
    ">=": (STRING, INTEGER),
    "contains": (STRING,),
    "matches": (STRING,),
    "wildcard": (STRING,),
    "strict wildcard": (STRING,),
    "in": (STRING, IP, INTEGER),
}
_REGEX_PLAN = "business"
_COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_WORD_LOGIC = {"and": "&&", "or": "||", "xor": "^^", "not": "!"}
_OPERATOR_WORDS = frozenset(
    {*_WORD_LOGIC.values(), *_COMPARISONS.values()}
    | {"contains", "matches", "wildcard", "strict", "in"}
)
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?"
_IPV6 = r"(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]+(?:\.\d{1,3}){0,3}(?:/\d{1,3})?"

_TOKEN = re.compile(
    rf"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<raw>r(?P<hashes>\#*)"(?P<rawbody>.*?)"(?P=hashes))
    | (?P<ip>(?:{_IPV4}|{_IPV6})(?![\w:]|\.\d))
    | (?P<number>-?\d+)(?![\w])
    | (?P<list>\$[a-z0-9_]+)
    | (?P<op>==|!=|<=|>=|&&|\|\||\^\^|\.\.|[!<>~(){{}},\[\]*])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    )""",
    re.VERBOSE | re.DOTALL,
)


class _Unparsable(Exception):
    pass


@dataclass(frozen=True)
class _Token:
    kind: str  # string raw ip number list op word
    text: str


@dataclass
class _Operand:
    """A typed operand and, when the sample defines it, its value."""

    type: str
    value: Any = None
    literal: bool = False
    unpacked: bool = False  # `x[*]`: one value per array element
    token: _Token | None = None  # the string literal, decoded by the context that uses it


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    end = len(expression.rstrip())
    while position < end:
        match = _TOKEN.match(expression, position)
        if not match or match.end() == position:
            rest = expression[position:].strip()
            if rest.startswith(('"', "r")):
                raise _Unparsable(f"unterminated string at: {rest[:30]}")
            raise _Unparsable(f"unexpected text at: {rest[:30]}")
        position = match.end()
        kind = next(k for k in ("string", "raw", "ip", "number", "list", "op", "word") if match[k])
        text = match["rawbody"] if kind == "raw" else match[kind]
        if kind == "string":
            text = text[1:-1]
        elif kind == "word":
            text = _WORD_LOGIC.get(text, _COMPARISONS.get(text, text))
            kind = "op" if text in _OPERATOR_WORDS else "word"
        tokens.append(_Token(kind, text))
    return tokens


def _unescape(body: str) -> tuple[str, list[str]]:
    """A quoted string's value and its invalid escapes (wirefilter lex_quoted_string_as_vec)."""
    value: list[str] = []
    invalid: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            value.append(char)
            index += 1
            continue
        following = body[index + 1 : index + 2]
        if following in ('"', "\\"):
            value.append(following)
            index += 2
        elif following == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", body[index + 2 : index + 4]):
            value.append(chr(int(body[index + 2 : index + 4], 16)))
            index += 4
        elif re.fullmatch(r"[0-7]{3}", body[index + 1 : index + 4]):
            value.append(chr(int(body[index + 1 : index + 4], 8)))
            index += 4
        else:
            invalid.append("\\" + following)
            value.append(following)
            index += 2
    return "".join(value), invalid


def _regex_source(body: str) -> str:
    """The regex a quoted string right of `matches` gives (wirefilter lex_regex_from_literal):
    `\\"` becomes `"` outside a character class, every other escape reaches the regex engine."""
    regex: list[str] = []
    in_class = False
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            following = body[index + 1]
            regex.append(following if following == '"' and not in_class else char + following)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        regex.append(char)
        index += 1
    return "".join(regex)


def _wildcard_problem(pattern: str) -> str | None:
    """Why Cloudflare refuses a wildcard pattern: `**`, or `\\` escaping anything but `*`/`\\`."""
    index = 0
    previous_star = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following not in ("*", "\\"):
                return f"escape \\{following} (only \\* and \\\\ are allowed)"
            index += 2
            previous_star = False
            continue
        if char == "*" and previous_star:
            return "** (two unescaped * in a row are invalid)"
        previous_star = char == "*"
        index += 1
    return None


def _wildcard_regex(pattern: str) -> str:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return "".join(parts)


def _kleene_and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def _kleene_or(left: bool | None, right: bool | None) -> bool | None:
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def _kleene_xor(left: bool | None, right: bool | None) -> bool | None:
    return None if left is None or right is None else left != right


def _compare(operator: str, left: Any, right: Any) -> bool | None:  # noqa: PLR0911
    if left is None or right is None:
        return None
    try:
        if operator == "==":
            return bool(left == right)
        if operator == "!=":
            return bool(left != right)
        if operator in ("<", "<=", ">", ">="):
            return bool(
                {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[
                    operator
                ]
            )
        if operator == "contains":
            return str(right) in str(left)
        if operator == "matches":
            return re.search(str(right), str(left)) is not None
        if operator in ("wildcard", "strict wildcard"):
            flags = 0 if operator == "strict wildcard" else re.IGNORECASE
            return re.fullmatch(_wildcard_regex(str(right)), str(left), flags) is not None
        if operator == "in":
            return any(low <= left <= high for low, high in right)
    except (TypeError, re.error):
        return None
    return None


_EVALUATORS: dict[str, Callable[..., Any]] = {
    "lower": lambda value: value.lower(),
    "upper": lambda value: value.upper(),
    "starts_with": lambda value, prefix: value.startswith(prefix),
    "ends_with": lambda value, suffix: value.endswith(suffix),
    "len": len,
    "concat": lambda *values: "".join(values),
}


def _accepts(accepted: Sequence[str], actual: str) -> bool:
    return actual in accepted or ("Array" in accepted and actual.startswith("Array<"))


def _a(type_name: str) -> str:
    return f"{'an' if type_name[0] in 'AEIOU' else 'a'} {type_name}"


def _plan_allows(plan: str, required: str) -> bool:
    return PLANS.index(plan) >= PLANS.index(required)


@dataclass
class _Parser:
    tokens: list[_Token]
    fields: Mapping[str, Any]
    plan: str
    errors: list[str] = field(default_factory=list)
    index: int = 0

    def _peek(self) -> str | None:
        token = self.tokens[self.index] if self.index < len(self.tokens) else None
        return token.text if token and token.kind == "op" else None

    def _take(self) -> _Token:
        if self.index >= len(self.tokens):
            raise _Unparsable("the expression ends too early")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, text: str, where: str) -> None:
        token = self._take()
        if token.kind != "op" or token.text != text:
            raise _Unparsable(f"expected '{text}' {where}, found '{token.text}'")

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def _needs_plan(self, what: str, required: str) -> None:
        if not _plan_allows(self.plan, required):
            self._error(
                f"{what} requires a Cloudflare {_PLAN_LABELS[required]} plan or above; "
                f"the zone's plan is {_PLAN_LABELS[self.plan]}"
            )

    def run(self) -> bool | None:
        if not self.tokens:
            raise _Unparsable("the expression is empty")
        result = self._or()
        if self.index != len(self.tokens):
            raise _Unparsable(f"unexpected '{self.tokens[self.index].text}' after a condition")
        return result

    def _chain(
        self,
        operator: str,
        operand: Callable[[], bool | None],
        combine: Callable[[bool | None, bool | None], bool | None],
    ) -> bool | None:
        """A left-associative run of `operand`s joined by `operator`; every operand is parsed
        (and checked), none is skipped."""
        result = operand()
        while self._peek() == operator:
            self._take()
            result = combine(result, operand())
        return result

    def _or(self) -> bool | None:
        return self._chain("||", self._xor, _kleene_or)

    def _xor(self) -> bool | None:
        return self._chain("^^", self._and, _kleene_xor)

    def _and(self) -> bool | None:
        return self._chain("&&", self._not, _kleene_and)

    def _not(self) -> bool | None:
        if self._peek() == "!":
            self._take()
            inner = self._not()
            return None if inner is None else not inner
        return self._condition()

    def _condition(self) -> bool | None:
        if self._peek() == "(":
            self._take()
            inner = self._or()
            self._expect(")", "to close '('")
            return inner
        left = self._operand()
        operator = self._comparison_operator()
        if operator is None:
            return self._bare(left)
        result = self._comparison(left, operator)
        if left.unpacked:
            self._error(
                f"'{operator}' on an unpacked array ([*]) is only allowed inside a function "
                "such as any() or all()"
            )
        return result

    def _comparison_operator(self) -> str | None:
        operator = self._peek()
        if operator == "strict":
            self._take()
            if self._peek() != "wildcard":
                raise _Unparsable("'strict' must be followed by 'wildcard'")
            self._take()
            return "strict wildcard"
        if operator in _OPERAND_TYPES or operator == "~":
            self._take()
            return "matches" if operator == "~" else operator
        return None

    def _bare(self, operand: _Operand) -> bool | None:
        if operand.type == "?":
            return None
        if operand.type != BOOLEAN:
            shown = operand.token.text if operand.token else operand.type
            self._error(
                f"'{shown}' ({operand.type}) is not a condition: compare it with an operator"
            )
            return None
        return operand.value if isinstance(operand.value, bool) else None

    def _comparison(self, left: _Operand, operator: str) -> bool | None:
        if left.literal:
            self._error(
                f"the left side of '{operator}' must be a field or a function, not a literal"
            )
        if left.type not in _OPERAND_TYPES[operator] and left.type != "?":
            self._error(
                f"'{operator}' does not accept {_a(left.type)} operand "
                f"(it takes {' or '.join(_OPERAND_TYPES[operator])})"
            )
        if operator == "matches":
            self._needs_plan("the matches (~) operator", _REGEX_PLAN)
        if operator == "in":
            return _compare("in", left.value, self._set(left.type))
        right = self._literal_for(left.type, operator)
        return _compare(operator, left.value, right)

    def _literal_for(self, expected: str, operator: str) -> Any:
        """The literal right of a comparison, checked against the left operand's type."""
        token = self._take()
        if token.kind in ("string", "raw"):
            if expected not in (STRING, "?"):
                self._error(f'{_a(expected)} cannot be compared with the string "{token.text}"')
            if operator == "matches":
                source = token.text if token.kind == "raw" else _regex_source(token.text)
                self._check_regex(source)
                return source
            value = self._string_value(token)
            if operator in ("wildcard", "strict wildcard"):
                problem = _wildcard_problem(value)
                if problem:
                    self._error(f'invalid wildcard pattern "{token.text}": {problem}')
                    return None
            return value
        if token.kind == "number":
            if expected not in (INTEGER, "?"):
                self._error(f"{_a(expected)} cannot be compared with the number {token.text}")
            return int(token.text)
        if token.kind == "ip":
            if expected not in (IP, "?"):
                self._error(f"{_a(expected)} cannot be compared with the IP address {token.text}")
            if "/" in token.text and operator != "in":
                self._error(
                    f"'{operator}' cannot take the CIDR range {token.text}: use 'in {{...}}'"
                )
            self._check_ip(token.text)
            return None
        raise _Unparsable(f"expected a value after '{operator}', found '{token.text}'")

    def _string_value(self, token: _Token) -> str:
        if token.kind == "raw":
            return token.text
        value, invalid = _unescape(token.text)
        for escape in invalid:
            self._error(
                f'invalid escape {escape} in the string "{token.text}": quoted strings accept '
                f'only \\" and \\\\ (and \\xHH); write a raw string r"..." instead'
            )
        return value

    def _check_regex(self, source: str) -> None:
        if re.search(r"\(\?<?[=!]", source):
            self._error(f"the regex {source!r} uses lookaround, which Rust's regex engine lacks")
        if re.search(r"(?<!\\)\\[1-9]", source):
            self._error(f"the regex {source!r} uses a backreference, which Rust's regex lacks")

    def _check_ip(self, text: str) -> None:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            self._error(f"'{text}' is not an IP address or CIDR range")

    def _set(self, expected: str) -> list[tuple[Any, Any]] | None:
        if self.index < len(self.tokens) and self.tokens[self.index].kind == "list":
            self._take()
            return None
        self._expect("{", "after 'in'")
        members: list[tuple[Any, Any]] | None = []
        if self._peek() == "}":
            self._error("an inline list {...} cannot be empty")
        while self._peek() != "}":
            low = self._literal_for(expected, "in")
            high = low
            if self._peek() == "..":
                self._take()
                high = self._literal_for(expected, "in")
            elif self._peek() == ",":
                raise _Unparsable("inline list elements are separated by spaces, not commas")
            if members is not None and low is not None:
                members.append((low, high))
            else:
                members = None
        self._take()
        return members

    def _operand(self) -> _Operand:
        token = self._take()
        if token.kind in ("string", "raw"):
            return _Operand(STRING, self._string_value(token), literal=True, token=token)
        if token.kind == "number":
            return _Operand(INTEGER, int(token.text), literal=True, token=token)
        if token.kind == "ip":
            self._check_ip(token.text)
            return _Operand(IP, None, literal=True, token=token)
        if token.kind != "word":
            raise _Unparsable(f"expected a field, function or value, found '{token.text}'")
        if token.text in ("true", "false"):
            return _Operand(BOOLEAN, token.text == "true", literal=True, token=token)
        operand = self._call(token.text) if self._peek() == "(" else self._field(token)
        return self._indexed(operand)

    def _field(self, token: _Token) -> _Operand:
        known = FIELDS.get(token.text)
        if known is None:
            self._error(f"unknown field '{token.text}'")
            return _Operand("?", None, token=token)
        field_type, plan = known
        self._needs_plan(f"the field {token.text}", plan)
        return _Operand(field_type, self.fields.get(token.text), token=token)

    def _indexed(self, operand: _Operand) -> _Operand:
        """`map["key"]`, `array[0]`, `array[*]`."""
        while self._peek() == "[":
            self._take()
            token = self._take()
            container = operand.type
            if container.startswith("Map<") and token.kind in ("string", "raw"):
                element = container[4:-1]
            elif container.startswith("Array<") and (
                token.kind == "number" or (token.kind == "op" and token.text == "*")
            ):
                element = container[6:-1]
            elif container == "?":
                element = "?"
            else:
                self._error(f"{_a(container)} cannot be indexed with [{token.text}]")
                element = "?"
            unpacked = operand.unpacked or (token.kind == "op" and token.text == "*")
            operand = _Operand(element, None, unpacked=unpacked)
            self._expect("]", "to close '['")
        return operand

    def _call(self, name: str) -> _Operand:
        self._expect("(", f"after {name}")
        arguments: list[_Operand] = []
        while self._peek() != ")":
            if arguments:
                separator = self._take()
                if separator.kind != "op" or separator.text != ",":
                    raise _Unparsable(
                        f"missing ',' between the arguments of {name}(), before '{separator.text}'"
                    )
            arguments.append(self._argument())
        self._take()
        signature = FUNCTIONS.get(name)
        if signature is None:
            self._error(f"unknown function '{name}()'")
            return _Operand("?")
        self._needs_plan(f"the function {name}()", signature.plan)
        self._check_arguments(name, signature, arguments)
        mapped = bool(arguments) and arguments[0].unpacked
        if mapped:
            return _Operand(_array(signature.returns))
        evaluator = _EVALUATORS.get(name)
        values = [argument.value for argument in arguments]
        if evaluator is None or any(value is None for value in values):
            return _Operand(signature.returns)
        try:
            return _Operand(signature.returns, evaluator(*values))
        except (TypeError, AttributeError):
            return _Operand(signature.returns)

    def _argument(self) -> _Operand:
        """A function argument: an operand, or a comparison on an unpacked array (for any/all)."""
        operand = self._operand()
        operator = self._comparison_operator()
        if operator is None:
            return operand
        unpacked = operand.unpacked
        operand.unpacked = False
        self._comparison(operand, operator)
        return _Operand(_array(BOOLEAN) if unpacked else BOOLEAN)

    def _check_arguments(self, name: str, signature: Signature, arguments: list[_Operand]) -> None:
        count = len(signature.parameters)
        least = count - signature.optional
        if len(arguments) < least or (len(arguments) > count and not signature.variadic):
            expected = str(count) if signature.optional == 0 else f"{least} to {count}"
            if signature.variadic:
                expected = f"at least {least}"
            self._error(f"{name}() takes {expected} arguments, got {len(arguments)}")
        if signature.field_first and arguments and arguments[0].literal:
            self._error(f"the first argument of {name}() must be a field, not a literal")
        for position, argument in enumerate(arguments):
            accepted = signature.parameters[min(position, count - 1)]
            actual = argument.type
            if argument.unpacked and position != 0:
                self._error(f"[*] is only allowed in the first argument of {name}()")
            if actual != "?" and not _accepts(accepted, actual):
                self._error(
                    f"argument {position + 1} of {name}() must be {' or '.join(accepted)}, "
                    f"not {actual}"
                )
        if name == "wildcard_replace" and len(arguments) > 1 and arguments[1].literal:
            problem = _wildcard_problem(str(arguments[1].value))
            if problem:
                self._error(f"invalid wildcard pattern in wildcard_replace(): {problem}")


def _check(expression: str, fields: Mapping[str, Any], plan: str) -> tuple[bool | None, list[str]]:
    if plan not in PLANS:
        raise ValueError(f"unknown Cloudflare plan {plan!r}: one of {', '.join(PLANS)}")
    parser = _Parser([], fields, plan)
    try:
        parser.tokens = _tokenize(expression)
        result = parser.run()
    except _Unparsable as error:
        return None, [*parser.errors, f"syntax error: {error}"]
    return (None if parser.errors else result), parser.errors


def expression_errors(expression: str, plan: str) -> list[str]:
    """Why Cloudflare would refuse `expression` on a zone of `plan` (free, pro, business or
    enterprise); empty when it is accepted."""
    return _check(expression, {}, plan)[1]


def evaluate_expression(expression: str, fields: Mapping[str, Any]) -> bool | None:
    """True/False when the expression certainly does/does not match; None when it cannot tell,
    or when the expression is invalid on every plan (see `expression_errors`)."""
    return _check(expression, fields, "enterprise")[0]


def request_fields(path: str, query: str = "") -> dict[str, Any]:
    """The request fields a sample path defines; the host and everything else stay unknown."""
    extension = path.rsplit("/", 1)[-1].rpartition(".")[2] if "." in path.rsplit("/", 1)[-1] else ""
    uri = f"{path}?{query}" if query else path
    return {
        "http.request.uri.path": path,
        "http.request.uri.path.extension": extension,
        "http.request.uri.query": query,
        "http.request.uri": uri,
        "raw.http.request.uri.path": path,
        "raw.http.request.uri": uri,
        "http.request.method": "GET",
    }
