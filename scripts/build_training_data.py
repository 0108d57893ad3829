"""Mine training pairs and a dev set from a folder of PDFs (the recipe of our shipped text model).

    scripts/fetch_debian_docs.sh                             # PDFs into data/debian-docs
    python scripts/build_training_data.py data/debian-docs --out data/minilm
    python scripts/build_training_data.py data/debian-docs --out data/minilm-hn \\
        --hard-negatives runs/minilm/final                   # add one model-ranked negative each
    python scripts/build_training_data.py data/debian-docs --out data/minilm-v2 \\
        --ict-per-page 2 --dev-lead                          # + inverse-cloze pairs, 2nd dev set

Writes ``OUT/train.jsonl`` (pairs for ``metaembed_rag.training.load_pairs``; positives' text
layers have the query masked unless ``--no-mask``), ``OUT/dev/`` (a BEIR-style dataset of whole
held-out documents: corpus.jsonl, queries.jsonl, qrels/dev.tsv) and ``OUT/build_info.json``, and
prints a summary table. ``--ict-per-page N`` adds ``OUT/train-ict.jsonl`` (inverse-cloze pairs
from training pages); ``--dev-lead`` adds ``OUT/dev-lead/``, a dev set of section-lead sentences
removed from their pages (queries that do not quote the page). See
``metaembed_rag/training/build.py`` for the steps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # use this checkout's package

from metaembed_rag.training.build import build_training_data


def load_model(spec: str, device: str | None):
    """A saved or bundled model (``MetaEmbed.from_pretrained``), or ``backbone:NAME`` for a fresh
    one around a backbone (untrained meta tokens: only useful for trying the pipeline)."""
    from metaembed_rag import MetaEmbed

    if spec.startswith("backbone:"):
        model = MetaEmbed.from_backbone(spec.removeprefix("backbone:"), projection_dim=64)
    else:
        model = MetaEmbed.from_pretrained(spec)
    return model.to(device) if device else model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", type=Path, help="folder searched recursively for *.pdf")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--dev-fraction", type=float, default=0.1, help="dev share of all pages (0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the document split and query sample")
    parser.add_argument("--max-dev-pages", type=int, default=1500, help="dev corpus page cap (1500)")
    parser.add_argument("--max-dev-queries", type=int, default=600, help="dev query cap (600)")
    parser.add_argument(
        "--max-pairs-per-document", type=int, default=600, help="train pair cap per document, 0: none (600)"
    )
    parser.add_argument("--no-mask", action="store_true", help="keep the query text in train positives")
    parser.add_argument("--min-page-chars", type=int, default=200, help="drop positives with less text")
    parser.add_argument(
        "--no-folder-groups", action="store_true",
        help="split documents of one folder independently (default: a folder is one group)",
    )
    parser.add_argument("--hard-negatives", metavar="MODEL", help="model path/name, or backbone:NAME")
    parser.add_argument("--negatives-per-query", type=int, default=1)
    parser.add_argument("--skip-top", type=int, default=0, help="ranked candidates skipped before negatives")
    parser.add_argument("--device", help="device for --hard-negatives (e.g. cuda)")
    parser.add_argument("--ict-per-page", type=int, default=0,
                        help="inverse-cloze pairs per training page into OUT/train-ict.jsonl (0: none)")
    parser.add_argument("--dev-lead", action="store_true",
                        help="also write OUT/dev-lead/: section-lead queries removed from their pages")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.input.is_dir():
        parser.error(f"{args.input} is not a folder")
    model = load_model(args.hard_negatives, args.device) if args.hard_negatives else None
    report = build_training_data(
        args.input,
        args.out,
        dev_fraction=args.dev_fraction,
        seed=args.seed,
        max_dev_pages=args.max_dev_pages,
        max_dev_queries=args.max_dev_queries,
        max_pairs_per_document=args.max_pairs_per_document or None,
        mask_query=not args.no_mask,
        min_page_chars=args.min_page_chars,
        group_folders=not args.no_folder_groups,
        hard_negative_model=model,
        negatives_per_query=args.negatives_per_query,
        skip_top=args.skip_top,
        ict_per_page=args.ict_per_page,
        dev_lead=args.dev_lead,
        show_progress_bar=not args.quiet,
    )
    for failure in report.failures:
        print(f"skipped: {failure}", file=sys.stderr)
    print(report.table())
    print(f"wrote {args.out / 'train.jsonl'}, {args.out / 'dev'}/, {args.out / 'build_info.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
