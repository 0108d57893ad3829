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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["BUILTIN_COLUMNS", "OPERATORS", "compile_filter"]

BUILTIN_COLUMNS = ("page_id", "doc_id", "source", "page", "content_hash")
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
