"""scripts/build_training_data.py end to end on a small corpus of fpdf2-made manuals."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from metaembed_rag.training.data import examples_from_beir, load_pairs

from ._pdfs import PageSpec, prose, write_pdf

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_training_data.py"


def make_packages(root: Path) -> None:
    seed = 0
    for package in ("alpha", "beta", "gamma"):
        for manual in range(2):
            pages = []
            for page in range(4):
                seed += 1
                title = f"{package.title()} topic {manual}{page} {prose(seed, 3)[:-1]}"
                pages.append(PageSpec(f"{title}\n{prose(1000 + seed)}", [title]))
            write_pdf(root / package / f"manual{manual}" / "guide.pdf", pages)
    (root / "alpha" / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")


def run_script(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("build_training_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def test_build_writes_train_and_a_disjoint_dev_set(tmp_path: Path, capsys) -> None:
    make_packages(tmp_path / "pdfs")
    out = tmp_path / "out"
    argv = [str(tmp_path / "pdfs"), "--out", str(out), "--dev-fraction", "0.34", "--seed", "1", "--quiet"]
    assert run_script(argv) == 0
    printed = capsys.readouterr()
    assert "broken.pdf" in printed.err
    assert re.search(r"^PDF documents read +6 \(24 pages\)$", printed.out, re.MULTILINE)
    assert "pairs kept: bookmark" in printed.out

    info = json.loads((out / "build_info.json").read_text())
    train = load_pairs(out / "train.jsonl", read_images=False)
    dev = examples_from_beir(out / "dev", "dev", read_images=False)
    assert len(info["failures"]) == 1
    assert info["dev_pages"] == 8 and len(info["dev_documents"]) == 2  # two 4-page groups of 24 pages
    assert len(train) + len(dev) == 24 == info["kept"]["bookmark"]
    train_docs = {e.positive_id.rsplit(":", 1)[0] for e in train}
    dev_docs = {str((tmp_path / "pdfs" / d).resolve()) for d in info["dev_documents"]}
    assert train_docs.isdisjoint(dev_docs)
    # Train positives are masked, dev positives are the real text layer.
    assert all(e.query.text.lower() not in e.positive.text.lower() for e in train)
    assert all(" ".join(e.query.text.split()) in " ".join(e.positive.text.split()) for e in dev)
    before = [(out / name).read_bytes() for name in ("train.jsonl", "dev/queries.jsonl", "dev/qrels/dev.tsv")]
    assert run_script(argv) == 0  # same seed, same files
    after = [(out / name).read_bytes() for name in ("train.jsonl", "dev/queries.jsonl", "dev/qrels/dev.tsv")]
    assert before == after
