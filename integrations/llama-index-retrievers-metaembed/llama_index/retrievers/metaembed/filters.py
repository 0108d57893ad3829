"""LlamaIndex ``MetadataFilters`` translated to metaembed-rag's filter dict.

metaembed-rag filters (:mod:`metaembed_rag.index.filters`) are an AND of per-field conditions with
the operators ``eq ne in gt gte lt lte prefix``; they run in the index before any scoring. The
translation is exact or it raises ``ValueError``: a filter is never dropped or loosened.

=====================================  ===========================================
LlamaIndex                             metaembed-rag
=====================================  ===========================================
``==`` ``!=`` ``>`` ``>=`` ``<`` ``<=``  ``eq`` ``ne`` ``gt`` ``gte`` ``lt`` ``lte``
``in``                                 ``in``
``AND`` of any of these                one dict (several operators per field merge)
``OR`` of ``==``/``in`` on one field   ``in`` with the union of the values
=====================================  ===========================================

Everything else raises: ``nin``, ``any``, ``all``, ``contains``, ``text_match``,
``text_match_insensitive``, ``is_empty``, ``NOT``, an ``OR`` across fields or over ranges, and two
conditions that need the same operator on one field with different values. Filters on the
per-search metadata (``score``, ``normalized_score``, ``budget``) raise too: use ``min_score``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

__all__ = ["FilterLike", "to_metaembed_filter"]

#: LlamaIndex ``MetadataFilters``, a single ``MetadataFilter``, or a metaembed-rag filter dict.
FilterLike = MetadataFilters | MetadataFilter | Mapping[str, Any]

_OPERATORS = {
    FilterOperator.EQ: "eq",
    FilterOperator.NE: "ne",
    FilterOperator.GT: "gt",
    FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt",
    FilterOperator.LTE: "lte",
    FilterOperator.IN: "in",
}
#: Metadata that each search computes; it is not stored, so no filter can select on it.
_COMPUTED = ("score", "normalized_score", "budget")


def to_metaembed_filter(filters: FilterLike | None) -> dict[str, Any] | None:
    """The metaembed-rag filter dict for ``filters`` (None for no filter). A dict passes through
    as a copy (the index checks it at search time); LlamaIndex filters are translated exactly or
    raise ``ValueError`` naming what metaembed-rag cannot express."""
    if filters is None:
        return None
    if isinstance(filters, MetadataFilter):
        filters = MetadataFilters(filters=[filters])
    if isinstance(filters, MetadataFilters):
        return _translate(filters) or None
    if isinstance(filters, Mapping):
        return dict(filters)
    raise TypeError(
        "filters are llama_index MetadataFilters, a MetadataFilter or a metaembed-rag filter dict, "
        f"got {type(filters).__name__}"
    )


def _translate(filters: MetadataFilters) -> dict[str, dict[str, Any]]:
    condition = FilterCondition(filters.condition or FilterCondition.AND)
    if condition is FilterCondition.NOT:
        raise ValueError("metaembed-rag filters cannot express NOT; use '!=' on a field instead")
    if condition is FilterCondition.OR:
        return _translate_or(filters)
    merged: dict[str, dict[str, Any]] = {}
    for item in filters.filters:
        parts = _translate(item) if isinstance(item, MetadataFilters) else _condition(item)
        for key, ops in parts.items():
            target = merged.setdefault(key, {})
            for op, value in ops.items():
                if op in target and target[op] != value:
                    raise ValueError(
                        f"filter {key!r}: two {op!r} conditions ({target[op]!r} and {value!r}) cannot be "
                        "combined in one metaembed-rag filter"
                    )
                target[op] = value
    return merged


def _translate_or(filters: MetadataFilters) -> dict[str, dict[str, Any]]:
    """An OR is expressible only as membership: ``==``/``in`` conditions on one field."""
    keys: set[str] = set()
    values: list[Any] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters) or item.operator not in (FilterOperator.EQ, FilterOperator.IN):
            raise ValueError(
                "metaembed-rag filters are an AND of conditions; an OR is supported only over '==' or "
                "'in' conditions on one field (it becomes 'in')"
            )
        _check_key(item.key)
        keys.add(item.key)
        operand = item.value if item.operator is FilterOperator.IN else [item.value]
        if not isinstance(operand, list):
            raise ValueError(f"filter {item.key!r}: 'in' takes a list of values, got {item.value!r}")
        values.extend(v for v in operand if v not in values)
    if len(keys) > 1:
        raise ValueError(
            f"metaembed-rag filters cannot express an OR across fields ({', '.join(sorted(keys))}); "
            "an OR is supported only over '==' or 'in' conditions on one field"
        )
    if not keys:
        return {}
    if any(v is None for v in values):
        raise ValueError("an OR that includes '== None' (a missing field) cannot become 'in'")
    return {keys.pop(): {"in": values}}


def _condition(item: MetadataFilter) -> dict[str, dict[str, Any]]:
    _check_key(item.key)
    op = _OPERATORS.get(FilterOperator(item.operator))
    if op is None:
        raise ValueError(
            f"filter {item.key!r}: operator {FilterOperator(item.operator).value!r} is not supported by "
            "metaembed-rag; supported: " + ", ".join(o.value for o in _OPERATORS)
        )
    if op == "in" and not isinstance(item.value, list):
        raise ValueError(f"filter {item.key!r}: 'in' takes a list of values, got {item.value!r}")
    if op not in ("eq", "ne", "in") and (item.value is None or isinstance(item.value, list)):
        raise ValueError(f"filter {item.key!r}: {item.operator.value!r} takes a number or a string")
    return {item.key: {op: item.value}}


def _check_key(key: str) -> None:
    if key in _COMPUTED:
        raise ValueError(
            f"{key!r} is computed per search, not stored, so it cannot be filtered on; "
            "use min_score for a score threshold"
        )
