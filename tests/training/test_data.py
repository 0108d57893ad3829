"""load_pairs and examples_from_beir: items resolved from real PDFs, errors with line numbers, laziness."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from metaembed_rag.training import items as items_module
from metaembed_rag.training.data import PairFileError, examples_from_beir, load_pairs

from ._pdfs import write_pdf


def write_jsonl(path: Path, rows: list[object]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def manual(tmp_path: Path) -> Path:
    return write_pdf(
        tmp_path / "docs" / "manual.pdf",
        ["Installing the pump: open the valve", "Cleaning the filter weekly", "Warranty terms"],
    )


def test_text_mode_reads_the_text_layer_and_resolves_relative_paths(tmp_path: Path, manual: Path) -> None:
    path = write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            {
                "query": "how to clean the filter",
                "positive": {"pdf": "docs/manual.pdf", "page": 2},
                "negatives": [{"pdf": "docs/manual.pdf", "page": 3}, {"text": "bake at 200 degrees"}],
            },
            {"query": "valve", "positive": {"pdf": str(manual), "page": 1, "text": "masked page text"}},
            {"query": "cake", "positive": {"text": "bake at 200 degrees"}},
        ],
    )
    pairs = load_pairs(path, read_images=False)
    assert len(pairs) == 3
    first = pairs[0]
    assert first.query.text == "how to clean the filter"
    assert first.positive.image is None
    assert first.positive.text.strip() == "Cleaning the filter weekly"
    assert [n.text.strip() for n in first.negatives] == ["Warranty terms", "bake at 200 degrees"]
    assert first.positive_id == f"{manual.resolve()}:2"
    # A given text replaces extraction but the page keeps its id.
    assert pairs[1].positive.text == "masked page text"
    assert pairs[1].positive_id == f"{manual.resolve()}:1"
    # Text items are keyed by content: the same text gives the same id.
    assert pairs[2].positive_id.startswith("text:")
    assert pairs[2].positive_id == load_pairs(path, read_images=False)[2].positive_id
    assert [e.query.text for e in pairs[1:]] == ["valve", "cake"]


def test_image_mode_renders_pages_with_text(tmp_path: Path, manual: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"query": "q", "positive": {"pdf": str(manual), "page": 3}}])
    example = load_pairs(path, read_images=True)[0]
    assert example.positive.kind == "image+text"
    assert example.positive.image.size == (1191, 1684)  # A4 at 144 dpi
    assert example.positive.text.strip() == "Warranty terms"


def test_loading_reads_no_page_and_text_is_cached(tmp_path: Path, manual: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = items_module.page_text

    def counting(doc, index):
        calls.append(index)
        return real(doc, index)

    monkeypatch.setattr(items_module, "page_text", counting)
    rows = [{"query": f"q{i}", "positive": {"pdf": str(manual), "page": 1 + i % 3}} for i in range(30)]
    pairs = load_pairs(write_jsonl(tmp_path / "p.jsonl", rows), read_images=False, cache_size=2)
    assert calls == []
    pairs[0], pairs[3], pairs[0]
    assert calls == [0]  # second and third read hit the cache
    pairs[1], pairs[2], pairs[0]  # pages 2, 3 push page 1 out of a 2-page LRU
    assert calls == [0, 1, 2, 0]


def test_dataset_pickles_for_dataloader_workers(tmp_path: Path, manual: Path) -> None:
    rows = [{"query": "q", "positive": {"pdf": str(manual), "page": 2}}]
    pairs = load_pairs(write_jsonl(tmp_path / "p.jsonl", rows), read_images=False)
    pairs[0]
    copy = pickle.loads(pickle.dumps(pairs))
    assert copy[0].positive.text == pairs[0].positive.text
    assert pairs[0:1][0].positive_id == copy[0].positive_id


def test_all_bad_lines_are_reported_with_line_numbers(tmp_path: Path, manual: Path) -> None:
    good = {"query": "q", "positive": {"text": "t"}}
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            good,
            '{"query": "q", "positive": ',  # 2: truncated JSON
            {"positive": {"text": "t"}},  # 3: no query
            {"query": "  ", "positive": {"text": "t"}},  # 4: empty query
            {"query": "q", "positive": {"pdf": "docs/manual.pdf", "page": 4}},  # 5: page out of range
            {"query": "q", "positive": {"pdf": "docs/missing.pdf", "page": 1}},  # 6: missing file
            {"query": "q", "positive": {"text": "t"}, "negatives": [{"image": "docs/manual.pdf"}]},  # 7
            {"query": "q", "positive": {"pdf": "docs/manual.pdf", "page": 0}},  # 8: 0 is not 1-based
            {"query": "q", "positive": {"pdf": "docs/manual.pdf"}},  # 9: no page
            {"query": "q"},  # 10: no positive
        ],
    )
    with pytest.raises(PairFileError) as caught:
        load_pairs(path, read_images=False)
    problems = caught.value.problems
    assert [p.split(":")[1] for p in problems] == [str(n) for n in range(2, 11)]
    message = str(caught.value)
    assert "9 problem(s), nothing was loaded" in message
    assert f"{path}:2: not valid JSON" in message
    assert f'{path}:3: missing "query"' in message
    assert f"{path}:4: \"query\" must be a non-empty string" in message
    assert "page 4 is out of range: " in message and "has 3 page(s), numbered 1..3" in message
    assert "pdf file not found: " in message and "relative paths are read from the folder" in message
    assert f"{path}:7: negatives[0]: " in message and "is not an image" in message
    assert "page 0 is out of range" in message
    assert f'{path}:9: positive: pdf item' in message and '"page": a 1-based page number' in message
    assert f'{path}:10: missing "positive"' in message


def test_image_items_need_text_for_a_text_backbone(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(tmp_path / "red.png")
    path = write_jsonl(tmp_path / "p.jsonl", [{"query": "red", "positive": {"image": "red.png"}}])
    with pytest.raises(PairFileError, match="cannot read images: add a \"text\""):
        load_pairs(path, read_images=False)
    example = load_pairs(path, read_images=True)[0]
    assert example.positive.kind == "image" and example.positive.image.size == (8, 8)
    assert example.positive_id == str((tmp_path / "red.png").resolve())


def test_a_page_without_text_layer_fails_with_its_line(tmp_path: Path) -> None:
    blank = write_pdf(tmp_path / "blank.pdf", [" "])
    path = write_jsonl(tmp_path / "p.jsonl", [{"query": "q", "positive": {"pdf": str(blank), "page": 1}}])
    pairs = load_pairs(path, read_images=False)
    with pytest.raises(ValueError, match=rf"{path}:1: page 1 of .*blank.pdf has no text layer"):
        pairs[0]


def test_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pair file not found"):
        load_pairs(tmp_path / "nope.jsonl", read_images=False)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(PairFileError, match="has no pairs"):
        load_pairs(tmp_path / "empty.jsonl", read_images=False)


def write_beir(root: Path, corpus: list[dict], queries: list[dict], qrels: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "corpus.jsonl", corpus)
    write_jsonl(root / "queries.jsonl", queries)
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    return root


def test_beir_dataset_gives_one_example_per_positive_qrel(tmp_path: Path, manual: Path) -> None:
    root = write_beir(
        tmp_path / "beir",
        corpus=[
            {"_id": "m:1", "pdf": str(manual), "page": 1},
            {"_id": "m:2", "pdf": "../docs/manual.pdf", "page": 2, "text": "stored text layer"},
            {"_id": "d3", "title": "Cakes", "text": "bake at 200 degrees"},
        ],
        queries=[{"_id": "q1", "text": "open the valve"}, {"_id": "q2", "text": "cake temperature"}],
        qrels=["q1\tm:1\t1", "q1\tm:2\t2", "q2\td3\t1", "q2\tm:1\t0"],
    )
    examples = examples_from_beir(root, "dev", read_images=False)
    assert len(examples) == 3  # the score-0 qrel is not a positive
    assert [(e.query.text, e.positive_id) for e in examples] == [
        ("open the valve", "m:1"),
        ("open the valve", "m:2"),
        ("cake temperature", "d3"),
    ]
    assert examples[0].positive.text.strip() == "Installing the pump: open the valve"
    assert examples[1].positive.text == "stored text layer"
    assert examples[2].positive.text == "Cakes\nbake at 200 degrees"
    assert examples_from_beir(root, "dev", read_images=True)[0].positive.kind == "image+text"


def test_beir_problems_are_listed(tmp_path: Path, manual: Path) -> None:
    root = write_beir(
        tmp_path / "beir",
        corpus=[{"_id": "m:1", "pdf": str(manual), "page": 9}, {"_id": "d"}],
        queries=[{"_id": "q1", "text": "x"}],
        qrels=["q1\tm:1\t1", "q9\td\t1", "q1\tzzz\t1", "q1\td"],
    )
    with pytest.raises(PairFileError) as caught:
        examples_from_beir(root, "dev", read_images=False)
    message = str(caught.value)
    assert "corpus.jsonl:1: page 9 is out of range" in message
    assert "corpus.jsonl:2: the item is empty" in message
    assert "dev.tsv:3: query-id 'q9' is not in queries.jsonl" in message
    assert "dev.tsv:4: corpus-id 'zzz' is not in corpus.jsonl" in message
    assert "dev.tsv:5: expected 3 tab-separated columns, got 2" in message
    with pytest.raises(FileNotFoundError, match=r"qrels/<split>\.tsv"):
        examples_from_beir(root, "test", read_images=False)
