"""The README quickstart, run exactly as written (the fenced python block), from a copy of the repo layout."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from langchain_samples import REPO

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart() -> str:
    (code, *_) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return code


def test_the_readme_quickstart_runs_as_written(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = quickstart()
    assert len(code.strip().splitlines()) <= 12
    (tmp_path / "samples").symlink_to(REPO / "samples")
    # The index the session built stands in for the first run, so this one is the incremental run.
    shutil.copytree(sample_index, tmp_path / "samples.idx")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__quickstart__"})
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("lumen-harbor-annual-report-2024.pdf p.4")
    assert float(lines[0].split()[0]) > 0.5
    assert lines[-1] == "['text', 'image', 'text']"
    assert os.path.isdir(tmp_path / "samples.idx")
