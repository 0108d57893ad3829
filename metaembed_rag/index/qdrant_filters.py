"""Our filter dicts (:mod:`metaembed_rag.index.filters`) translated to Qdrant ``models.Filter``.

The semantics follow PageIndex's SQL filters, with two documented limits that come from Qdrant:

* ``prefix`` works on ``source`` only, and only at folder boundaries: the operand must be empty
  or end with ``/`` (``{"source": {"prefix": "docs/2024/"}}``). Qdrant has no prefix match on
  keywords, so each page stores ``source_prefixes`` (every ancestor folder of its source, with a
  trailing ``/``, plus the source itself) and a prefix filter is an exact match on that list.
* range bounds (``gt``, ``gte``, ``lt``, ``lte``) must be numbers: Qdrant ranges are numeric.

Field names with ``.``, ``[`` or ``]`` cannot be filtered on, since Qdrant reads them as paths.
User fields live under the ``fields`` payload object, so they never collide with built-ins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdrant_client import models

from .filters import BUILTIN_COLUMNS, compile_filter

__all__ = ["PREFIXES_KEY", "source_prefixes", "to_qdrant_filter"]

#: Payload key holding every folder prefix of ``source`` (see the module docstring).
PREFIXES_KEY = "source_prefixes"
_RANGE_OPS = ("gt", "gte", "lt", "lte")


def source_prefixes(source: str | None) -> list[str]:
    """``"a/b/c.pdf"`` -> ``["a/", "a/b/", "a/b/c.pdf"]``; ``"/x/y.pdf"`` -> ``["/", "/x/", "/x/y.pdf"]``."""
    if source is None:
        return []
    out = [source[: i + 1] for i, ch in enumerate(source) if ch == "/"]
    return out if source in out else [*out, source]


def _key(name: str) -> str:
    if name in BUILTIN_COLUMNS:
        return name
    if any(ch in name for ch in ".[]"):
        raise ValueError(f"filter field {name!r}: names with '.', '[' or ']' cannot be filtered on in Qdrant")
    return f"fields.{name}"


def _empty(key: str) -> models.IsEmptyCondition:
    return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))


def _equals(key: str, value: Any) -> models.Condition:
    if isinstance(value, float) and not isinstance(value, bool):
        return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _nothing() -> models.Condition:
    return models.HasIdCondition(has_id=[])


def _condition(name: str, key: str, op: str, operand: Any) -> models.Condition:
    if op == "eq":
        return _empty(key) if operand is None else _equals(key, operand)
    if op == "ne":
        if operand is None:
            return models.Filter(must_not=[_empty(key)])
        # As in SQL, a missing value never differs: the field must be present and not equal.
        return models.Filter(must_not=[_empty(key), _equals(key, operand)])
    if op == "in":
        values = list(operand)
        if not values:
            return _nothing()
        if all(isinstance(v, str) for v in values) or all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            return models.FieldCondition(key=key, match=models.MatchAny(any=values))
        return models.Filter(should=[_equals(key, v) for v in values])
    if op in _RANGE_OPS:
        if isinstance(operand, str):
            raise ValueError(
                f"filter {name!r}: Qdrant ranges are numeric; a string bound ({operand!r}) is not supported"
            )
        return models.FieldCondition(key=key, range=models.Range(**{op: operand}))
    if op == "prefix":
        if name != "source":
            raise ValueError(f"filter {name!r}: on Qdrant, 'prefix' is supported for 'source' only")
        if operand == "":
            return models.Filter(must_not=[_empty("source")])
        if not operand.endswith("/"):
            raise ValueError(
                f"filter 'source': on Qdrant a prefix must be a folder ending in '/', got {operand!r}"
            )
        return models.FieldCondition(key=PREFIXES_KEY, match=models.MatchValue(value=operand))
    raise ValueError(f"unknown filter operator {op!r}")  # compile_filter rejects these first


def to_qdrant_filter(filter: Mapping[str, Any] | None) -> models.Filter | None:
    """The Qdrant filter for ``filter`` (all conditions AND-ed), or None for no filter."""
    compile_filter(filter)  # the same validation and error messages as PageIndex
    if not filter:
        return None
    must: list[models.Condition] = []
    for name, cond in filter.items():
        key = _key(name)
        items = list(cond.items()) if isinstance(cond, Mapping) else [("eq", cond)]
        must.extend(_condition(name, key, op, operand) for op, operand in items)
    return models.Filter(must=must)
