import pytest


@pytest.fixture(autouse=True)
def _single_threaded(one_thread):
    """Every training test runs on one thread (see the shared ``one_thread`` fixture)."""
