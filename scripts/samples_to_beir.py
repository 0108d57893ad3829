"""Turn the bundled samples (samples/pdfs + samples/queries.jsonl) into a BEIR-style dataset folder.

    python scripts/samples_to_beir.py /tmp/samples-beir
    metaembed-rag eval --dataset /tmp/samples-beir --model minilm-untrained --hybrid rrf

The corpus has one row per PDF page, ``{"_id": "<file>:<page>", "pdf": <path>, "page": <n>}``, so
the loader reads each page's text layer (or renders it for an image model). The id matches the
indexing pipeline's page ids. ``queries.jsonl`` keeps each sample's id and question; the qrels
(``qrels/test.tsv``) give the one answering page grade 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pypdfium2 as pdfium

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def convert(out: Path, samples: Path = SAMPLES) -> Path:
    """Write ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` under ``out``; return ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    pdfs = sorted((samples / "pdfs").glob("*.pdf"))
    if not pdfs:
        raise FileNotFoundError(f"no PDFs in {samples / 'pdfs'}")
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as corpus:
        for pdf in pdfs:
            document = pdfium.PdfDocument(str(pdf))
            try:
                pages = len(document)
            finally:
                document.close()
            relative = os.path.relpath(pdf.resolve(), out.resolve())  # the folder stays movable with the repo
            for page in range(1, pages + 1):
                corpus.write(json.dumps({"_id": f"{pdf.name}:{page}", "pdf": relative, "page": page}) + "\n")
    samples_rows = [json.loads(line) for line in (samples / "queries.jsonl").read_text().splitlines() if line]
    with open(out / "queries.jsonl", "w", encoding="utf-8") as queries:
        for row in samples_rows:
            queries.write(json.dumps({"_id": row["id"], "text": row["query"]}) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for row in samples_rows:
            qrels.write(f"{row['id']}\t{row['file']}:{row['page']}\t1\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="dataset folder to write")
    parser.add_argument(
        "--samples", type=Path, default=SAMPLES, help="samples folder (pdfs/ and queries.jsonl)"
    )
    args = parser.parse_args(argv)
    print(f"wrote {convert(args.out, args.samples)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
