"""The command line answers --help, info and mistakes without loading torch, a model or peft."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metaembed_rag.cli import _join_signed_values, parse_filter

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "peft")
# Runs the CLI in a fresh interpreter and reports, on the last line of stderr, which heavy
# packages were imported by the time it finished (also when it exits through SystemExit).
_PROBE = """
import json, sys
from metaembed_rag.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
sys.stderr.write("\\nIMPORTED " + json.dumps([m for m in HEAVY if m in sys.modules]) + "\\n")
sys.exit(code)
""".replace("HEAVY", repr(HEAVY))


def run_cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str, list[str]]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    stderr, _, imported = done.stderr.rpartition("\nIMPORTED ")
    return done.returncode, done.stdout, stderr.strip(), json.loads(imported)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-page index with page numbers and a user field, built without a model."""
    import torch

    from metaembed_rag.index import PageIndex

    path = tmp_path_factory.mktemp("cli") / "idx"
    fingerprint = {"name": "m", "family": "bert", "num_query_tokens": 16, "num_candidate_tokens": 64,
                   "dim": 8, "checksum": "0", "model": "metaembed-minilm"}
    vectors = torch.nn.functional.normalize(torch.randn(3, 64, 8, generator=torch.Generator().manual_seed(0)),
                                            dim=-1)
    metas = [{"page_id": f"a.pdf:{i}", "doc_id": "a.pdf", "source": "/docs/a.pdf", "page": i, "lang": "en"}
             for i in (1, 2, 3)]
    with PageIndex.create(path, fingerprint=fingerprint, dtype="fp32") as index:
        index.add(vectors, metas)
    return path


def test_help_imports_no_torch_transformers_or_peft():
    code, out, _, imported = run_cli("--help")
    assert code == 0 and "index" in out and "exit codes" in out
    assert imported == []
    for command in ("index", "search", "eval", "info", "train", "demo", "chat"):
        code, out, _, imported = run_cli(command, "--help")
        assert code == 0 and imported == [], (command, imported)


def test_info_reads_the_index_without_torch(small_index):
    code, out, err, imported = run_cli("info", str(small_index))
    assert code == 0, err
    assert imported == []
    assert "pages:   3 in 1 segments (0 deleted rows)" in out
    assert "model:   metaembed-minilm" in out and "storage: fp32" in out


def test_info_and_search_on_a_missing_index_name_the_index_command(tmp_path):
    for command in (("info",), ("search",)):
        args = [*command, str(tmp_path / "nowhere")] + (["q"] if command == ("search",) else [])
        code, _, err, imported = run_cli(*args)
        assert code == 1 and imported == []
        assert err == (f"metaembed-rag: error: no index at {tmp_path / 'nowhere'}: build it with "
                       f"`metaembed-rag index PDF_FOLDER --index {tmp_path / 'nowhere'}`")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "-1,2"], "--budget -1,2 is out of range for this index: r_q must be in 1..16"),
        (["--budget", "17,8"], "r_q must be in 1..16 and r_c in 1..64"),
        (["--budget", "four"], "cannot read --budget 'four'"),
        (["--filter", "pgae>=2"], "filter field 'pgae' is held by no page; did you mean 'page'?"),
        (["--filter", "page>=abc"], "filter 'page': the pages hold number values there, not string ('abc')"),
        (["--filter", "lang=1"], "filter 'lang': the pages hold string values there, not number"),
        (["--filter", "nonsense"], "--filter 'nonsense': write key=value"),
    ],
)
def test_bad_budget_or_filter_fails_before_any_model_or_torch(small_index, args, message):
    code, _, err, imported = run_cli("search", str(small_index), "a query", *args)
    assert code == 1 and imported == []
    assert err.startswith("metaembed-rag: error: ") and message in err and "\n" not in err
    if "filter field" in message:
        assert "lang string" in err and "page number" in err  # lists the fields that exist


def test_usage_errors_exit_2_without_torch(small_index):
    for args in (["serach", "x"], ["search", str(small_index)], ["search", str(small_index), "q", "-k", "0"],
                 ["index", "docs", "--index", "x", "--threads", "0"]):
        code, _, err, imported = run_cli(*args)
        assert code == 2 and imported == [], args
        assert "usage:" in err


def test_index_checks_its_arguments_before_loading_a_model_and_creates_nothing(tmp_path):
    code, _, err, imported = run_cli("index", str(tmp_path / "missing"), "--index", str(tmp_path / "idx"))
    assert code == 1 and imported == [] and not (tmp_path / "idx").exists()
    assert err == (f"metaembed-rag: error: {tmp_path / 'missing'} does not exist; "
                   "pass a folder of PDFs (or one PDF file)")

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a document")
    code, _, err, imported = run_cli("index", str(empty), "--index", str(tmp_path / "idx"))
    assert code == 1 and imported == [] and not (tmp_path / "idx").exists()
    assert "nothing to index: no files in" in err and "*.pdf" in err

    a_file = tmp_path / "taken"
    a_file.write_text("x")
    (empty / "a.pdf").write_bytes(b"%PDF-1.4")
    code, _, err, imported = run_cli("index", str(empty), "--index", str(a_file))
    assert code == 1 and imported == [] and "is a file; give a folder for the index" in err

    code, _, err, imported = run_cli("index", str(empty / "a.pdf"), "--index", str(tmp_path / "i"), "--sync")
    assert code == 1 and imported == [] and "--sync needs a folder" in err
    assert not (tmp_path / "i").exists()


def test_a_budget_that_looks_like_an_option_is_taken_as_the_value():
    assert _join_signed_values(["search", "i", "q", "--budget", "-1,2", "-k", "3"]) == [
        "search", "i", "q", "--budget=-1,2", "-k", "3"]
    assert _join_signed_values(["--budget", "--json"]) == ["--budget", "--json"]  # argparse reports it


def test_parse_filter():
    assert parse_filter(["page>=2", "page<5", "doc_id=a.pdf,b.pdf", "source^=/docs/"]) == {
        "page": {"gte": 2, "lt": 5}, "doc_id": {"in": ["a.pdf", "b.pdf"]}, "source": {"prefix": "/docs/"}}
    assert parse_filter([]) is None
