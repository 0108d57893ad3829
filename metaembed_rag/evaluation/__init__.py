"""Evaluation: datasets, ranking metrics, the budget sweep with baselines and hybrids, reports.

    from metaembed_rag.evaluation import load_dataset, run_sweep, write_report
    from metaembed_rag.model.defaults import load_model

    data = load_dataset("data/scifact", split="test")
    result = run_sweep(data, load_model("minilm-untrained"), baselines=["bm25", "minilm"], hybrid=["rrf"])
    print(format_table(result))
    write_report(result, "reports/scifact")

Modules: :mod:`.dataset` (loading), :mod:`.metrics` (nDCG, recall, MRR), :mod:`.retrievers`
(MetaEmbed, BM25, MiniLM, fusion runs), :mod:`.efficiency`, :mod:`.sweep`, :mod:`.report`, and
:mod:`.cli` (``metaembed-rag eval``). No framework is imported. Names are imported on first use,
so building the command line's parser does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .dataset import CorpusItem, DatasetError, RetrievalDataset, available_splits, load_dataset
    from .metrics import Qrels, Run, evaluate, evaluate_per_query, ndcg_at_k, recall_at_k, reciprocal_rank
    from .report import format_table, plot, to_json, write_report, write_runs
    from .sweep import SweepResult, SystemResult, parse_budgets, run_sweep

__all__ = [
    "CorpusItem",
    "DatasetError",
    "Qrels",
    "RetrievalDataset",
    "Run",
    "SweepResult",
    "SystemResult",
    "available_splits",
    "evaluate",
    "evaluate_per_query",
    "format_table",
    "load_dataset",
    "ndcg_at_k",
    "parse_budgets",
    "plot",
    "recall_at_k",
    "reciprocal_rank",
    "run_sweep",
    "to_json",
    "write_report",
    "write_runs",
]

_LAZY = {
    "CorpusItem": ".dataset",
    "DatasetError": ".dataset",
    "RetrievalDataset": ".dataset",
    "available_splits": ".dataset",
    "load_dataset": ".dataset",
    "Qrels": ".metrics",
    "Run": ".metrics",
    "evaluate": ".metrics",
    "evaluate_per_query": ".metrics",
    "ndcg_at_k": ".metrics",
    "recall_at_k": ".metrics",
    "reciprocal_rank": ".metrics",
    "format_table": ".report",
    "plot": ".report",
    "to_json": ".report",
    "write_report": ".report",
    "write_runs": ".report",
    "SweepResult": ".results",
    "SystemResult": ".results",
    "parse_budgets": ".sweep",
    "run_sweep": ".sweep",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
