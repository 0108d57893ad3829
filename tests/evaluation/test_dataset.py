"""Loading BEIR / ViDoRe-style datasets: jsonl, parquet (flat and sharded), PDF pages, errors."""

import io
import json

import pytest
from PIL import Image

from metaembed_rag.evaluation import DatasetError, available_splits, load_dataset

from .conftest import DOCS, QRELS, QUERIES, write_beir, write_pdf


def test_beir_jsonl(beir_dir):
    data = load_dataset(beir_dir)  # split "test"
    assert data.split == "test" and data.name == "tiny"
    assert data.doc_ids == list(DOCS) and data.query_ids == list(QUERIES)  # "unjudged" left out
    assert data.qrels == QRELS and data.queries["q2"] == QUERIES["q2"]
    assert data.corpus["d2"].full_text() == "Revenue " + DOCS["d2"][1]
    assert data.document_texts(["d3"]) == ["Timetable " + DOCS["d3"][1]]
    assert [i.text for i in data.document_inputs(["d1"], images=True)] == ["Espresso " + DOCS["d1"][1]]
    assert load_dataset(beir_dir, split=None).qrels == QRELS  # the only split
    assert data.head(2).query_ids == ["q1", "q2"] and set(data.head(2).qrels) == {"q1", "q2"}


def test_split_errors(beir_dir):
    write_beir(beir_dir, split="dev")
    assert available_splits(beir_dir) == ["dev", "test"]
    with pytest.raises(DatasetError, match=r"no split 'train'; available: dev, test"):
        load_dataset(beir_dir, "train")
    with pytest.raises(DatasetError, match=r"several splits \(dev, test\); choose one"):
        load_dataset(beir_dir, None)


def test_unknown_ids_are_an_error_unless_not_strict(tmp_path):
    root = write_beir(tmp_path / "d", qrels={**QRELS, "q1": {"d1": 1, "ghost": 1}, "nobody": {"d1": 1}})
    with pytest.raises(DatasetError, match=r"1 query id\(s\) that are not in the query file \('nobody'\)"):
        load_dataset(root)
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in {**QUERIES, "nobody": "x"}.items())
    )
    with pytest.raises(DatasetError, match=r"1 corpus id\(s\).*\('ghost'\).*strict=False"):
        load_dataset(root)
    assert load_dataset(root, strict=False).qrels["q1"] == {"d1": 1}


def test_file_errors(tmp_path, beir_dir):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "missing")
    (beir_dir / "corpus.jsonl").rename(beir_dir / "corpus.txt")
    with pytest.raises(DatasetError, match=r"no corpus.jsonl, corpus.parquet or corpus/\*.parquet"):
        load_dataset(beir_dir)
    (beir_dir / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n')
    with pytest.raises(DatasetError, match=r"corpus.jsonl:2: not valid JSON"):
        load_dataset(beir_dir)
    (beir_dir / "corpus.jsonl").write_text('{"text": "no id"}\n')
    with pytest.raises(DatasetError, match=r"corpus.jsonl:1: no id column"):
        load_dataset(beir_dir)
    (beir_dir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t0.5\n")
    with pytest.raises(DatasetError, match=r"test.tsv:2: relevance score '0.5' is not an integer"):
        load_dataset(beir_dir)
    (beir_dir / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(DatasetError, match="first line must be the header"):
        load_dataset(beir_dir)
    (beir_dir / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetError, match="has no qrels"):
        load_dataset(beir_dir)


def _png(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_vidore_sharded_parquet_with_image_bytes(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    root = tmp_path / "vidore"
    for sub in ("corpus", "queries", "qrels"):
        (root / sub).mkdir(parents=True)
    images = [{"bytes": _png(c), "path": f"{c}.png"} for c in ("red", "green", "blue")]
    pq.write_table(
        pa.table({"corpus-id": [10, 11, 12], "image": images}),
        root / "corpus" / "test-00000-of-00001.parquet",
    )
    pq.write_table(
        pa.table({"query-id": [1, 2], "query": ["red page?", "blue page?"]}),
        root / "queries" / "test-00000-of-00001.parquet",
    )
    for shard, (q, d) in enumerate([(1, 10), (2, 12)]):
        table = pa.table({"query-id": [q], "corpus-id": [d], "score": [1]})
        pq.write_table(table, root / "qrels" / f"test-0000{shard}-of-00002.parquet")
    data = load_dataset(root, split=None)
    assert data.doc_ids == ["10", "11", "12"] and data.queries == {"1": "red page?", "2": "blue page?"}
    assert data.qrels == {"1": {"10": 1}, "2": {"12": 1}}
    [item] = data.document_inputs(["12"], images=True)
    assert item.text is None and item.image.getpixel((3, 3)) == (0, 0, 255)
    with pytest.raises(DatasetError, match="image without text, and this model reads text only"):
        data.document_inputs(["10"], images=False)


def test_flat_parquet_and_jsonl_image_paths(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    root = tmp_path / "flat"
    (root / "qrels").mkdir(parents=True)
    (root / "pages").mkdir()
    (root / "pages" / "p.png").write_bytes(_png("green"))
    pq.write_table(
        pa.table({"_id": ["a", "b"], "text": ["alpha text", None], "image": [None, "pages/p.png"]}),
        root / "corpus.parquet",
    )
    pq.write_table(pa.table({"_id": ["q"], "text": ["alpha?"]}), root / "queries.parquet")
    pq.write_table(
        pa.table({"query-id": ["q"], "corpus-id": ["b"], "score": [2]}), root / "qrels" / "dev.parquet"
    )
    data = load_dataset(root, "dev")
    assert data.corpus["a"].text == "alpha text" and data.qrels == {"q": {"b": 2}}
    assert data.corpus["b"].load_image().getpixel((0, 0)) == (0, 128, 0)
    assert data.document_texts() == ["alpha text", ""]
    (root / "pages" / "p.png").unlink()
    with pytest.raises(
        DatasetError, match=r"row 2: image file .*p.png does not exist \(relative paths start at"
    ):
        load_dataset(root, "dev")


def test_pdf_rows(tmp_path):
    root = tmp_path / "pdfset"
    write_pdf(root / "docs" / "manual.pdf", ["Descale the boiler monthly", "Warranty lasts two years"])
    rows = [
        {"_id": "m1", "pdf": "docs/manual.pdf", "page": 1},
        {"_id": "m2", "pdf": str(root / "docs" / "manual.pdf"), "page": 2, "text": "given text"},
    ]
    write_beir(root, docs={}, queries={"q": "descale"}, qrels={"q": {"m1": 1}})
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_dataset(root)
    texts = data.document_texts()
    assert "Descale the boiler monthly" in texts[0] and texts[1] == "given text"
    image_input = data.document_inputs(["m1"], images=True)[0]
    assert image_input.text is None and image_input.image.width > 100
    assert data.document_inputs(["m2"], images=False)[0].text == "given text"
    before = data.content_hash()
    write_pdf(root / "docs" / "manual.pdf", ["Descale the boiler weekly", "Warranty lasts two years"])
    assert load_dataset(root).content_hash() != before

    (root / "corpus.jsonl").write_text(json.dumps({"_id": "m1", "pdf": "docs/manual.pdf", "page": 3}) + "\n")
    with pytest.raises(DatasetError, match=r"'m1': page 3 is not in .*manual.pdf \(2 pages\)"):
        load_dataset(root).document_texts()
    (root / "corpus.jsonl").write_text(json.dumps({"_id": "m1", "pdf": "docs/manual.pdf"}) + "\n")
    with pytest.raises(DatasetError, match="a 'pdf' row needs 'page'"):
        load_dataset(root)
