"""Evaluation: datasets, ranking metrics, the budget sweep with baselines and hybrids, reports.

    from metaembed_rag.evaluation import load_dataset, run_sweep, write_report
    from metaembed_rag.model.defaults import load_model

    data = load_dataset("data/scifact", split="test")
    result = run_sweep(data, load_model("minilm-untrained"), baselines=["bm25", "minilm"], hybrid=["rrf"])
    print(format_table(result))
    write_report(result, "reports/scifact")

Modules: :mod:`.dataset` (loading), :mod:`.metrics` (nDCG, recall, MRR), :mod:`.retrievers`
(MetaEmbed, BM25, MiniLM, fusion runs), :mod:`.efficiency`, :mod:`.sweep`, :mod:`.report`, and
:mod:`.cli` (``metaembed-rag eval``). No framework is imported.
"""

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
