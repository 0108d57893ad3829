"""Generate the sample corpus: a few small, varied PDFs plus demo queries with known answers.

    python scripts/make_samples.py                 # writes samples/pdfs/*.pdf and samples/queries.jsonl
    python scripts/make_samples.py --out /tmp/s    # somewhere else

The PDFs are drawn with fpdf2 (a ``dev`` extra) and are byte-identical from run to run with the
same fpdf2 version. Each query in ``queries.jsonl`` names the file and the 1-based page that
answers it, and an ``answer`` string printed on that page, so a demo or an evaluation can check
retrieval without a human in the loop.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # make `samplegen` importable from anywhere

from samplegen import DOCUMENTS

REPO = Path(__file__).resolve().parent.parent


def make_samples(out: Path) -> list[Path]:
    """Write every sample PDF into ``out/pdfs`` and the queries into ``out/queries.jsonl``."""
    pdf_dir = out / "pdfs"
    pdf_dir.mkdir(parents=True, exist_ok=True)
    written, queries = [], []
    for module in DOCUMENTS:
        document = module.build()
        written.append(document.save(pdf_dir))
        queries.extend(document.queries)
    with open(out / "queries.jsonl", "w", encoding="utf-8") as handle:
        for number, query in enumerate(queries, 1):
            record = {"id": f"q{number:02d}", "query": query.query, "file": query.file, "page": query.page}
            record["answer"] = query.answer
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "samples", help="output folder (default: samples/)"
    )
    args = parser.parse_args(argv)
    paths = make_samples(args.out)
    total = sum(p.stat().st_size for p in paths)
    for path in paths:
        print(f"{path.stat().st_size / 1024:8.1f} KiB  {path}")
    print(f"{len(paths)} PDFs, {total / 1024:.1f} KiB in total")


if __name__ == "__main__":
    main()
