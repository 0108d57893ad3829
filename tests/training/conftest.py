import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matmuls on a shared 2-core machine run many times faster without thread hand-offs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
