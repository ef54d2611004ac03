"""Keep consignee personal data (PII) out of log lines.

Standard library only (``re``), so importing it costs nothing at cold start. Two mechanisms:

1. **By key** (:func:`redact`): in any dict, at any depth (lists/tuples included), the value of a PII key is
   replaced by :data:`MASK` (``"***"``), whatever its type (a whole ``consignee``/``address`` object included).
   Keys are compared case-insensitively with ``_``, ``-``, ``.`` and spaces ignored, so ``consignee_phone``,
   ``consigneePhone`` and ``Consignee-Phone`` are the same key. A key is PII when it

   * starts with ``consignee``, ``recipient`` or ``receiver`` (``consignee``, ``consignee_name``, ...);
   * contains ``phone``, ``mobile``, ``email``, ``address`` (``full_address``, ``billing_address``,
     ``shippingAddress``, ...), ``zipcode``, ``postcode``, ``postalcode`` or ``pincode``;
   * is one of ``zip``, ``pin``, ``line1``..``line3``, ``street``, ``fullname``/``firstname``/``lastname``,
     ``<billing|shipping|buyer|customer|contact>name``, or ``input``/``inputvalue`` (pydantic's raw input);
   * is ``name``/``street``/``district``/``village`` inside an object held by a ``billing``, ``shipping``,
     ``buyer``, ``customer``, ``contact``, ``delivery`` or ``destination`` key (``items[].name`` stays).

   Phones are masked in full (no "last 2 digits" kept): nothing in the hub needs them to debug.

2. **In free text** (:func:`scrub`): every string value (message, exception text, stack trace, extra values)
   is scrubbed of

   * e-mail addresses -> ``[email]``;
   * pydantic's ``input_value=...`` (up to ``, input_type=``) -> ``input_value='***'``, so a bad body's name,
     phone or address never reaches the log through a ``ValidationError``;
   * ``"key": value`` / ``'key': value`` (JSON, dict reprs) and ``key=value`` (model reprs, kwargs, query strings)
     where *key* is a PII key as above -> the value becomes ``***``;
   * phone numbers -> ``[phone]``. A phone is a run of digits not glued to a letter, digit, ``-``, ``.``,
     ``/`` or ``#``, optionally separated by single spaces, dashes, dots or parentheses, with **9 to 15 digits**,
     that either starts with ``+`` (``+62 812-3456-7890``) or ``0`` and a non-zero digit (``0812345678901``, ``(021) 5550-1234``),
     or is made of 3+ groups of 2-4 digits separated by spaces/dashes (``812-3456-7890``), or is a bare run
     of 10-13 digits starting with 6-9 (``9999999999``, ``628123456789``).
     Not phones: ISO timestamps (``2026-11-23T09:15:00+07:00``, ``2026-11-23 09:15:00``), UUIDs, order numbers
     (``SO-2026-0001``), AWBs (``JNE100000000001``, digits glued to letters), amounts (``185000``), epoch seconds
     and milliseconds (they start with 1), zero-padded counters (``EVENT#000000000012``, ``000000000012``).

What it cannot do: a name or street written in plain prose with no key (``"hello Budi Santoso"``) is not
recognisable; never interpolate personal data into messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

_PREFIXES = ("consignee", "recipient", "receiver")
_FRAGMENTS = ("phone", "mobile", "email", "address", "zipcode", "postcode", "postalcode", "pincode")
_EXACT = frozenset(
    {
        "zip",
        "pin",
        "line1",
        "line2",
        "line3",
        "street",
        "fullname",
        "firstname",
        "lastname",
        "billingname",
        "shippingname",
        "buyername",
        "customername",
        "contactname",
        "input",
        "inputvalue",
    }
)
_PERSON_CONTAINERS = frozenset({"billing", "shipping", "buyer", "customer", "contact", "delivery", "destination"})
_PERSON_FIELDS = frozenset({"name", "street", "district", "subdistrict", "village"})

_SEPARATORS = re.compile(r"[\s_\-.]")


def _normalise(key: str) -> str:
    return _SEPARATORS.sub("", key.lower())


def is_pii_key(key: object, parent: str | None = None) -> bool:
    """Whether the value of ``key`` (held by an object under ``parent``) is personal data."""
    if not isinstance(key, str):
        return False
    norm = _normalise(key)
    if norm in _EXACT or norm.startswith(_PREFIXES) or any(fragment in norm for fragment in _FRAGMENTS):
        return True
    return parent is not None and _normalise(parent) in _PERSON_CONTAINERS and norm in _PERSON_FIELDS


# --- free text -------------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|\]$|$)", re.MULTILINE)

# A key name that is PII (same rules as is_pii_key, approximated for text).
_KEY = (
    r"[A-Za-z_\-]*(?:consignee|recipient|receiver|phone|mobile|email|address|zip|pincode|postcode|postal_?code"
    r"|line_?[123]|street|full_?name|first_?name|last_?name)[A-Za-z0-9_\-]*"
)
_VALUE = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{[^{}]*\}|\[[^\[\]]*\])"""
# "key": value  /  'key': value  (JSON text, dict reprs): any value, unquoted scalars up to a delimiter.
_QUOTED_PAIR = re.compile(rf"""(?P<head>(?P<q>["'])(?:{_KEY})(?P=q)\s*:\s*)(?P<value>{_VALUE}|[^,;&}}\]\)\n]+)""", re.I)
# key=value (model reprs, kwargs, query strings); key: 'quoted' (YAML-ish). "field: message" stays readable.
_BARE_PAIR = re.compile(
    rf"""(?P<head>(?<![\w"'])(?:{_KEY})(?:\s*=\s*|\s*:\s*(?=["'{{\[])))(?P<value>{_VALUE}|[^,;&}}\]\)\n]+)""", re.I
)

_PHONE = re.compile(
    r"""(?<![\w+\-./#])(?:
        \+\d(?:[ \-.()]{0,2}\d)+          # +62 812-3456-7890
      | \(?0[1-9]\d*\)?(?:[ \-.()]{0,2}\d)+  # 0812345678901, (021) 555-0123
      | \d{2,4}(?:[ \-]\d{2,4}){2,}       # 812-3456-7890
      | [6-9]\d{9,12}                     # 9999999999, 628123456789
    )(?![\w\-/]|[.:]\d)""",
    re.VERBOSE,
)
_PHONE_DIGITS = range(9, 16)  # E.164 numbers have at most 15 digits


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    return PHONE_MASK if sum(char.isdigit() for char in text) in _PHONE_DIGITS else text


def _pair(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('head')}{quote}{MASK}{quote}"


def scrub(text: str) -> str:
    """Free text with e-mails, phones, pydantic ``input_value`` and ``pii_key=value`` pairs masked."""
    if not text:
        return text
    text = _INPUT_VALUE.sub(f"input_value='{MASK}'", text) if "input_value=" in text else text
    text = _QUOTED_PAIR.sub(_pair, text)
    text = _BARE_PAIR.sub(_pair, text)
    text = _EMAIL.sub(EMAIL_MASK, text) if "@" in text else text
    return _PHONE.sub(_phone, text)


# --- structured values -----------------------------------------------------------------------------------------


def redact(value: Any, parent: str | None = None) -> Any:
    """A copy of ``value`` with PII keys masked at any depth and every string scrubbed.

    Dicts, lists and tuples are rebuilt; str is scrubbed; int/float/bool/None pass; anything else (exceptions,
    datetimes, models) becomes ``str(value)``, scrubbed (it would be serialised with ``str`` anyway).
    """
    if isinstance(value, str):
        return scrub(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if is_pii_key(key, parent):
                out[key] = None if item is None else MASK
            else:
                out[key] = redact(item, key if isinstance(key, str) else None)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, parent) for item in value]
    return scrub(str(value))
