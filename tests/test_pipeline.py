"""Ingestion: incremental re-indexing, failures that do not stop the batch, resume after kill -9."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metaembed_rag.index import PageIndex
from metaembed_rag.pipeline import index_folder

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "pdfs"
SMALL = {"wayfarer-travel-claim-form.pdf": 3, "willowbrook-garden-newsletter.pdf": 4}


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in SMALL:
        shutil.copy(SAMPLES / name, folder / name)
    return folder


def outcome(report):
    return {Path(f.path).name: (f.status, f.pages) for f in report.files}


def test_incremental_reindex_adds_skips_replaces_and_syncs(corpus, tmp_path, minilm):
    with PageIndex.create(tmp_path / "index", fingerprint=minilm) as index:
        first = index_folder(corpus, index, minilm, show_progress_bar=False)
        assert outcome(first) == {name: ("added", n) for name, n in SMALL.items()}
        assert len(index) == 7 and first.pages_added == 7

        again = index_folder(corpus, index, minilm, show_progress_bar=False)
        assert {s for s, _ in outcome(again).values()} == {"skipped"} and again.pages_added == 0

        # One file changed (now a 5-page document), one removed, one added.
        shutil.copy(SAMPLES / "riverton-transit-timetable.pdf", corpus / "wayfarer-travel-claim-form.pdf")
        (corpus / "willowbrook-garden-newsletter.pdf").unlink()
        shutil.copy(SAMPLES / "harvest-table-recipes.pdf", corpus / "recipes.pdf")
        synced = index_folder(corpus, index, minilm, sync=True, show_progress_bar=False)
        assert outcome(synced) == {
            "wayfarer-travel-claim-form.pdf": ("replaced", 5),
            "recipes.pdf": ("added", 9),
            "willowbrook-garden-newsletter.pdf": ("removed", 4),
        }
        pages = index.pages()
        assert len(index) == 14 == len({p.page_id for p in pages})
        assert sorted({p.doc_id for p in pages}) == ["recipes.pdf", "wayfarer-travel-claim-form.pdf"]
        assert "Riverton" in index.get("wayfarer-travel-claim-form.pdf:1").fields["text"]


def test_bad_files_are_reported_and_do_not_stop_the_batch(corpus, tmp_path, minilm):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(300))
    (corpus / "notes.pdf").write_text("<html>not a pdf</html>")
    with PageIndex.create(tmp_path / "index", fingerprint=minilm) as index:
        report = index_folder(corpus, index, minilm, show_progress_bar=False)
        assert len(index) == 7
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert set(failed) == {"broken.pdf", "notes.pdf"}
    assert all(name in reason for name, reason in failed.items())
    assert "2 failed" in report.summary() and "broken.pdf" in report.summary()


def test_a_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLES, folder)
    index_path = tmp_path / "index"
    command = [sys.executable, "-m", "metaembed_rag.cli", "index", str(folder), "--index", str(index_path),
               "--batch-size", "4", "--commit-every", "4", "--quiet"]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # kill it once a few chunks are committed
            if (index_path / "manifest.sqlite").exists():
                with PageIndex.open(index_path, read_only=True) as index:
                    if len(index) >= 8:
                        break
            assert proc.poll() is None, "the indexer finished before it could be killed"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    with PageIndex.open(index_path, read_only=True) as index:
        partial = len(index)
    assert 8 <= partial < 50 and partial % 4 == 0

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with PageIndex.open(index_path, read_only=True) as index:
        pages = index.pages()
    assert len(pages) == 50 == len({p.page_id for p in pages})
    assert "resumed" in result.stdout or "added" in result.stdout
    assert f"{partial} unchanged" in result.stdout


def test_cli_index_search_info_end_to_end(corpus, tmp_path):
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "metaembed_rag.cli", *args], env=env,
                              capture_output=True, text=True, timeout=300)

    index_path = str(tmp_path / "index")
    built = cli("index", str(corpus), "--index", index_path, "--quiet")
    assert built.returncode == 0, built.stderr
    assert "2 added" in built.stdout and "7 pages indexed" in built.stdout
    assert "model: metaembed-minilm" in built.stderr  # says which model it used: the bundled one

    found = cli("search", index_path, "garden club subscription", "--budget", "4,8", "-k", "3", "--json",
                "--filter", "doc_id=willowbrook-garden-newsletter.pdf", "--filter", "page>=2")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and [h["rank"] for h in hits] == [1, 2, 3]
    assert all(h["source"].endswith("willowbrook-garden-newsletter.pdf") and h["page"] >= 2 for h in hits)

    info = cli("info", index_path)
    assert info.returncode == 0 and "pages:   7" in info.stdout

    bad = cli("search", index_path, "q", "--budget", "17,8")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1  # fails before loading any model
    assert "r_q must be in 1..16" in bad.stderr
    missing = cli("search", str(tmp_path / "nowhere"), "q")
    assert missing.returncode == 1 and "no index at" in missing.stderr
    assert "metaembed-rag index" in missing.stderr
    empty = cli("search", index_path, "   ")
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert empty.stderr.splitlines() == [
        "metaembed-rag: error: the query is empty; pass a question or keywords"
    ]


def test_prefetch_keeps_order_bounds_lookahead_and_reraises():
    from metaembed_rag.pipeline import prefetch

    produced = []

    def numbers():
        for i in range(100):
            produced.append(i)
            yield i

    seen = []
    for value in prefetch(numbers(), depth=3):
        seen.append(value)
        if value == 10:
            time.sleep(0.2)  # the producer may run ahead only by the buffer depth (+1 in hand)
            assert len(produced) <= 10 + 1 + 3 + 1
    assert seen == list(range(100))

    def failing():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(prefetch(failing(), depth=2))
