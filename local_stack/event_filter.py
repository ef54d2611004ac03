"""Lambda event filtering (``FilterCriteria``): EventBridge-style content patterns.

A pattern is a JSON object that mirrors the shape of the record it filters. A nested object
matches a nested object; an array lists the acceptable values of a leaf (any one suffices):
literal strings, numbers, booleans and ``null``, or one of the content filters below. When the
record's value is itself an array, the pattern matches if any element does (also an array of
objects under a nested pattern).

Supported content filters: ``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard``,
``anything-but`` (a value, a list of values, or a ``prefix``/``suffix``/``equals-ignore-case``
filter), ``numeric`` (``["<", 10, ">=", 0]`` style), ``exists`` and ``cidr``.

``parse_pattern`` validates a pattern here, with an error naming the field and the filter.
Matching walks the pattern's objects here and leaves each content filter to moto's EventBridge
matcher (``moto.events.models.EventPattern``, the syntax Lambda shares); literal values are
compared here, strictly (``true`` is not ``1``).

A record is kept when any of the event source's patterns matches (Lambda ORs its filters);
records no pattern matches are dropped as if they had been processed successfully.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_NUMERIC_OPERATORS = ("<", "<=", "=", ">", ">=")
_STRING_FILTERS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_LEAF = "value"  # the one key of the single-leaf patterns handed to moto


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


# -- validation -----------------------------------------------------------------------------------


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


def _is_literal(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or _is_number(value)


def _validate_condition(condition: Any, where: str) -> None:
    if _is_literal(condition):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise FilterPatternError(f"{where}: {condition!r} is neither a value nor a single content filter")
    ((name, argument),) = condition.items()
    validator = _VALIDATORS.get(name)
    if validator is None:
        raise FilterPatternError(f"{where}: content filter {name!r} is not supported")
    validator(name, argument, where)


def _validate_string_filter(name: str, argument: Any, where: str) -> None:
    if isinstance(argument, str):
        return
    if name in ("prefix", "suffix") and isinstance(argument, dict):
        if set(argument) != {"equals-ignore-case"} or not isinstance(argument["equals-ignore-case"], str):
            raise FilterPatternError(f"{where}: {name} takes a string or {{equals-ignore-case: string}}")
        return
    raise FilterPatternError(f"{where}: {name} takes a string, got {argument!r}")


def _validate_exists(name: str, argument: Any, where: str) -> None:
    if not isinstance(argument, bool):
        raise FilterPatternError(f"{where}: exists takes true or false, got {argument!r}")


def _validate_anything_but(name: str, argument: Any, where: str) -> None:
    if isinstance(argument, dict):
        if len(argument) != 1 or next(iter(argument)) not in _STRING_FILTERS:
            raise FilterPatternError(f"{where}: anything-but takes values or one prefix/suffix/... filter")
        _validate_condition(argument, where)
    elif isinstance(argument, list):
        if not all(isinstance(value, str) or _is_number(value) for value in argument):
            raise FilterPatternError(f"{where}: anything-but lists only strings or numbers")
    elif not (isinstance(argument, str) or _is_number(argument)):
        raise FilterPatternError(f"{where}: anything-but takes a string, a number or a list")


def _validate_numeric(name: str, argument: Any, where: str) -> None:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise FilterPatternError(f"{where}: numeric takes [op, number] or [op, number, op, number]")
    for operator, bound in zip(argument[::2], argument[1::2], strict=True):
        if operator not in _NUMERIC_OPERATORS or not _is_number(bound):
            raise FilterPatternError(f"{where}: numeric: {operator!r} {bound!r} is not a comparison")


def _validate_cidr(name: str, argument: Any, where: str) -> None:
    try:
        ipaddress.ip_network(str(argument))
    except ValueError:
        raise FilterPatternError(f"{where}: cidr {argument!r} is not a network (prefix with host bits zero)") from None


_VALIDATORS: dict[str, Callable[[str, Any, str], None]] = {
    **dict.fromkeys(_STRING_FILTERS, _validate_string_filter),
    "exists": _validate_exists,
    "anything-but": _validate_anything_but,
    "numeric": _validate_numeric,
    "cidr": _validate_cidr,
}


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
    values = [] if value is _MISSING else value if isinstance(value, list) else [value]
    literals = [condition for condition in conditions if not isinstance(condition, dict)]
    if any(_equal(literal, item) for literal in literals for item in values):
        return True
    filters = [condition for condition in conditions if isinstance(condition, dict)]
    return bool(filters) and _content_filters_match(filters, value)


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and float(value) == float(expected)
    return isinstance(value, str) and value == expected


def _content_filters_match(filters: list[dict[str, Any]], value: Any) -> bool:
    """moto's EventBridge matcher on a one-leaf pattern (``exists`` sees a missing value as missing)."""
    if isinstance(value, Mapping):
        return False  # content filters apply to leaves only
    event = {} if value is _MISSING else {_LEAF: value}
    return bool(_event_pattern(json.dumps(filters, sort_keys=True)).matches_event(event))


@functools.lru_cache(maxsize=256)
def _event_pattern(filters_json: str) -> Any:
    from moto.events.models import EventPattern  # moto is heavy: imported on the first content filter

    return EventPattern(None, {_LEAF: json.loads(filters_json)})
