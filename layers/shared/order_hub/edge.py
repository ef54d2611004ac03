"""Checks at the edge, before anything expensive parses a request body.

Python's JSON parser recurses once per nesting level (a body nested 100,000 deep raises
RecursionError) and refuses integers longer than 4,300 digits with a ValueError; DynamoDB keeps
numbers of at most 38 digits. None of our shapes nests deeper than a few levels or carries a
number of more than a couple of dozen digits, so a body that does is refused as a client mistake
(400/810 naming ``body``) before it is parsed, and ``loads`` parses only what passed.
"""

from __future__ import annotations

import re
from typing import Any

from order_hub.errors import InvalidInput

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body the API functions take (413 in Shipper's envelope above it). Far below HTTP
API's 10 MB cap and Lambda's 6 MB invocation payload, whose own answers cannot be shaped; far above
any order the table can store (400 KB an item)."""

MAX_DEPTH = 32
"""Arrays and objects inside each other (an order is 4 deep, a PGI 3)."""
MAX_NUMBER_DIGITS = 30
"""Digits in one JSON number (amounts, quantities, codes: at most 20 in practice)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_LONG_NUMBER = re.compile(rb"[0-9]{%d,}" % (MAX_NUMBER_DIGITS + 1))


def check_json_body(body: bytes | str) -> None:
    """Raise ``InvalidInput`` (field ``body``) when the JSON text nests too deep, carries a number
    with too many digits or is not UTF-8. Strings are skipped; nothing is parsed."""
    raw = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput("Invalid Input. body: is not UTF-8", field="body") from error
    outside_strings = _STRING.sub(b'""', raw)
    if _LONG_NUMBER.search(outside_strings):
        raise InvalidInput(f"Invalid Input. body: a number has more than {MAX_NUMBER_DIGITS} digits", field="body")
    depth = 0
    for bracket in _BRACKETS.findall(outside_strings):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > MAX_DEPTH:
            raise InvalidInput(f"Invalid Input. body: nested deeper than {MAX_DEPTH} levels", field="body")


def loads(body: bytes | str) -> Any:
    """``json.loads`` of a body that passed ``check_json_body`` (raises ``InvalidInput`` otherwise)."""
    import json

    check_json_body(body)
    try:
        return json.loads(body)
    except ValueError as error:
        raise InvalidInput("Invalid Input. body: is not valid JSON", field="body") from error
