"""The whole recipe: a folder of PDFs in, ``train.jsonl`` and a BEIR ``dev/`` dataset out.

1. read every PDF's text layers and bookmarks (unreadable files are reported and skipped);
2. keep one copy of duplicate documents;
3. mine bookmark and caption pairs (:mod:`.mining`), masking the query in train positives;
4. split whole document groups into train and dev (:mod:`.splits`), dev capped in pages and
   queries, train capped in pairs per document;
5. optionally add hard negatives ranked by a model, among training pages only;
6. optionally mine inverse-cloze pairs from the training documents (``train-ict.jsonl``) and a
   second dev set of section leads from the dev documents (``dev-lead/``, :mod:`.dev_lead`);
7. write ``train.jsonl``, ``dev/`` and ``build_info.json`` (counts, dev documents, skips).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .dev_lead import section_lead_pairs
from .mining import MinedPair, inverse_cloze_pairs, mine_hard_negatives, mine_pairs
from .pdf_text import DocumentText, duplicate_and_related_documents, read_corpus
from .splits import drop_duplicate_documents, split_documents, write_beir_dataset, write_pairs_jsonl

__all__ = ["BuildReport", "build_training_data"]


@dataclass
class BuildReport:
    """What a build read, kept, dropped and wrote."""

    documents: int = 0
    pages: int = 0
    failures: list[str] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)
    found: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    train_documents: int = 0
    train_pages: int = 0
    train_pairs: Counter[str] = field(default_factory=Counter)
    dev_documents: list[str] = field(default_factory=list)
    dev_pages: int = 0
    dev_queries: Counter[str] = field(default_factory=Counter)
    dev_pairs_unused: int = 0
    dev_packages: Counter[str] = field(default_factory=Counter)
    dev_groups: int = 0
    over_document_cap: int = 0
    negatives: int = 0
    ict_pairs: int = 0
    ict_dropped: Counter[str] = field(default_factory=Counter)
    dev_lead_queries: int = 0
    dev_lead_dropped: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {key: dict(v) if isinstance(v, Counter) else v for key, v in vars(self).items()}

    def table(self) -> str:
        """The summary as an aligned two-column text table."""
        packages = ", ".join(f"{name} ({count})" for name, count in sorted(self.dev_packages.items()))
        rows: list[tuple[str, str]] = [
            ("PDF documents read", f"{self.documents} ({self.pages} pages)"),
            ("unreadable PDFs (skipped)", str(len(self.failures))),
            ("duplicate documents (skipped)", str(len(self.duplicates))),
        ]
        for source in sorted(self.found):
            rows.append((f"candidates: {source}", str(self.found[source])))
        for reason, count in self.dropped.most_common():
            rows.append((f"dropped: {reason}", str(count)))
        for source in sorted(self.kept):
            rows.append((f"pairs kept: {source}", str(self.kept[source])))
        rows += [
            ("train documents / pages", f"{self.train_documents} / {self.train_pages}"),
            ("train pairs over the per-document cap", str(self.over_document_cap)),
            ("train pairs", _by_source(self.train_pairs)),
            ("train hard negatives", str(self.negatives)),
            ("dev documents / pages", f"{len(self.dev_documents)} / {self.dev_pages}"),
            ("dev queries", _by_source(self.dev_queries)),
            ("dev pairs over the query cap", str(self.dev_pairs_unused)),
            ("dev packages (documents)", packages),
            ("dev document groups", str(self.dev_groups)),
        ]
        if self.ict_pairs or self.ict_dropped:
            rows.append(("inverse-cloze train pairs", str(self.ict_pairs)))
            rows += [(f"inverse-cloze dropped: {r}", str(c)) for r, c in self.ict_dropped.most_common()]
        if self.dev_lead_queries or self.dev_lead_dropped:
            rows.append(("dev-lead queries", str(self.dev_lead_queries)))
            rows += [(f"dev-lead dropped: {r}", str(c)) for r, c in self.dev_lead_dropped.most_common()]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def _by_source(counts: Counter[str]) -> str:
    parts = ", ".join(f"{source} {count}" for source, count in sorted(counts.items()))
    return f"{sum(counts.values())} ({parts})"


def build_training_data(
    input_dir: str | Path,
    out_dir: str | Path,
    *,
    dev_fraction: float = 0.1,
    seed: int = 0,
    max_dev_pages: int | None = 1500,
    max_dev_queries: int | None = 600,
    max_pairs_per_document: int | None = 600,
    mask_query: bool = True,
    min_page_chars: int = 200,
    group_folders: bool = True,
    hard_negative_model: torch.nn.Module | None = None,
    negatives_per_query: int = 1,
    skip_top: int = 0,
    ict_per_page: int = 0,
    dev_lead: bool = False,
    show_progress_bar: bool = True,
) -> BuildReport:
    """Run the recipe (module docstring) and return its :class:`BuildReport`.

    ``ict_per_page`` > 0 also writes ``train-ict.jsonl``: that many inverse-cloze pairs per training
    page at most, masked like the bookmark pairs. ``dev_lead`` also writes ``dev-lead/``."""
    out = Path(out_dir)
    report = BuildReport()
    documents, report.failures = read_corpus(input_dir, show_progress_bar=show_progress_bar)
    if not documents:
        raise ValueError(f"no readable PDF under {input_dir}" + "".join(f"\n  {f}" for f in report.failures))
    report.documents = len(documents)
    report.pages = sum(d.num_pages for d in documents)
    duplicates, related = duplicate_and_related_documents(documents, show_progress_bar=show_progress_bar)
    kept, report.duplicates = drop_duplicate_documents(documents, duplicates)
    # Relations found on the full set carry over to the copy that was kept.
    position = {d.doc_id: i for i, d in enumerate(kept)}
    kept_index = [position[report.duplicates.get(d.doc_id, d.doc_id)] for d in documents]
    related = [(kept_index[a], kept_index[b]) for a, b in related if kept_index[a] != kept_index[b]]
    documents = kept
    mined = mine_pairs(
        documents, mask_query=mask_query, min_page_chars=min_page_chars, show_progress_bar=show_progress_bar
    )
    report.found, report.dropped, report.kept = mined.found, mined.dropped, mined.kept_by_source()
    split = split_documents(
        documents,
        dev_fraction=dev_fraction,
        max_dev_pages=max_dev_pages,
        seed=seed,
        group_folders=group_folders,
        related=related,
    )
    dev_ids = split.dev_ids
    report.dev_groups = sum(1 for group in split.groups if group[0] in dev_ids)
    train_pairs = [pair for pair in mined.pairs if pair.doc_id not in dev_ids]
    if max_pairs_per_document is not None:
        train_pairs, report.over_document_cap = _cap_per_document(train_pairs, max_pairs_per_document, seed)
    # Dev pairs keep the real text layer: masking is a training device only.
    dev_pairs = [replace(pair, text=None) for pair in mined.pairs if pair.doc_id in dev_ids]
    if max_dev_queries is not None and len(dev_pairs) > max_dev_queries:
        chosen = sorted(random.Random(seed).sample(range(len(dev_pairs)), max_dev_queries))
        report.dev_pairs_unused = len(dev_pairs) - max_dev_queries
        dev_pairs = [dev_pairs[i] for i in chosen]
    if hard_negative_model is not None and train_pairs:
        train_pairs = mine_hard_negatives(
            hard_negative_model,
            train_pairs,
            split.train,
            k=negatives_per_query,
            skip_top=skip_top,
            show_progress_bar=show_progress_bar,
        )
        report.negatives = sum(len(pair.negatives) for pair in train_pairs)
    _fill_split_counts(report, split.train, split.dev, train_pairs, dev_pairs)
    write_pairs_jsonl(train_pairs, out / "train.jsonl")
    write_beir_dataset(split.dev, dev_pairs, out / "dev", split="dev")
    if ict_per_page > 0:
        ict = inverse_cloze_pairs(
            split.train, per_page=ict_per_page, seed=seed, min_page_chars=min_page_chars
        )
        report.ict_pairs, report.ict_dropped = len(ict.pairs), ict.dropped
        write_pairs_jsonl(ict.pairs, out / "train-ict.jsonl")
    if dev_lead:
        leads, report.dev_lead_dropped = section_lead_pairs(
            split.dev, max_queries=max_dev_queries, seed=seed, min_page_chars=min_page_chars)
        report.dev_lead_queries = len(leads)
        texts = {pair.page_id: pair.text for pair in leads if pair.text is not None}
        write_beir_dataset(split.dev, [replace(p, text=None) for p in leads], out / "dev-lead", split="dev",
                           texts=texts)
    with open(out / "build_info.json", "w", encoding="utf-8") as handle:
        json.dump(report.to_json(), handle, indent=1, ensure_ascii=False)
    return report


def _cap_per_document(pairs: list[MinedPair], cap: int, seed: int) -> tuple[list[MinedPair], int]:
    """At most ``cap`` pairs of each document, sampled with ``seed``, in their original order.
    One long manual with a bookmark per macro would otherwise dominate training."""
    rng = random.Random(seed)
    by_document: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        by_document.setdefault(pair.doc_id, []).append(index)
    keep: set[int] = set()
    for indices in by_document.values():
        keep.update(indices if len(indices) <= cap else rng.sample(indices, cap))
    return [pair for index, pair in enumerate(pairs) if index in keep], len(pairs) - len(keep)


def _fill_split_counts(
    report: BuildReport,
    train: list[DocumentText],
    dev: list[DocumentText],
    train_pairs: list[MinedPair],
    dev_pairs: list[MinedPair],
) -> None:
    report.train_documents = len(train)
    report.train_pages = sum(d.num_pages for d in train)
    report.train_pairs = Counter(pair.source for pair in train_pairs)
    report.dev_documents = [d.doc_id for d in dev]
    report.dev_pages = sum(d.num_pages for d in dev)
    report.dev_queries = Counter(pair.source for pair in dev_pairs)
    report.dev_packages = Counter(d.package for d in dev)
