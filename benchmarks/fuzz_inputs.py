"""Fuzzed input harness: index a seeded folder of broken and hostile files in one run.

    OMP_NUM_THREADS=1 python benchmarks/fuzz_inputs.py --seed 0 --mutants 300

The folder (see :mod:`fuzz_corpus`) holds mutants of small PDFs (truncated at random offsets,
flipped bits, scrambled xref tables, noise inside streams), a zero-page and a 10,000-page PDF, a
200 x 200 inch page, PNG/JPEG decompression bombs and a PDF image declaring 60000 x 60000 pixels,
a page that takes the renderer tens of seconds, empty files, a folder named ``x.pdf``, symlink
loops and a dangling link, a FIFO named ``pipe.pdf`` (unreadable: as root, ``chmod 000`` stops no
read, and a FIFO is what blocks a reader for real), and names that are not UTF-8. One
``index_folder`` run with the real bundled model indexes it all, with ``max_pages`` and
``page_timeout`` set as for an untrusted folder. Then every input is checked:

* a good file is indexed, every page, exactly once;
* a bad file is reported failed exactly once, with a cause, and has nothing in the index;
* a mutant is one or the other (indexed whole, or failed once): never missing, never half;
* a folder named ``x.pdf`` is walked as a folder and not reported.

Prints ``inputs tried / batches aborted / files unreported / peak RSS`` and each problem found;
exits 1 if any.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_corpus import Input, make_corpus

from metaembed_rag.documents import doc_id_for

PAGE = os.sysconf("SC_PAGE_SIZE")

# Renderer processes are spawned and re-import this module: torch (the model, the index, the
# pipeline) is imported inside functions, so they stay small.


def page_counts(root: Path, inputs: list[Input]) -> dict[str, int]:
    """How many pages each good input has (what must be in the index)."""
    import pypdfium2 as pdfium

    counts = {}
    for item in inputs:
        if item.expect in ("good", "either") and item.kind != "folder-named-pdf":
            path = os.path.join(os.fsencode(root), item.name)
            if item.name.endswith(b".png"):
                counts[doc_id_for(os.fsdecode(path), root)] = 1
                continue
            try:
                counts[doc_id_for(os.fsdecode(path), root)] = len(pdfium.PdfDocument(os.fsdecode(path)))
            except Exception:
                continue
    return counts


def check(root: Path, inputs: list[Input], report: Any, index: Any) -> tuple[list[str], int]:
    """``(problems, unreported)``: what broke the rules of the module docstring."""
    outcomes = defaultdict(list)
    for outcome in report.files:
        outcomes[outcome.doc_id].append(outcome)
    stored = Counter(page.doc_id for page in index.pages())
    expected = page_counts(root, inputs)
    problems: list[str] = []
    unreported = 0
    known = set()
    for item in inputs:
        doc_id = doc_id_for(os.fsdecode(os.path.join(os.fsencode(root), item.name)), root)
        known.add(doc_id)
        got = outcomes.get(doc_id, [])
        failed = [o for o in got if o.status == "failed"]
        added = [o for o in got if o.status == "added"]
        pages = stored.get(doc_id, 0)
        where = f"{item.kind} {doc_id!r}"
        if item.expect == "ignored":
            if got or pages:
                problems.append(f"{where}: a folder was reported or indexed ({got}, {pages} pages)")
            continue
        if not got:
            unreported += 1
            problems.append(f"{where}: not reported at all")
            continue
        if len(got) != 1:
            problems.append(f"{where}: reported {len(got)} times")
            continue
        if failed:
            if not failed[0].reason:
                problems.append(f"{where}: failed without a cause")
            if pages:
                problems.append(f"{where}: failed but {pages} pages are in the index")
            if item.expect == "good":
                problems.append(f"{where}: a good file failed: {failed[0].reason}")
            continue
        if item.expect == "bad":
            problems.append(f"{where}: a bad file was not reported failed ({got[0].status})")
        elif not added or pages != expected.get(doc_id) or added[0].pages != pages:
            problems.append(f"{where}: {got[0].status} with {got[0].pages} pages, {pages} in the index, "
                            f"{expected.get(doc_id)} in the file")
    strays = sorted(set(outcomes) - known)
    problems += [f"unexpected report for {doc_id!r}: {outcomes[doc_id]}" for doc_id in strays]
    return problems, unreported


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


class RssSampler:
    """Samples, every ``interval`` s, the resident memory of this process plus its live children
    (the renderer processes): the peak total, and the peak of the largest child."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_total = self.peak_child = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.interval):
            children = [_rss_mib(c) for c in _children(me)]
            self.peak_total = max(self.peak_total, _rss_mib(me) + sum(children))
            self.peak_child = max([self.peak_child, *children])

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_total = max(self.peak_total, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run(workdir: Path, args: argparse.Namespace) -> int:
    from metaembed_rag.index import PageIndex
    from metaembed_rag.model.defaults import load_model
    from metaembed_rag.pipeline import IngestReport, index_folder

    started = time.perf_counter()
    root = workdir / "corpus"
    inputs = make_corpus(root, seed=args.seed, mutants=args.mutants, big_pages=args.big_pages)
    made = time.perf_counter() - started
    model = load_model()
    aborted = 0
    report = IngestReport()
    index = PageIndex.create(workdir / "index", fingerprint=model)
    rss = RssSampler()
    try:
        with rss:
            report = index_folder(root, index, model, max_pages=args.max_pages,
                                  page_timeout=args.page_timeout, workers=args.workers,
                                  show_progress_bar=False)
    except Exception as error:  # the one thing that must never happen
        aborted = 1
        print(f"BATCH ABORTED: {type(error).__name__}: {error}")
    problems, unreported = check(root, inputs, report, index)
    index.close()
    kinds = Counter(o.reason.split(": ", 1)[1][:40] for o in report.failed if o.reason and ": " in o.reason)
    if args.verbose:
        print(report.summary())
    print(f"seed {args.seed}: {len(inputs)} inputs ({Counter(i.expect for i in inputs)}), corpus made in "
          f"{made:.1f}s, indexed in {report.seconds:.1f}s: {report.pages_added} pages, {len(report.failed)} "
          f"files failed")
    print("most common causes: " + "; ".join(f"{n}x {k}" for k, n in kinds.most_common(6)))
    for problem in problems:
        print("  PROBLEM " + problem)
    print(f"inputs tried {len(inputs)} / batches aborted {aborted} / files unreported {unreported} / "
          f"peak RSS {rss.peak_total:.0f} MiB (this process + renderers; largest renderer "
          f"{rss.peak_child:.0f} MiB)")
    return 1 if aborted or problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mutants", type=int, default=300, help="mutated PDFs (besides the fixed cases)")
    parser.add_argument("--big-pages", type=int, default=10_000, help="pages of the very long PDF")
    parser.add_argument("--max-pages", type=int, default=1000, help="index_folder(max_pages=...)")
    parser.add_argument("--page-timeout", type=float, default=3.0, help="index_folder(page_timeout=...)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="kept; default a temporary folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the ingestion summary")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run(args.workdir, args)
    with tempfile.TemporaryDirectory(prefix="metaembed-fuzz-") as tmp:
        return run(Path(tmp), args)


if __name__ == "__main__":
    sys.exit(main())
