"""Shared fixtures for backbone tests: tiny random checkpoints built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaembed_rag.testing import build_tiny_qwen_vl


@pytest.fixture(scope="session")
def tiny_qwen_vl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2.5-VL checkpoint folder (ForConditionalGeneration layout)."""
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen2_5_vl"))


@pytest.fixture(scope="session")
def tiny_qwen2_vl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2-VL checkpoint folder."""
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen2_vl"), family="qwen2_vl")
