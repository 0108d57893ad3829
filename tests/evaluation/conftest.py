import json
from pathlib import Path

import pytest

DOCS = {
    "d1": ("Espresso", "The espresso machine heats water to 93 degrees before brewing."),
    "d2": ("Revenue", "Total revenue in 2024 was 412.6 million euros, up nine percent."),
    "d3": ("Timetable", "The number 7 bus leaves the harbour every twenty minutes."),
    "d4": ("Garden", "Plant tulip bulbs in autumn, six inches deep, in well drained soil."),
    "d5": ("Microplastics", "Microplastic counts in the Baltic Sea rose near river mouths."),
    "d6": ("Claims", "Submit the travel claim form within 30 days with all receipts."),
    "d7": ("Recipes", "Roast the squash for forty minutes and season with sage."),
    "d8": ("Revenue by region", "North America revenue reached 121.7 million euros in 2024."),
}
QUERIES = {
    "q1": "How hot is the water in the espresso machine?",
    "q2": "What was the total revenue in 2024?",
    "q3": "How often does the bus leave the harbour?",
    "q4": "When should tulip bulbs be planted?",
    "q5": "Where are microplastic counts highest?",
}
QRELS = {
    "q1": {"d1": 1},
    "q2": {"d2": 2, "d8": 1},
    "q3": {"d3": 1},
    "q4": {"d4": 1, "d7": 0},
    "q5": {"d5": 1},
}


def write_beir(root: Path, docs=DOCS, queries=QUERIES, qrels=QRELS, split="test") -> Path:
    """A BEIR folder: corpus.jsonl, queries.jsonl (with one query no split judges) and qrels/<split>.tsv."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "corpus.jsonl", "w") as f:
        for doc_id, (title, text) in docs.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w") as f:
        for query_id, text in {**queries, "unjudged": "a query of another split"}.items():
            f.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    with open(root / "qrels" / f"{split}.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for query_id, judged in qrels.items():
            for doc_id, grade in judged.items():
                f.write(f"{query_id}\t{doc_id}\t{grade}\n")
    return root


@pytest.fixture
def beir_dir(tmp_path) -> Path:
    return write_beir(tmp_path / "tiny")


def write_pdf(path: Path, texts) -> Path:
    """A PDF with one page per text, printed large so it has a real text layer."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(420, 595))
    pdf.set_font("Helvetica", size=20)
    for text in texts:
        pdf.add_page()
        pdf.set_xy(30, 50)
        pdf.multi_cell(0, 26, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
