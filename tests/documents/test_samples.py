"""The committed sample corpus: small, up to date with its generator, and its queries answerable."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from metaembed_rag.documents import load_folder

from .conftest import REPO, SAMPLES


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.fixture(scope="module")
def sample_texts() -> dict[tuple[str, int], str]:
    pages, report = load_folder(SAMPLES / "pdfs", dpi=20).collect()
    assert report.ok, report.summary()
    return {(page.doc_id, page.page_number): _normalise(page.text) for page in pages}


def test_corpus_is_small_and_varied(sample_texts: dict[tuple[str, int], str]) -> None:
    files = sorted((SAMPLES / "pdfs").glob("*.pdf"))
    assert 5 <= len(files) <= 10
    assert sum(f.stat().st_size for f in files) <= 3 * 2**20
    assert 40 <= len(sample_texts) <= 60
    assert all(len(text) > 80 for text in sample_texts.values())  # every page has real text
    assert len(set(sample_texts.values())) == len(sample_texts)  # and no two pages are alike


def test_every_query_is_answered_on_its_page_and_only_there(sample_texts: dict[tuple[str, int], str]) -> None:
    queries = [json.loads(line) for line in (SAMPLES / "queries.jsonl").read_text().splitlines()]
    assert len(queries) >= 15
    assert len({q["id"] for q in queries}) == len(queries)
    for query in queries:
        answer = _normalise(query["answer"])
        where = [key for key, text in sample_texts.items() if answer in text]
        assert where == [(query["file"], query["page"])], query


def test_generator_is_deterministic_and_matches_the_committed_corpus(tmp_path: Path) -> None:
    pytest.importorskip("fpdf", reason="fpdf2 (the dev extra) generates the samples")
    outputs = []
    for run in ("one", "two"):
        out = tmp_path / run
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "make_samples.py"), "--out", str(out)], check=True
        )
        outputs.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "pdfs").iterdir()})
    assert outputs[0] == outputs[1]
    # Bytes depend on the fpdf2 version; the content must not: compare text layers and queries.
    fresh, _ = load_folder(tmp_path / "one" / "pdfs", dpi=20).collect()
    committed, _ = load_folder(SAMPLES / "pdfs", dpi=20).collect()
    assert [(p.page_id, _normalise(p.text)) for p in fresh] == [
        (p.page_id, _normalise(p.text)) for p in committed
    ]
    assert (tmp_path / "one" / "queries.jsonl").read_text() == (SAMPLES / "queries.jsonl").read_text()
