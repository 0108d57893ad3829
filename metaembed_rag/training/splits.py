"""Whole-document train/dev splits of a PDF corpus, and writers for mined pairs.

No dev document, and nothing close to one, may be seen in training, so the split is made over
*groups* of documents that are never separated:

* copies of one document (the same book in A4 and Letter) are reduced to one, the others are
  left out of both sides (:func:`drop_duplicate_documents`), or every title in them would be
  ambiguous and a copy in training would leak the dev answers;
* documents in one folder, with its subfolders, form a group (a package's manual, its source
  documentation and its examples), except files lying directly in the corpus folder;
* documents that contain most of another's text (a successor package's examples) are grouped.

Dev groups are drawn at random (seeded) in turns from each package (the first folder under the
corpus root, below any ``usr/share/doc``), so several packages are represented, until the dev
page budget is spent; a group larger than the remaining budget stays in training.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .mining import MinedPair
from .pdf_text import DocumentText, duplicate_and_related_documents

__all__ = [
    "DocumentSplit",
    "drop_duplicate_documents",
    "split_documents",
    "write_beir_dataset",
    "write_pairs_jsonl",
]


def drop_duplicate_documents(
    documents: Sequence[DocumentText], duplicates: Sequence[tuple[int, int]]
) -> tuple[list[DocumentText], dict[str, str]]:
    """Keep one document of each set of duplicates: the one with most bookmarks, then the
    first by ``doc_id``. Returns the kept documents (in input order) and ``{dropped: kept}``."""
    parent = list(range(len(documents)))
    for a, b in duplicates:
        parent[_find(parent, a)] = _find(parent, b)
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(documents)):
        members[_find(parent, index)].append(index)
    dropped: dict[str, str] = {}
    keep: set[int] = set()
    for group in members.values():
        best = min(group, key=lambda i: (-len(documents[i].bookmarks), documents[i].doc_id))
        keep.add(best)
        dropped.update({documents[i].doc_id: documents[best].doc_id for i in group if i != best})
    return [d for i, d in enumerate(documents) if i in keep], dropped


def _find(parent: list[int], index: int) -> int:
    while parent[index] != index:
        parent[index] = parent[parent[index]]
        index = parent[index]
    return index


@dataclass
class DocumentSplit:
    """The documents on each side and the groups they were drawn in (lists of doc_ids)."""

    train: list[DocumentText]
    dev: list[DocumentText]
    groups: list[list[str]] = field(default_factory=list)

    @property
    def dev_ids(self) -> set[str]:
        return {d.doc_id for d in self.dev}


def document_groups(
    documents: Sequence[DocumentText], related: Sequence[tuple[int, int]] = (), *, group_folders: bool = True
) -> list[list[int]]:
    """Indices of ``documents`` that must stay on one side of a split (module docstring)."""
    parent = list(range(len(documents)))
    folders = [PurePosixPath(d.doc_id).parent for d in documents]
    if group_folders:
        holding = {f for f in folders if f != PurePosixPath(".")}
        first_in_unit: dict[PurePosixPath, int] = {}
        for index, folder in enumerate(folders):
            if folder == PurePosixPath("."):
                continue
            # The topmost folder above this one that holds documents itself names the group.
            unit = next(a for a in [*reversed(folder.parents), folder] if a in holding)
            if unit in first_in_unit:
                parent[_find(parent, index)] = _find(parent, first_in_unit[unit])
            else:
                first_in_unit[unit] = index
    for a, b in related:
        parent[_find(parent, a)] = _find(parent, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for index in range(len(documents)):
        groups[_find(parent, index)].append(index)
    return sorted(groups.values())


def split_documents(
    documents: Sequence[DocumentText],
    *,
    dev_fraction: float = 0.1,
    max_dev_pages: int | None = 1500,
    max_group_share: float = 1 / 3,
    seed: int = 0,
    group_folders: bool = True,
    related: Sequence[tuple[int, int]] | None = None,
) -> DocumentSplit:
    """Split whole document groups into train and dev (deterministic for a given ``seed``).

    The dev side gets at most ``dev_fraction`` of all pages and at most ``max_dev_pages``; no
    group may take more than ``max_group_share`` of that budget, so that dev is made of several
    groups rather than one long book.
    ``related`` pairs of indices are kept together; by default they are computed with
    :func:`~.pdf_text.duplicate_and_related_documents` (duplicates should have been dropped).
    """
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    if related is None:
        duplicates, related = duplicate_and_related_documents(documents)
        related = [*duplicates, *related]
    groups = document_groups(documents, related, group_folders=group_folders)
    total = sum(d.num_pages for d in documents)
    budget = int(dev_fraction * total)
    if max_dev_pages is not None:
        budget = min(budget, max_dev_pages)
    by_package: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for group in groups:
        by_package[documents[group[0]].package].append(tuple(group))
    sizes = {tuple(g): sum(documents[i].num_pages for i in g) for g in groups}
    dev = _draw(by_package, sizes, budget, max(1, int(max_group_share * budget)), seed)
    if not dev:  # a small corpus: no group fits the share, so let one group take the budget
        dev = _draw(by_package, sizes, budget, budget, seed)
    return DocumentSplit(
        train=[d for i, d in enumerate(documents) if i not in dev],
        dev=[d for i, d in enumerate(documents) if i in dev],
        groups=[[documents[i].doc_id for i in group] for group in groups],
    )


def _draw(
    by_package: dict[str, list[tuple[int, ...]]],
    sizes: dict[tuple[int, ...], int],
    budget: int,
    largest: int,
    seed: int,
) -> set[int]:
    """Groups drawn at random in turns from each package while they fit the page budget."""
    rng = random.Random(seed)
    queues = [list(by_package[name]) for name in sorted(by_package)]
    rng.shuffle(queues)
    for queue in queues:
        rng.shuffle(queue)
    dev: set[int] = set()
    while budget > 0 and any(queues):
        for queue in queues:
            # The next group of this package that still fits; larger ones stay in training.
            while queue:
                group = queue.pop()
                pages = sizes[group]
                if pages <= min(budget, largest):
                    dev.update(group)
                    budget -= pages
                    break
    return dev


def _item(pdf: str, page: int, text: str | None = None) -> dict[str, object]:
    item: dict[str, object] = {"pdf": pdf, "page": page}
    if text is not None and text.strip():
        item["text"] = text
    return item


def write_pairs_jsonl(pairs: Sequence[MinedPair], path: str | Path) -> Path:
    """Write pairs in the format of :func:`~.data.load_pairs` (absolute PDF paths; a masked text
    layer, when mined with masking, as the positive's ``"text"``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for pair in pairs:
            row: dict[str, object] = {"query": pair.query, "positive": _item(pair.pdf, pair.page, pair.text)}
            if pair.negatives:
                row["negatives"] = [_item(pdf, page) for pdf, page in pair.negatives]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_beir_dataset(
    documents: Sequence[DocumentText],
    pairs: Sequence[MinedPair],
    folder: str | Path,
    split: str = "dev",
    *,
    texts: Mapping[str, str] | None = None,
) -> Path:
    """Write a BEIR-style dataset: ``corpus.jsonl`` with every page of ``documents``
    (``{"_id": "<doc_id>:<page>", "pdf", "page", "text"}``, the unmasked text layer, left out
    when the page has none), ``queries.jsonl`` (``{"_id", "text", "metadata": {"source"}}``)
    and ``qrels/<split>.tsv``. Every pair's page must be in ``documents``. ``texts`` replaces the
    text of the pages it names (page id -> text), e.g. pages with their query removed."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    page_ids: set[str] = set()
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for document in documents:
            for number, text in enumerate(document.pages, start=1):
                page_id = f"{document.doc_id}:{number}"
                text = (texts or {}).get(page_id, text)
                row: dict[str, object] = {"_id": page_id, **_item(document.path, number, text)}
                page_ids.add(page_id)
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    missing = [pair.page_id for pair in pairs if pair.page_id not in page_ids]
    if missing:
        raise ValueError(f"{len(missing)} pair(s) point at pages outside the corpus, e.g. {missing[0]}")
    with (
        open(folder / "queries.jsonl", "w", encoding="utf-8") as queries,
        open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as qrels,
    ):
        qrels.write("query-id\tcorpus-id\tscore\n")
        for number, pair in enumerate(pairs, start=1):
            query_id = f"q{number}"
            row = {"_id": query_id, "text": pair.query, "metadata": {"source": pair.source}}
            queries.write(json.dumps(row, ensure_ascii=False) + "\n")
            qrels.write(f"{query_id}\t{pair.page_id}\t1\n")
    return folder
