"""Metadata filters, compiled to a SQLite ``WHERE`` clause so they run before any scoring.

A filter is a dict from field name to a condition; all conditions must hold (AND)::

    {"doc_id": "report-2024"}                      # equality (None matches a missing field)
    {"doc_id": {"in": ["a", "b"]}}                 # membership
    {"page": {"gte": 2, "lt": 10}}                 # ranges: gt, gte, lt, lte (numbers or strings)
    {"source": {"prefix": "docs/"}}                # path prefix (case-sensitive)
    {"lang": {"ne": "de"}}                         # inequality (a missing field never matches)

Field names are the built-in columns (``page_id``, ``doc_id``, ``source``, ``page``,
``content_hash``) or user fields given at ``add`` time. A range with a numeric bound only matches
numeric values, one with a string bound only strings, so ``"10" > 9`` never sneaks in.

:func:`check_filter` checks a filter against the fields and kinds of value an index holds, so a
misspelt field or ``{"page": {"gte": "abc"}}`` fails with a message listing what exists instead of
quietly matching nothing.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["BUILTIN_COLUMNS", "BUILTIN_KINDS", "OPERATORS", "check_filter", "compile_filter", "json_kind"]

BUILTIN_COLUMNS = ("page_id", "doc_id", "source", "page", "content_hash")
#: What the built-in columns hold, whether or not any page is stored yet.
BUILTIN_KINDS: dict[str, tuple[str, ...]] = {
    "page_id": ("string",), "doc_id": ("string", "null"), "source": ("string", "null"),
    "page": ("number", "null"), "content_hash": ("string",),
}  # fmt: skip
#: SQLite JSON1 type names (``json_each``/``json_type``) to the kinds :func:`check_filter` speaks of.
_JSON_KINDS = {"integer": "number", "real": "number", "text": "string", "true": "bool", "false": "bool",
               "null": "null", "array": "list", "object": "object"}
OPERATORS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "prefix")
_RANGE_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_Scalar = (str, int, float, bool)


def _column(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"filter field names are non-empty strings, got {key!r}")
    if key in BUILTIN_COLUMNS:
        return key
    if '"' in key or "\\" in key or "\x00" in key:
        raise ValueError(f"filter field name {key!r} contains a quote or backslash or NUL: not supported")
    # The quoted JSON path label lets a field name contain dots and brackets. SQLite matches it
    # against the key as written in the stored JSON, which json.dumps escapes (\uXXXX for non-ASCII):
    # escape it the same way. It sits in an SQL string literal, so its single quotes are doubled.
    label = json.dumps(key)[1:-1].replace("'", "''")
    return f"json_extract(fields, '$.\"{label}\"')"


def _scalar(key: str, op: str, value: Any) -> Any:
    if not isinstance(value, _Scalar):
        raise TypeError(
            f"filter {key!r}: {op!r} takes a string, number or bool, got {type(value).__name__} ({value!r})"
        )
    return _text(key, value)


def _text(key: str, value: Any) -> Any:
    # SQLite's JSON functions end text at a NUL, so such a value could never match: say so.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"filter {key!r}: values with a NUL character cannot be matched, got {value!r}")
    return value


def _condition(key: str, col: str, op: str, operand: Any) -> tuple[str, list[Any]]:
    if op == "eq":
        if operand is None:
            return f"{col} IS NULL", []
        return f"{col} = ?", [_scalar(key, op, operand)]
    if op == "ne":
        if operand is None:
            return f"{col} IS NOT NULL", []
        return f"{col} != ?", [_scalar(key, op, operand)]
    if op == "in":
        if isinstance(operand, (str, bytes)) or not hasattr(operand, "__iter__"):
            raise TypeError(f"filter {key!r}: 'in' takes a list of values, got {operand!r}")
        values = [_scalar(key, op, v) for v in operand]
        if not values:
            return "0", []  # nothing is in an empty set
        return f"{col} IN ({', '.join('?' * len(values))})", values
    if op in _RANGE_SQL:
        if isinstance(operand, bool) or not isinstance(operand, (int, float, str)):
            raise TypeError(f"filter {key!r}: {op!r} takes a number or a string, got {operand!r}")
        kinds = "'text'" if isinstance(operand, str) else "'integer', 'real'"
        return f"({col} {_RANGE_SQL[op]} ? AND typeof({col}) IN ({kinds}))", [_text(key, operand)]
    if op == "prefix":
        if not isinstance(operand, str):
            raise TypeError(f"filter {key!r}: 'prefix' takes a string, got {operand!r}")
        # substr, not LIKE: LIKE is case-insensitive and treats % and _ as wildcards.
        return f"(typeof({col}) = 'text' AND substr({col}, 1, ?) = ?)", [len(operand), _text(key, operand)]
    raise ValueError(f"filter {key!r}: unknown operator {op!r}; the operators are {', '.join(OPERATORS)}")


def compile_filter(filter: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """``(sql, params)`` for a ``WHERE`` clause over the ``pages`` table; ``("1", [])`` for no filter."""
    if filter is None:
        return "1", []
    if not isinstance(filter, Mapping):
        raise TypeError(f"a filter is a dict of field -> condition, got {type(filter).__name__}")
    clauses: list[str] = []
    params: list[Any] = []
    for key, cond in filter.items():
        col = _column(key)
        if isinstance(cond, Mapping):
            if not cond:
                raise ValueError(f"filter {key!r}: empty condition {{}}; give an operator such as 'eq'")
            items = list(cond.items())
        elif isinstance(cond, (list, tuple, set)):
            raise TypeError(f"filter {key!r}: to match any of several values write {{'in': {list(cond)!r}}}")
        else:
            items = [("eq", cond)]
        for op, operand in items:
            sql, args = _condition(key, col, op, operand)
            clauses.append(sql)
            params.extend(args)
    return (" AND ".join(clauses) or "1"), params


def json_kind(sql_type: str) -> str:
    """The kind (``"number"``, ``"string"``, ...) of a SQLite JSON1 type name."""
    return _JSON_KINDS.get(sql_type, sql_type)


def value_kind(value: Any) -> str:
    """The kind of a Python value as :func:`check_filter` compares it with what an index holds."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    return "list" if isinstance(value, (list, tuple)) else type(value).__name__


def check_filter(filter: Mapping[str, Any] | None, fields: Mapping[str, Collection[str]]) -> None:
    """Raise ``ValueError`` when ``filter`` names a field no page holds, or compares a field with a
    kind of value it never holds (``page >= "abc"``); the message lists the fields that exist.

    ``fields`` maps each field to the kinds of value stored under it (``{"page": {"number"}}``):
    see ``PageIndex.fields()``. A value of the right kind that matches nothing is fine.
    """
    compile_filter(filter)  # the structural checks first, with their own messages
    for key, cond in (filter or {}).items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"filter field {key!r} is held by no page{hint} (fields: {_describe(fields)})")
        held = set(fields[key]) - {"null"}
        items = cond.items() if isinstance(cond, Mapping) else [("eq", cond)]
        for op, operand in items:
            for value in operand if op == "in" else [operand]:
                kind = value_kind(value)
                if value is not None and held and kind not in held:
                    raise ValueError(
                        f"filter {key!r}: the pages hold {' or '.join(sorted(held))} values there, "
                        f"not {kind} ({value!r}) (fields: {_describe(fields)})"
                    )


def _describe(fields: Mapping[str, Collection[str]]) -> str:
    def kinds_of(kinds: Collection[str]) -> str:
        return "/".join(sorted(set(kinds) - {"null"}) or ["null"])

    return ", ".join(f"{key} {kinds_of(kinds)}" for key, kinds in sorted(fields.items()))
