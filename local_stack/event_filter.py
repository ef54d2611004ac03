"""Lambda event filtering (``FilterCriteria``): EventBridge-style content patterns.

A pattern is a JSON object that mirrors the shape of the record it filters. A nested object
matches a nested object; an array lists the acceptable values of a leaf (any one suffices):
literal strings, numbers, booleans and ``null``, or one of the content filters below. When the
record's value is itself an array, the pattern matches if any element does.

Supported content filters: ``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard``,
``anything-but`` (a value, a list of values, or a ``prefix``/``suffix``/``equals-ignore-case``
filter), ``numeric`` (``["<", 10, ">=", 0]`` style), ``exists`` and ``cidr``.

A record is kept when any of the event source's patterns matches (Lambda ORs its filters);
records no pattern matches are dropped as if they had been processed successfully.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_NUMERIC_OPERATORS = ("<", "<=", "=", ">", ">=")
_STRING_FILTERS = ("prefix", "suffix", "equals-ignore-case", "wildcard")


class FilterPatternError(ValueError):
    """The pattern is not a valid Lambda/EventBridge filter pattern (or uses an unsupported filter)."""


_MISSING = object()


def parse_pattern(pattern: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse (if JSON text) and validate a pattern; raise ``FilterPatternError`` if it is invalid."""
    if isinstance(pattern, str):
        try:
            parsed = json.loads(pattern)
        except ValueError as error:
            raise FilterPatternError(f"filter pattern is not JSON: {error}") from None
    else:
        parsed = dict(pattern)
    if not isinstance(parsed, dict) or not parsed:
        raise FilterPatternError("a filter pattern must be a non-empty JSON object")
    _validate_object(parsed, "")
    return parsed


def _validate_object(pattern: Mapping[str, Any], path: str) -> None:
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict):
            if not value:
                raise FilterPatternError(f"{where}: an empty object matches nothing")
            _validate_object(value, where)
        elif isinstance(value, list):
            if not value:
                raise FilterPatternError(f"{where}: an empty list matches nothing")
            for condition in value:
                _validate_condition(condition, where)
        else:
            raise FilterPatternError(f"{where}: match values must be in a list, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validate_condition(condition: Any, where: str) -> None:
    if condition is None or isinstance(condition, str | bool) or _is_number(condition):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise FilterPatternError(f"{where}: {condition!r} is neither a value nor a single content filter")
    ((name, argument),) = condition.items()
    if name in _STRING_FILTERS:
        if name == "prefix" and isinstance(argument, dict):
            if set(argument) != {"equals-ignore-case"} or not isinstance(argument["equals-ignore-case"], str):
                raise FilterPatternError(f"{where}: prefix takes a string or {{equals-ignore-case: string}}")
        elif name == "suffix" and isinstance(argument, dict):
            if set(argument) != {"equals-ignore-case"} or not isinstance(argument["equals-ignore-case"], str):
                raise FilterPatternError(f"{where}: suffix takes a string or {{equals-ignore-case: string}}")
        elif not isinstance(argument, str):
            raise FilterPatternError(f"{where}: {name} takes a string, got {argument!r}")
    elif name == "exists":
        if not isinstance(argument, bool):
            raise FilterPatternError(f"{where}: exists takes true or false, got {argument!r}")
    elif name == "anything-but":
        if isinstance(argument, dict):
            if len(argument) != 1 or next(iter(argument)) not in _STRING_FILTERS:
                raise FilterPatternError(f"{where}: anything-but takes values or one prefix/suffix/... filter")
            _validate_condition(argument, where)
        elif isinstance(argument, list):
            for value in argument:
                if not (isinstance(value, str) or _is_number(value)):
                    raise FilterPatternError(f"{where}: anything-but lists only strings or numbers")
        elif not (isinstance(argument, str) or _is_number(argument)):
            raise FilterPatternError(f"{where}: anything-but takes a string, a number or a list")
    elif name == "numeric":
        if not isinstance(argument, list) or len(argument) not in (2, 4):
            raise FilterPatternError(f"{where}: numeric takes [op, number] or [op, number, op, number]")
        for index in range(0, len(argument), 2):
            operator, bound = argument[index], argument[index + 1]
            if operator not in _NUMERIC_OPERATORS or not _is_number(bound):
                raise FilterPatternError(f"{where}: numeric: {operator!r} {bound!r} is not a comparison")
    elif name == "cidr":
        try:
            ipaddress.ip_network(str(argument), strict=False)
        except ValueError:
            raise FilterPatternError(f"{where}: cidr {argument!r} is not a network") from None
    else:
        raise FilterPatternError(f"{where}: content filter {name!r} is not supported")


# -- matching -------------------------------------------------------------------------------------


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether ``record`` (a JSON-like value) matches the validated ``pattern``."""
    if not isinstance(record, Mapping):
        return False
    for key, expected in pattern.items():
        value = record.get(key, _MISSING)
        if isinstance(expected, dict):
            candidates = value if isinstance(value, list) else [value]
            if not any(isinstance(item, Mapping) and matches(expected, item) for item in candidates):
                return False
        elif not _leaf_matches(expected, value):
            return False
    return True


def matches_any(patterns: Iterable[Mapping[str, Any]], record: Any) -> bool:
    """Lambda's rule: no patterns keeps everything, otherwise any matching pattern keeps the record."""
    listed = list(patterns)
    return not listed or any(matches(pattern, record) for pattern in listed)


def _leaf_matches(conditions: list[Any], value: Any) -> bool:
    if value is _MISSING:
        return any(isinstance(c, dict) and c.get("exists") is False for c in conditions)
    values = value if isinstance(value, list) else [value]
    return any(_condition_matches(condition, item) for condition in conditions for item in values)


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and float(value) == float(expected)
    return isinstance(value, str) and value == expected


def _string_filter(name: str, argument: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, dict):  # prefix/suffix with equals-ignore-case
        text, value = str(argument["equals-ignore-case"]).casefold(), value.casefold()
    else:
        text = str(argument)
    if name == "prefix":
        return value.startswith(text)
    if name == "suffix":
        return value.endswith(text)
    if name == "equals-ignore-case":
        return value.casefold() == text.casefold()
    # wildcard: only "*" is special
    return re.fullmatch(".*".join(re.escape(part) for part in text.split("*")), value, re.DOTALL) is not None


def _condition_matches(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    ((name, argument),) = condition.items()
    if name in _STRING_FILTERS:
        return _string_filter(name, argument, value)
    if name == "exists":
        return bool(argument) and not isinstance(value, Mapping)
    if name == "anything-but":
        if isinstance(value, Mapping) or value is None:
            return False
        if isinstance(argument, dict):
            ((inner, inner_argument),) = argument.items()
            return isinstance(value, str) and not _string_filter(inner, inner_argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(item, value) for item in excluded)
    if name == "numeric":
        if not _is_number(value):
            return False
        number = float(value)
        for index in range(0, len(argument), 2):
            operator, bound = argument[index], float(argument[index + 1])
            if not {
                "<": number < bound,
                "<=": number <= bound,
                "=": number == bound,
                ">": number > bound,
                ">=": number >= bound,
            }[operator]:
                return False
        return True
    if name == "cidr":
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(str(argument), strict=False)
        except ValueError:
            return False
    return False  # pragma: no cover - validated patterns have no other filters
