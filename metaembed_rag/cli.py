"""The ``metaembed-rag`` command line: ``index``, ``search``, ``eval``, ``info`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "parse_filter"]

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DEMO_BUDGETS = ("1,1", "2,4", "4,8", "8,16", "16,64")  # the paper's ladder


def _load_model(reference: str | None) -> tuple[Any, str]:
    """The model and the reference recorded in an index so ``search`` can find it again."""
    from .model.defaults import default_model_reference, load_model

    reference = reference or default_model_reference()
    if Path(reference).is_dir():
        reference = str(Path(reference).resolve())
    return load_model(reference), reference


def _create_or_open(path: Path, model: Any, reference: str, dtype: str = "bf16") -> Any:
    from .index import PageIndex

    if PageIndex.exists(path):  # not "non-empty": a killed creation leaves files but no index
        return PageIndex.open(path, model.fingerprint())
    return PageIndex.create(path, fingerprint=model.fingerprint() | {"model": reference}, dtype=dtype)


def parse_filter(expressions: Sequence[str]) -> dict[str, Any] | None:
    """``page>=2``, ``doc_id=a.pdf``, ``doc_id=a.pdf,b.pdf`` (in), ``source^=docs/`` (prefix)."""
    conditions: dict[str, dict[str, Any]] = {}
    for text in expressions:
        key, op, raw = _split_filter(text)
        values = [_value(v) for v in raw.split(",")] if op == "eq" and "," in raw else None
        condition = {"in": values} if values else {op: raw if op == "prefix" else _value(raw)}
        conditions.setdefault(key.strip(), {}).update(condition)
    return conditions or None


_FILTER_TOKENS = (("^=", "prefix"), (">=", "gte"), ("<=", "lte"), ("!=", "ne"), (">", "gt"), ("<", "lt"),
                  ("=", "eq"))


def _split_filter(text: str) -> tuple[str, str, str]:
    for token, op in _FILTER_TOKENS:
        key, sep, raw = text.partition(token)
        if sep and key.strip():
            return key, op, raw
    raise ValueError(f"cannot read filter {text!r}: write key=value, key>=n, key<n or key^=prefix")


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _index(args: argparse.Namespace) -> int:
    from .pipeline import index_folder

    model, reference = _load_model(args.model)
    print(f"model: {reference}", file=sys.stderr)
    path = Path(args.index)
    globs = {"include": args.include, "exclude": args.exclude}
    with _create_or_open(path, model, reference, args.dtype) as index:
        report = index_folder(args.folder, index, model, renderer=args.renderer, dpi=args.dpi,
                              password=args.password, sync=args.sync, batch_size=args.batch_size,
                              commit_every=args.commit_every, show_progress_bar=not args.quiet,
                              **{k: v for k, v in globs.items() if v})
        print(report.summary())
        print(f"index: {path} ({len(index)} pages, {index.stats().bytes_on_disk / 2**20:.1f} MiB on disk)")
    return 1 if report.failed and not any(f.status != "failed" for f in report.files) else 0


def _search(args: argparse.Namespace) -> int:
    from .budget import Budget
    from .index import PageIndex

    with PageIndex.open(args.index, read_only=True) as probe:
        recorded = probe.fingerprint()
    # Check the budget before loading a model: a typo should fail in milliseconds.
    Budget.parse(args.budget).validate(recorded["num_query_tokens"], recorded["num_candidate_tokens"])
    recorded = recorded.get("model")
    model, _ = _load_model(args.model or recorded)
    with PageIndex.open(args.index, model.fingerprint(), read_only=True) as index:
        started = time.perf_counter()
        if args.hybrid:
            from .hybrid import hybrid_search

            hits = hybrid_search(index, model, args.query, budget=args.budget, k=args.k, fusion=args.hybrid,
                                 filter=parse_filter(args.filter), alpha=args.alpha)
            encoded = started
        else:
            query = model.encode_queries([args.query], budget=args.budget)
            encoded = time.perf_counter()
            hits = index.search(query[0], budget=args.budget, k=args.k, filter=parse_filter(args.filter))
        done = time.perf_counter()
    if args.json:
        print(json.dumps([{"rank": h.rank, "score": h.score, "page_id": h.page_id,
                           "source": h.metadata.get("source"), "page": h.metadata.get("page")}
                          for h in hits], indent=2))
        return 0
    if args.hybrid:
        print(f"hybrid ({args.hybrid}) search with BM25 in {1e3 * (done - started):.0f} ms")
    else:
        print(f"query encoded in {1e3 * (encoded - started):.0f} ms, "
              f"searched in {1e3 * (done - encoded):.1f} ms")
    for hit in hits:
        meta = hit.metadata
        print(f"{hit.rank:>3}  {hit.score:7.3f}  {meta.get('source')}  page {meta.get('page')}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from .index import PageIndex

    with PageIndex.open(args.index, read_only=True) as index:
        stats = index.stats()
        print(f"index:   {args.index}")
        print(f"model:   {json.dumps(index.fingerprint())}")
        print(f"pages:   {stats.pages} in {stats.segments} segments ({stats.dead_rows} deleted rows)")
        print(f"storage: {stats.dtype}, {stats.bytes_on_disk / 2**20:.2f} MiB on disk")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import tempfile

    from .pipeline import index_folder

    folder = Path(args.folder)
    queries = [json.loads(line) for line in (SAMPLES / "queries.jsonl").read_text().splitlines()][:: 9]
    model, reference = _load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp, _create_or_open(Path(tmp) / "idx", model, reference) as index:
        report = index_folder(folder, index, model, show_progress_bar=not args.quiet)
        print(report.summary())
        stats = index.stats()
        print(f"index: {stats.pages} pages, {stats.vector_bytes / 2**20:.2f} MiB of {stats.dtype} vectors, "
              f"{stats.bytes_on_disk / 2**20:.2f} MiB on disk\n")
        hits_at_1 = {b: 0 for b in DEMO_BUDGETS}
        for item in queries:
            vectors = model.encode_queries([item["query"]])[0]
            print(f"Q: {item['query']}   (answer: {item['file']} p.{item['page']})")
            for budget in DEMO_BUDGETS:
                started = time.perf_counter()
                hits = index.search(vectors, budget=budget, k=3)
                ms = 1e3 * (time.perf_counter() - started)
                top = hits[0]
                where = (Path(top.metadata["source"]).name, top.metadata["page"])
                found = where == (item["file"], item["page"])
                hits_at_1[budget] += found
                shown = "; ".join(
                    f"{Path(h.metadata['source']).name} p.{h.metadata['page']} ({h.score:.2f})" for h in hits
                )
                print(f"  {budget:>6}  {ms:5.1f} ms  {'✓' if found else '✗'}  {shown}")
        print("\nhit@1 by budget: " + ", ".join(f"{b}: {n}/{len(queries)}" for b, n in hits_at_1.items()))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metaembed-rag", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    model_help = "MetaEmbed model folder or bundled name (default: the packaged default model)"

    index = commands.add_parser("index", help="index a folder of PDFs and images")
    index.add_argument("folder")
    index.add_argument("--index", required=True, help="index folder (created if missing)")
    index.add_argument("--model", help=model_help)
    index.add_argument("--renderer", choices=("pdfium", "poppler"), default="pdfium")
    index.add_argument("--dpi", type=float, default=144.0)
    index.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32", "int8", "1bit"))
    index.add_argument("--password", help="password for encrypted PDFs")
    index.add_argument("--include", action="append", help="glob of files to take (repeatable)")
    index.add_argument("--exclude", action="append", help="glob of files to leave out (repeatable)")
    index.add_argument("--sync", action="store_true", help="delete pages of files no longer in the folder")
    index.add_argument("--batch-size", type=int, default=16)
    index.add_argument("--commit-every", type=int, default=64, help="pages per atomic commit")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.set_defaults(run=_index)

    search = commands.add_parser("search", help="search an index")
    search.add_argument("index")
    search.add_argument("query")
    search.add_argument("--budget", default="16,64", help="r_q,r_c (default: full 16,64)")
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--filter", action="append", default=[], help="key=value, key>=n, key^=prefix")
    search.add_argument("--model", help="override the model recorded in the index")
    search.add_argument("--json", action="store_true")
    search.add_argument("--hybrid", choices=("rrf", "score"), help="fuse with BM25 over the page text")
    search.add_argument("--alpha", type=float, default=0.5, help="MetaEmbed weight of --hybrid score")
    search.set_defaults(run=_search)

    from .evaluation.cli import add_parser as add_eval_parser

    add_eval_parser(commands)

    info = commands.add_parser("info", help="describe an index")
    info.add_argument("index")
    info.set_defaults(run=_info)

    demo = commands.add_parser("demo", help="index the bundled sample PDFs and run sample queries")
    demo.add_argument("--folder", default=str(SAMPLES / "pdfs"))
    demo.add_argument("--model", help=model_help)
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(run=_demo)

    from .training.cli import add_parser as add_train_parser
    add_train_parser(commands)

    from .app.cli import add_parser as add_chat_parser  # argparse only; the app loads when `chat` runs
    add_chat_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        print("metaembed-rag: interrupted; committed pages are kept, rerun to resume", file=sys.stderr)
        return 130
    except Exception as error:  # one clear line; --verbose for the traceback
        if args.verbose:
            raise
        print(f"metaembed-rag: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
