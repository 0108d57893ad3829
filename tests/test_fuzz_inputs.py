"""The fuzzed input harness's short run: hostile files in one index_folder run, none lost."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fuzz_inputs

pytestmark = pytest.mark.usefixtures("one_thread")


def test_hostile_inputs_are_each_reported_once_and_good_ones_indexed(tmp_path: Path, capsys) -> None:
    args = ["--seed", "1", "--mutants", "12", "--big-pages", "1500", "--max-pages", "1000",
            "--page-timeout", "1", "--workdir", str(tmp_path), "-v"]  # fmt: skip
    assert fuzz_inputs.main(args) == 0
    out = capsys.readouterr().out
    assert "batches aborted 0 / files unreported 0 / peak RSS" in out
    assert "PROBLEM" not in out
    # The causes a user reads for the limits and the traps, one line each.
    assert "ten-thousand-pages.pdf: the PDF has 1500 pages, more than max_pages=1000" in out
    assert "slow-page.pdf: rendering page 1 took longer than 1 s (page_timeout=1 s per page)" in out
    assert "pipe.pdf: unreadable: not a regular file but a named pipe (FIFO)" in out
    assert "self-loop.pdf: unreadable: Too many levels of symbolic links" in out
    assert "\\xff\\xfe-not-utf8-empty.pdf: corrupt: the file is empty" in out
