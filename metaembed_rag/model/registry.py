"""Backbone families by name, imported lazily so the text path never loads VLM code."""

from __future__ import annotations

import importlib

from .base import BackboneAdapter

__all__ = ["FAMILIES", "adapter_class"]

#: family name -> "module:Class" of its adapter
FAMILIES: dict[str, str] = {
    "bert": "metaembed_rag.model.text:TextAdapter",
    "qwen2_5_vl": "metaembed_rag.model.qwen_vl:QwenVLAdapter",
    "qwen2_vl": "metaembed_rag.model.qwen_vl:QwenVLAdapter",
}


def adapter_class(family: str) -> type[BackboneAdapter]:
    if family not in FAMILIES:
        raise ValueError(f"unknown backbone family {family!r}; choose one of {sorted(FAMILIES)}")
    module_name, class_name = FAMILIES[family].split(":")
    return getattr(importlib.import_module(module_name), class_name)
