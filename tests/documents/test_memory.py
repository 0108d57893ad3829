"""Rendering a long PDF keeps memory bounded: pages stream, they do not accumulate.

Measured in a fresh child process (``ru_maxrss``: the peak resident set size), so nothing else in
the test session blurs the figure. The assertion is on memory, never on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, repeat_pages, write_pdf

PAGES = 300
DPI = 72  # an A4 page is 596x842 RGB = 1.5 MB, so 300 pages held at once would be ~450 MB

_CHILD = f"""
import json, resource, sys
from metaembed_rag.documents import load_files

def peak_mb(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB

path, workers = sys.argv[1], int(sys.argv[2])
stream = iter(load_files([path], dpi={DPI}, workers=workers))
first = next(stream)  # imports done, one page rendered: the baseline
baseline = peak_mb()
count, pixel_bytes = 1, first.width * first.height * 3
for page in stream:
    count += 1
    pixel_bytes += page.width * page.height * 3
print(json.dumps({{"count": count, "baseline": baseline, "peak": peak_mb(),
                  "workers_peak": peak_mb(resource.RUSAGE_CHILDREN), "total_mb": pixel_bytes / 2**20}}))
"""


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    texts = [f"Page template {i}: " + "lorem ipsum dolor sit amet " * 30 for i in range(10)]
    return repeat_pages(write_pdf(folder / "ten.pdf", texts), folder / "long.pdf", PAGES)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and semantics differ outside Linux")
@pytest.mark.parametrize("workers", [1, 2])
def test_300_pages_render_in_bounded_memory(long_pdf: Path, workers: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(long_pdf), str(workers)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["count"] == PAGES
    assert stats["total_mb"] > 400  # what keeping every page would cost
    # Streaming: the main process grows by at most a few in-flight pages (chunks of 4, 2 per worker).
    growth = stats["peak"] - stats["baseline"]
    assert growth < 80, stats
    if workers > 1:
        assert stats["workers_peak"] < 250, stats  # each worker holds one chunk at a time
