"""Evaluate a Cloudflare Rules language expression against one sample request.

Covers the subset rules on this platform use: fields, string/number literals, `{...}` sets,
comparison operators (eq ne lt le gt ge == != < <= > >= contains matches ~ wildcard
`strict wildcard` in), `not and xor or` (and `! && ^^ ||`), parentheses, and the functions
lower, upper, starts_with, ends_with, len, url_decode.
https://developers.cloudflare.com/ruleset-engine/rules-language/

Three-valued: a field the sample does not define, an unsupported function or a malformed
expression gives None ("cannot tell"), so callers decide conservatively.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<raw>r(?P<hashes>\#*)"(?P<rawbody>.*?)"(?P=hashes))
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<op>==|!=|<=|>=|&&|\|\||\^\^|[!<>~(){},])
    | (?P<name>[A-Za-z_][A-Za-z0-9_.\-\[\]*"]*?(?=[\s(),{}!=<>~&|^]|$))
    )""",
    re.VERBOSE | re.DOTALL,
)

_COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_WORD_LOGIC = {"and": "&&", "or": "||", "xor": "^^", "not": "!"}


class _Unparsable(Exception):
    pass


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if not match or match.end() == position:
            raise _Unparsable(expression[position:])
        position = match.end()
        if match.group("string") is not None:
            body = match.group("string")[1:-1]
            tokens.append(_Token("value", re.sub(r"\\(.)", r"\1", body)))
        elif match.group("raw") is not None:
            tokens.append(_Token("value", match.group("rawbody")))
        elif match.group("number") is not None:
            tokens.append(_Token("number", match.group("number")))
        elif match.group("op") is not None:
            tokens.append(_Token("op", match.group("op")))
        else:
            word = match.group("name")
            tokens.append(_Token("op", _WORD_LOGIC.get(word, _COMPARISONS.get(word, word))))
    return tokens


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


def _wildcard(value: str, pattern: str, case_sensitive: bool) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags) is not None


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
        if operator in ("matches", "~"):
            return re.search(str(right), str(left)) is not None
        if operator in ("wildcard", "strict wildcard"):
            return _wildcard(str(left), str(right), operator == "strict wildcard")
        if operator == "in":
            return left in right
    except (TypeError, re.error):
        return None
    return None


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lower": lambda value: value.lower(),
    "upper": lambda value: value.upper(),
    "starts_with": lambda value, prefix: value.startswith(prefix),
    "ends_with": lambda value, suffix: value.endswith(suffix),
    "len": len,
    "url_decode": lambda value, *_: value,
}


class _Evaluator:
    def __init__(self, tokens: list[_Token], fields: Mapping[str, Any]) -> None:
        self._tokens = tokens
        self._fields = fields
        self._index = 0

    def _peek(self) -> str | None:
        token = self._tokens[self._index] if self._index < len(self._tokens) else None
        return token.text if token and token.kind == "op" else None

    def _take(self) -> _Token:
        if self._index >= len(self._tokens):
            raise _Unparsable("unexpected end")
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _expect(self, text: str) -> None:
        if self._take().text != text:
            raise _Unparsable(f"expected {text}")

    def run(self) -> bool | None:
        result = self._or()
        if self._index != len(self._tokens):
            raise _Unparsable("trailing tokens")
        return result

    def _chain(
        self,
        operator: str,
        operand: Callable[[], bool | None],
        combine: Callable[[bool | None, bool | None], bool | None],
    ) -> bool | None:
        """A left-associative run of `operand`s joined by `operator`."""
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
        return self._comparison()

    def _comparison(self) -> bool | None:
        if self._peek() == "(":
            self._take()
            inner = self._or()
            self._expect(")")
            return inner
        left = self._value()
        operator = self._peek()
        if operator == "strict":
            self._take()
            self._expect("wildcard")
            operator = "strict wildcard"
        elif operator in ("==", "!=", "<", "<=", ">", ">=", "contains", "matches", "~", "wildcard"):
            self._take()
        elif operator == "in":
            self._take()
            return _compare("in", left, self._set())
        else:
            return left if isinstance(left, bool) else None
        return _compare(operator, left, self._value())

    def _set(self) -> set[Any] | None:
        self._expect("{")
        members: set[Any] = set()
        while self._peek() != "}":
            members.add(self._value())
        self._take()
        return None if None in members else members

    def _value(self) -> Any:
        token = self._take()
        if token.kind == "value":
            return token.text
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.text in ("true", "false"):
            return token.text == "true"
        if self._peek() == "(":
            return self._call(token.text)
        if token.text in _COMPARISONS.values() or token.text in "(){},!":
            raise _Unparsable(f"unexpected {token.text}")
        return self._fields.get(token.text)

    def _call(self, name: str) -> Any:
        self._expect("(")
        arguments: list[Any] = []
        while self._peek() != ")":
            arguments.append(self._value())
            if self._peek() == ",":
                self._take()
        self._take()
        function = _FUNCTIONS.get(name)
        if function is None or any(argument is None for argument in arguments):
            return None
        try:
            return function(*arguments)
        except (TypeError, AttributeError):
            return None


def evaluate_expression(expression: str, fields: Mapping[str, Any]) -> bool | None:
    """True/False when the expression certainly does/does not match; None when it cannot tell."""
    try:
        return _Evaluator(_tokenize(expression), fields).run()
    except _Unparsable:
        return None


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
