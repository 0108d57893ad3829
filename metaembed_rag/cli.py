"""The ``metaembed-rag`` command line: ``index``, ``search``, ``info``, ``eval``, ``train``, ``demo``
and ``chat``.

Exit codes: 0 success; 1 error (one line on stderr; ``--verbose`` for the traceback), including a
folder with nothing to index; 2 a command line argparse cannot read; 3 ``index`` partly failed
(some files could not be read: they are listed, the rest is indexed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .argtypes import positive_int

__all__ = ["EXIT_ERROR", "EXIT_PARTIAL", "EXIT_USAGE", "main", "parse_filter"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

# This module only builds the parser: everything heavy (torch, transformers, the index) is imported
# by the command that runs, in metaembed_rag.commands, so --help, info and typos answer at once.
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MODEL_HELP = "MetaEmbed model folder or bundled name (default: the packaged metaembed-minilm)"
THREADS_HELP = "torch threads (default: {})"
DESCRIPTION = "MetaEmbed multi-vector retrieval over PDF pages: index, search, info, eval, train, demo, chat."
EPILOG = (
    "exit codes: 0 ok, 1 error, 2 bad command line, 3 some files failed to index, 130 interrupted"
)


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
    raise ValueError(f"--filter {text!r}: write key=value, key>=n, key<n or key^=prefix")


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _run(name: str) -> Callable[[argparse.Namespace], int]:
    """The ``run_<name>`` function of :mod:`metaembed_rag.commands`, imported when it runs."""

    def run(args: argparse.Namespace) -> int:
        from . import commands

        return int(getattr(commands, f"run_{name}")(args))

    return run


def _add_index(commands: Any) -> None:

    index = commands.add_parser("index", help="index a folder of PDFs and images (or one PDF)",
                                epilog=EPILOG)
    index.add_argument("folder", help="folder of PDFs and images, or one PDF file")
    index.add_argument("--index", required=True, help="index folder (created if missing)")
    index.add_argument("--model", help=MODEL_HELP + "; an existing index keeps the model it was built with")
    index.add_argument("--renderer", choices=("pdfium", "poppler"), default="pdfium")
    index.add_argument("--dpi", type=float, default=144.0)
    index.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32", "int8", "1bit"))
    index.add_argument("--password", help="password for encrypted PDFs")
    index.add_argument("--include", action="append", help="glob of files to take (repeatable)")
    index.add_argument("--exclude", action="append", help="glob of files to leave out (repeatable)")
    index.add_argument("--sync", action="store_true", help="delete pages of files no longer in the folder")
    index.add_argument("--batch-size", type=positive_int, default=16)
    index.add_argument("--commit-every", type=positive_int, default=64, help="pages per atomic commit")
    index.add_argument("--threads", type=positive_int, help=THREADS_HELP.format("one per two cores, 1 to 8"))
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.set_defaults(run=_run("index"))


def _add_search(commands: Any) -> None:

    search = commands.add_parser("search", help="search an index", epilog=EPILOG)
    search.add_argument("index")
    search.add_argument("query")
    search.add_argument("--budget", default="16,64", help="r_q,r_c (default: full 16,64)")
    search.add_argument("-k", type=positive_int, default=5, help="pages to return (default 5)")
    search.add_argument("--filter", action="append", default=[],
                        help="key=value, key>=n, key!=v, key=a,b (any of), key^=prefix (repeatable)")
    search.add_argument("--model", help="override the model recorded in the index (a folder or bundled name)")
    search.add_argument("--json", action="store_true",
                        help="print hits as JSON: score, source, page, page text and stored image path")
    search.add_argument("--text", action="store_true", help="print each hit's page text")
    search.add_argument("--hybrid", choices=("rrf", "score"), help="fuse with BM25 over the page text")
    search.add_argument("--alpha", type=float,
                        help="MetaEmbed weight of --hybrid score (default: the model's fitted one, else 0.5)")
    search.add_argument("--threads", type=positive_int, help=THREADS_HELP.format("1: one query is too small "
                                                                               "a job to split"))
    search.set_defaults(run=_run("search"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metaembed-rag", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--verbose", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_index(commands)
    _add_search(commands)

    from .evaluation.cli import add_parser as add_eval_parser  # argparse only: no torch

    add_eval_parser(commands)

    info = commands.add_parser("info", help="describe an index (reads it without loading a model)")
    info.add_argument("index")
    info.set_defaults(run=_run("info"))

    demo = commands.add_parser("demo", help="index the bundled sample PDFs and run sample queries")
    demo.add_argument("--folder", default=str(SAMPLES / "pdfs"))
    demo.add_argument("--model", help=MODEL_HELP)
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(run=_run("demo"))

    from .training.cli import add_parser as add_train_parser  # argparse only: no torch

    add_train_parser(commands)

    from .app.cli import add_parser as add_chat_parser  # argparse only; the app loads when `chat` runs

    add_chat_parser(commands)
    return parser


#: Options whose value may start with "-" (a negative number): argparse would take it for an option.
_SIGNED_VALUE_OPTIONS = ("--budget", "--budgets")
_SIGNED = re.compile(r"-[\d.(]")


def _join_signed_values(argv: Sequence[str]) -> list[str]:
    """``--budget -1,2`` -> ``--budget=-1,2``, so the budget check, not argparse, answers it."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if items[i] in _SIGNED_VALUE_OPTIONS and i + 1 < len(items) and _SIGNED.match(items[i + 1]):
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
        else:
            out.append(items[i])
            i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_join_signed_values(sys.argv[1:] if argv is None else argv))
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        print("metaembed-rag: interrupted; committed pages are kept, rerun to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # one clear line; --verbose for the traceback
        if args.verbose:
            raise
        print(f"metaembed-rag: error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
