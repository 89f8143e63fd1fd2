"""Remove secrets before anything is stored, reported or logged.

Redacted by default: the headers ``Authorization``, ``Proxy-Authorization``, ``Cookie``,
``Set-Cookie``, API-key and token headers (``X-API-Key``, ``*-Token``, ``*-Secret``, ...);
JSON fields and query parameters with secret names (``password``, ``token``, ``api_key``,
``cvv``, ...); and, in any text, card numbers (Luhn-valid runs of 13-19 digits, spaces or
dashes allowed) and IBANs (checksum-valid). More header names and JSON fields (names at
any depth, or ``$`` paths) come from the ``redact`` rules.

>>> r = Redactor()
>>> r.text("card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, order 1234567890123")
'card [REDACTED], iban [REDACTED], order 1234567890123'
>>> r.query("q=shoes&api_key=abc123")
'q=shoes&api_key=%5BREDACTED%5D'
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from shadow._matcher import PathMatcher
from shadow.compare import media_type
from shadow.encoding import UndecodableBody, decode_body
from shadow.exchange import CapturedRequest, CapturedResponse, Headers
from shadow.paths import PathSyntaxError, parse_path
from shadow.rules import RedactRules
from shadow.verdict import Difference

__all__ = [
    "DEFAULT_SECRET_FIELDS",
    "DEFAULT_SECRET_HEADERS",
    "REDACTED",
    "Redactor",
    "is_iban",
    "luhn_valid",
    "redacted_tag",
]

REDACTED = "[REDACTED]"

#: The key of the short tags a redacted difference shows (one per process, never stored):
#: the tags say whether two secrets differ, and nothing that could be checked offline.
_TAG_KEY = secrets.token_bytes(16)


def redacted_tag(value: Any) -> Any:
    """``'[REDACTED#a1f3]'``: a redacted value with a short keyed hash, so that a report
    shows *that* two secrets differ without showing either (None stays None: absent)."""
    if value is None:
        return None
    data = value.encode() if isinstance(value, str) else orjson.dumps(value, default=repr)
    digest = hashlib.blake2b(data, key=_TAG_KEY, digest_size=2).hexdigest()
    return f"[REDACTED#{digest}]"


DEFAULT_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-csrf-token",
        "x-xsrf-token",
        "x-admin-token",
        "x-strangler-token",
    }
)
_SECRET_HEADER_SUFFIXES = ("-token", "-secret", "-api-key", "-apikey", "-password", "-signature")

DEFAULT_SECRET_FIELDS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "client_secret",
        "authorization",
        "private_key",
        "cvv",
        "cvc",
        "ssn",
    }
)

_CARD = re.compile(r"(?<![\d])(?:\d[ \-+./_]?){12,18}\d(?![\d])")
# `?name=value` / `&name=value` inside any text (URLs in bodies, logs, errors)
_URL_PARAM = re.compile(r"([?&;])([^=&#\s\"'<>]+)=([^&#\s\"'<>]*)")
# Key names that hold secrets, wherever they appear (a substring of the lower-cased name)
_SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "api_key", "apikey", "api-key")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# Identifiers whose digit runs pass a checksum by chance (about 1 in 500 random UUIDs holds a
# Luhn-valid run, 1 in 100 upper-case MD5s): a card number or an IBAN is never part of one.
_ID_CHARS = frozenset("0123456789abcdefABCDEF-")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{16,}")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a digit string (card numbers).

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def is_iban(text: str) -> bool:
    """An IBAN with a valid ISO 13616 checksum (spaces allowed)."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _in_identifier(match: re.Match[str]) -> bool:
    """Whether ``match`` lies inside a UUID or a hex digest (a run of 16+ hex digits with a
    letter after its first two characters, so that ``DE89...`` stays an IBAN)."""
    text, start, end = match.string, match.start(), match.end()
    while start and text[start - 1] in _ID_CHARS:
        start -= 1
    while end < len(text) and text[end] in _ID_CHARS:
        end += 1
    token = text[start:end]
    if _UUID.fullmatch(token):
        return True
    return bool(_HEX_DIGEST.fullmatch(token)) and any(c.isalpha() for c in token[2:])


def _card(match: re.Match[str]) -> str:
    if _in_identifier(match):
        return match.group()
    digits = re.sub(r"[ \-+./_]", "", match.group())
    return REDACTED if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()


def _iban(match: re.Match[str]) -> str:
    text = match.group()
    if _in_identifier(match):
        return text
    # The match may run into a following upper-case word: try shorter prefixes too.
    for end in range(len(text), 14, -1):
        if text[end - 1] != " " and is_iban(text[:end]):
            return REDACTED + text[end:]
    return text


class Redactor:
    """Redacts requests, responses, texts and difference values (compiled once)."""

    def __init__(self, rules: RedactRules | None = None) -> None:
        rules = rules or RedactRules()
        self.secret_headers = DEFAULT_SECRET_HEADERS | {h.lower() for h in rules.headers}
        names = {f.lower() for f in rules.fields if not f.startswith("$")}
        self.secret_fields = DEFAULT_SECRET_FIELDS | names
        paths = [(parse_path(f), True) for f in rules.fields if f.startswith("$")]
        self._paths = PathMatcher(paths)

    # -- pieces -------------------------------------------------------------------------

    def is_secret_header(self, name: str) -> bool:
        name = name.lower()
        return name in self.secret_headers or name.endswith(_SECRET_HEADER_SUFFIXES)

    def is_secret_key(self, name: str) -> bool:
        """A JSON key, form field or query parameter named like a secret (any case)."""
        key = name.lower()
        return (
            key in self.secret_fields
            or self.is_secret_header(key)
            or any(part in key for part in _SECRET_KEY_PARTS)
        )

    def text(self, text: str) -> str:
        """Secret query parameters in URLs, card numbers and IBANs in free text."""
        if "=" in text:
            text = _URL_PARAM.sub(self._url_param, text)
        if any(c.isdigit() for c in text):
            text = _CARD.sub(_card, text)
            text = _IBAN.sub(_iban, text)
        return text

    def _url_param(self, match: re.Match[str]) -> str:
        sep, name, _ = match.groups()
        return f"{sep}{name}={REDACTED}" if self.is_secret_key(name) else match.group()

    def headers(self, headers: Headers) -> Headers:
        return tuple(
            (k, REDACTED if self.is_secret_header(k) else self.text(v)) for k, v in headers
        )

    def query(self, query: str) -> str:
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        out = [(k, REDACTED if self.is_secret_key(k) else self.text(v)) for k, v in pairs]
        return urlencode(out)

    def json(self, doc: Any, _path: tuple[str | int, ...] = ()) -> Any:
        """A parsed JSON document with secret fields and numbers redacted (a copy)."""
        if _path and self._paths.root is not None and self._paths.match(_path):
            return REDACTED
        if isinstance(doc, dict):
            return {
                k: REDACTED
                if isinstance(k, str) and self.is_secret_key(k)
                else self.json(v, (*_path, k))
                for k, v in doc.items()
            }
        if isinstance(doc, list):
            return [self.json(v, (*_path, i)) for i, v in enumerate(doc)]
        if isinstance(doc, str):
            return self._string(doc, _path)
        if isinstance(doc, int) and not isinstance(doc, bool) and doc >= 10**12:
            return self.text(str(doc)) if luhn_valid(str(doc)) else doc
        return doc

    def _string(self, text: str, path: tuple[str | int, ...]) -> str:
        """A string value: JSON or form data carried inside it is redacted as such."""
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and len(stripped) < (1 << 20):
            try:
                inner = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                pass
            else:
                return orjson.dumps(self.json(inner, path)).decode()
        if "=" in text and " " not in stripped and "&" in stripped:
            return self.query(stripped)
        return self.text(text)

    def body(self, body: bytes | None, headers: Headers) -> bytes | None:
        """A body redacted according to its media type (content codings undone first)."""
        if not body:
            return body
        encoding = next((v for k, v in headers if k == "content-encoding"), None)
        try:
            body = decode_body(body, encoding)
        except UndecodableBody:
            return b"[undecodable body removed]"
        kind, charset = media_type(headers)
        if kind == "application/json" or kind.endswith("+json"):
            try:
                return orjson.dumps(self.json(orjson.loads(body)))
            except orjson.JSONDecodeError:
                pass
        if kind == "application/x-www-form-urlencoded":
            return self.query(body.decode("latin-1")).encode()
        try:
            text = body.decode("utf-8" if charset == "utf-8" else charset)
        except (UnicodeDecodeError, LookupError):
            return body  # binary: no text to scan
        return self.text(text).encode("utf-8")

    def value(self, value: Any) -> Any:
        """A value of a difference (any JSON value or text)."""
        return self.json(value)

    # -- whole values ---------------------------------------------------------------------

    def request(self, request: CapturedRequest) -> CapturedRequest:
        headers = tuple((k, v) for k, v in request.headers if k != "content-encoding")
        return replace(
            request,
            path=self.text(request.path),
            query=self.query(request.query),
            headers=self.headers(headers),
            body=self.body(request.body, request.headers),
        )

    def response(self, response: CapturedResponse) -> CapturedResponse:
        headers = tuple((k, v) for k, v in response.headers if k != "content-encoding")
        return replace(
            response,
            headers=self.headers(headers),
            body=self.body(response.body, response.headers),
            error=self.text(response.error) if response.error else None,
        )

    def difference(self, d: Difference) -> Difference:
        """A difference whose values are redacted; a secret value as a whole becomes a
        tag (``[REDACTED#a1f3] -> [REDACTED#9c0e]``) so that the report still shows that
        the two sides differ."""
        last = d.path.rsplit(".", 1)[-1].lower()
        secret = d.path.startswith("header:") and self.is_secret_header(d.path[7:])
        if secret or self.is_secret_key(last.split("[", 1)[0]) or self._is_secret_path(d):
            return replace(d, legacy=redacted_tag(d.legacy), new=redacted_tag(d.new))
        legacy, new = self.value(d.legacy), self.value(d.new)
        if legacy == new and d.legacy != d.new:
            # all that differed was redacted inside the values (a card, a URL token, a
            # secret key of an object): tags keep the difference visible
            legacy, new = redacted_tag(d.legacy), redacted_tag(d.new)
        return replace(d, legacy=legacy, new=new)

    def _is_secret_path(self, d: Difference) -> bool:
        """Whether the difference sits at (or under) a configured ``$`` redact path."""
        if self._paths.root is None or not d.path.startswith("$"):
            return False
        try:
            segments = parse_path(d.path).segments
        except PathSyntaxError:  # a keyed element ([id=7]): judged by its key names
            return False
        if not all(isinstance(s, str | int) for s in segments):
            return False
        concrete = tuple(s for s in segments if isinstance(s, str | int))
        return any(self._paths.match(concrete[:n]) for n in range(1, len(concrete) + 1))
