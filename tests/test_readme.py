"""Every ``bash`` and ``python`` block of README.md runs as written.

Blocks run in README order in one scratch folder that holds ``samples/``, ``scripts/`` and
``configs/`` (links to this checkout), so later blocks reuse the index earlier ones built, as a
reader following the README would. ``metaembed-rag`` on the PATH runs this checkout's code.

A comment on the line before a block changes how it is checked:

* ``<!-- readme-test: expect-error "TEXT" -->``: the block needs files the reader brings; it must
  fail, with TEXT in its error output (and, for shell blocks, without a Python traceback);
* ``<!-- readme-test: instead "COMMAND" -->``: COMMAND runs in its place (``$REPO`` is this
  checkout), for blocks that set up a machine.

A new block needs nothing here: it is found and run like the others.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LINKED = ("samples", "scripts", "configs")
_FENCE = re.compile(r"^```(\w+)\s*$")
_MARKER = re.compile(r'^<!--\s*readme-test:\s*(expect-error|instead)\s+"([^"]+)".*-->\s*$')
LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}

# The blocks build on each other (one scratch folder, README order): under pytest-xdist they must
# all run on one worker, in order (`make test` passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("readme")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str  # "bash" or "python"
    code: str
    mode: str | None = None  # None, "expect-error" or "instead"
    argument: str | None = None

    def __str__(self) -> str:
        return f"README.md:{self.line}:{self.language}"


def readme_blocks(text: str) -> list[Block]:
    """The runnable fenced blocks of ``text`` with the marker (if any) on the line before each."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        language = LANGUAGES.get(fence.group(1).lower())
        if language is not None:
            marker = _MARKER.match(lines[i - 1]) if i > 0 else None
            blocks.append(Block(i + 1, language, "\n".join(lines[i + 1 : end]) + "\n",
                                marker.group(1) if marker else None, marker.group(2) if marker else None))
        i = end + 1
    return blocks


BLOCKS = readme_blocks(README.read_text())


def test_the_parser_finds_blocks_and_markers() -> None:
    text = ('intro\n```bash\necho hi\n```\n<!-- readme-test: expect-error "boom" (why) -->\n'
            '```python\nraise SystemExit("boom")\n```\n```text\nnot run\n```\n')
    assert readme_blocks(text) == [Block(2, "bash", "echo hi\n"),
                                   Block(6, "python", 'raise SystemExit("boom")\n', "expect-error", "boom")]
    assert len(BLOCKS) >= 10 and {b.language for b in BLOCKS} == {"bash", "python"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The scratch folder and environment every block runs in."""
    folder = tmp_path_factory.mktemp("readme")
    for name in LINKED:
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    bin_dir = tmp_path_factory.mktemp("bin")
    for name, command in (("metaembed-rag", "-m metaembed_rag.cli"), ("python", ""), ("python3", "")):
        shim = bin_dir / name  # this interpreter (and its virtual environment), this checkout's code
        shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {command} \"$@\"\n")
        shim.chmod(0o755)
    env = os.environ | {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "REPO": str(ROOT),
        "TQDM_DISABLE": "1",
    }
    return folder, env


def run_block(block: Block, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if block.mode == "instead":
        command = ["bash", "-euo", "pipefail", "-c", block.argument or ""]
    elif block.language == "bash":
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    else:
        command = [sys.executable, "-c", block.code]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_readme_block_runs_as_written(block: Block, workspace: tuple[Path, dict[str, str]]) -> None:
    folder, env = workspace
    done = run_block(block, folder, env)
    report = (f"{block} exited {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n"
              f"--- stderr\n{done.stderr[-3000:]}")
    if block.mode == "expect-error":
        assert done.returncode != 0, report
        assert block.argument in done.stdout + done.stderr, report
        if block.language == "bash":
            assert "Traceback" not in done.stderr, report  # a clear one-line error, not a crash
    else:
        assert done.returncode == 0, report
