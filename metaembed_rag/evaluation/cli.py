"""``metaembed-rag eval``: the budget sweep, baselines and hybrids on a local BEIR/ViDoRe dataset.

    metaembed-rag eval --dataset data/scifact --split test --model runs/minilm-mmr \\
        --budgets ladder --baselines bm25,minilm --hybrid rrf --out reports/scifact --cache ~/.cache/me
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..argtypes import positive_int
from ..threads import index_threads, use_threads

__all__ = ["add_parser", "run"]

_DTYPES = ("fp32", "bf16", "fp16")


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = (
        [] if text.strip().lower() == "none" else [n.strip().lower() for n in text.split(",") if n.strip()]
    )
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}: choose from {', '.join(allowed)} or 'none'")
    return names


def _alpha(text: str) -> float | str:
    if text.strip().lower() == "fit":
        return "fit"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1] or 'fit', got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"the weight must be in [0, 1], got {value}")
    return value


def add_parser(subparsers: Any) -> None:
    """Register the ``eval`` subcommand."""
    parser = subparsers.add_parser(
        "eval", help="evaluate MetaEmbed at every budget against BM25/MiniLM baselines and hybrids",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--dataset", required=True, help="folder with corpus, queries and qrels/<split>")
    parser.add_argument("--split", default=None, help="qrels split (default: the only one, else 'test')")
    parser.add_argument(
        "--model",
        help="saved model folder, bundled name or 'minilm-untrained' "
        "(default: the packaged default model); 'none' evaluates baselines only",
    )
    parser.add_argument(
        "--budgets", default="ladder", help="'ladder' or 'r_q,r_c;r_q,r_c', e.g. '1,1;4,8;16,64'"
    )
    parser.add_argument(
        "--baselines", default="bm25,minilm", help="comma list of bm25, minilm, chunked-minilm, or 'none'"
    )
    parser.add_argument("--hybrid", default="none", help="comma list of rrf, score, or 'none'")
    parser.add_argument(
        "--alpha",
        type=_alpha,
        default=None,
        help="MetaEmbed weight of score fusion in [0, 1], or 'fit' to fit it on this "
        "dataset (default: the model's fitted weight, else 0.5)",
    )
    parser.add_argument("--out", help="folder for report.json, report.png and runs/*.trec")
    parser.add_argument("--cache", help="folder caching encoded corpus vectors per model and dataset")
    parser.add_argument("--batch-size", type=int, default=8, help="documents per encoder batch")
    parser.add_argument("--max-queries", type=int, help="evaluate only the first N queries")
    parser.add_argument("--depth", type=int, default=100, help="documents kept per query in runs")
    parser.add_argument("--latency-queries", type=int, default=50, help="queries timed per budget")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument("--score-dtype", choices=_DTYPES, default="fp32", help="vector dtype when scoring")
    parser.add_argument("--max-length", type=int, help="text backbones: positions per document window")
    parser.add_argument("--windows", type=int, help="split long documents into up to N averaged windows")
    parser.add_argument(
        "--threads", type=positive_int, help="torch threads (default: one per two cores, 1 to 8)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def _document_options(model: Any, args: argparse.Namespace) -> str:
    """Apply --max-length and --windows to ``model``; describe them for the report."""
    described = []
    if args.max_length is not None:
        adapter = model.adapter
        if not hasattr(adapter, "max_length"):
            raise ValueError("--max-length applies to text backbones only; drop it for this model")
        limit = int(adapter.backbone.config.max_position_embeddings)
        if not model.config.num_meta_tokens < args.max_length <= limit:
            raise ValueError(f"--max-length must be in {model.config.num_meta_tokens + 1}..{limit}")
        adapter.max_length = args.max_length
        model.config.adapter_options["max_length"] = args.max_length  # part of the cache key
        described.append(f"max_length={args.max_length}")
    if args.windows is not None:
        if args.windows < 1:
            raise ValueError(f"--windows must be >= 1, got {args.windows}")
        model.config.document_windows = args.windows
        described.append(f"windows={args.windows}")
    return f" ({', '.join(described)})" if described else ""


def _split(args: argparse.Namespace) -> str | None:
    from .formats import available_splits

    if args.split:
        return args.split
    splits = available_splits(args.dataset)
    return None if len(splits) <= 1 else "test"


def run(args: argparse.Namespace) -> int:
    """Run the sweep, print the table and write the report files."""
    import torch

    from ..hybrid.fusion import FUSIONS
    from .dataset import load_dataset
    from .report import format_table, write_report
    from .sweep import BASELINES, parse_budgets, run_sweep

    baselines = _names(args.baselines, BASELINES, "baseline")
    hybrid = _names(args.hybrid, FUSIONS, "fusion")
    use_threads(args.threads, index_threads())
    dataset = load_dataset(args.dataset, _split(args)).head(args.max_queries)
    model, reference, budgets = None, None, None
    if (args.model or "").lower() != "none":
        from ..model.defaults import default_model_reference, load_model

        reference = args.model or default_model_reference()
        model = load_model(reference)
        reference += _document_options(model, args)
        budgets = parse_budgets(args.budgets, model.num_query_tokens, model.num_candidate_tokens)
    elif hybrid:
        raise ValueError("--hybrid needs a MetaEmbed model; drop --model none or use --hybrid none")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.score_dtype]
    result = run_sweep(
        dataset, model, budgets=budgets, baselines=baselines, hybrid=hybrid, alpha=args.alpha,
        depth=args.depth, batch_size=args.batch_size, device=args.device, score_dtype=dtype,
        cache_dir=args.cache, latency_queries=args.latency_queries, model_name=reference,
        show_progress_bar=not args.quiet,
    )  # fmt: skip
    print(format_table(result))
    if "alpha_fit" in result.metadata:
        print(
            f"fitted score-fusion weight: alpha = {result.metadata['alpha']} (MetaEmbed), best mean "
            f"{result.metadata['alpha_fit']['metric']} over the budgets",
            file=sys.stderr,
        )
    if args.out:
        paths = write_report(result, args.out)
        print(f"wrote {paths['json']}, {paths['png']} and {paths['runs']}/", file=sys.stderr)
    return 0
