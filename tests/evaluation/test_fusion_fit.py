"""Fitting the score-fusion weight: a hand-worked example, the tie rule, and the sweep's use of it."""

import math

import pytest

from metaembed_rag.budget import Budget
from metaembed_rag.evaluation import load_dataset, run_sweep
from metaembed_rag.evaluation.fusion_fit import ALPHA_GRID, fit_alpha
from metaembed_rag.evaluation.retrievers import fuse_runs

from .conftest import write_beir

# q1 needs alpha > 1/1.9 (a = alpha against b = 0.1·alpha + 1 - alpha);
# q2 needs alpha < 1/1.1 (c = alpha against d = 0.9·alpha + 1 - alpha).
DENSE = {
    "q1": [("a", 1.0), ("b", 0.1), ("g", 0.0)],
    "q2": [("c", 1.0), ("d", 0.9), ("e", 0.0)],
}
LEXICAL = {"q1": [("b", 1.0), ("a", 0.0)], "q2": [("d", 1.0), ("c", 0.0)]}
QRELS = {"q1": {"a": 1}, "q2": {"d": 1}}
SECOND = 1 / math.log2(3)  # nDCG@5 of the only relevant page at rank 2


def test_fit_alpha_picks_the_weight_where_both_queries_rank_their_page_first():
    alpha, curve = fit_alpha([DENSE], LEXICAL, QRELS)
    assert list(curve) == list(ALPHA_GRID)
    best = [a for a in ALPHA_GRID if 1 / 1.9 < a < 1 / 1.1]
    assert best == [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    for a in ALPHA_GRID:
        assert curve[a] == pytest.approx(1.0 if a in best else (1 + SECOND) / 2), a
    assert alpha == 0.55  # of the best, the nearest to 0.5


def test_fit_alpha_averages_over_runs_and_breaks_ties_toward_one_half():
    always_right = {"q1": [("a", 1.0), ("b", 0.0)], "q2": [("d", 1.0), ("c", 0.0)]}
    _, first = fit_alpha([DENSE], LEXICAL, QRELS)
    _, second = fit_alpha([always_right], LEXICAL, QRELS)
    _, both = fit_alpha([DENSE, always_right], LEXICAL, QRELS)
    assert second[1.0] == 1.0 and second[0.0] == pytest.approx((1 + SECOND) / 2)
    for a in ALPHA_GRID:
        assert both[a] == pytest.approx((first[a] + second[a]) / 2)
    flat, _ = fit_alpha([always_right], always_right, QRELS, grid=[0.0, 0.3, 0.7, 1.0])
    assert flat == 0.3  # every weight is perfect: |0.3 - 0.5| = |0.7 - 0.5|, the smaller wins


@pytest.mark.parametrize(("runs", "grid", "message"), [([], ALPHA_GRID, "dense run"), ([DENSE], [], "grid")])
def test_fit_alpha_rejects_empty_inputs(runs, grid, message):
    with pytest.raises(ValueError, match=message):
        fit_alpha(runs, LEXICAL, QRELS, grid=grid)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return load_dataset(write_beir(tmp_path_factory.mktemp("fit") / "tiny"))


def _sweep(dataset, model, alpha):
    return run_sweep(dataset, model, budgets=[Budget(1, 1), Budget(16, 64)], baselines=["bm25"],
                     hybrid=["score"], alpha=alpha, depth=5, device="cpu", latency_queries=1,
                     show_progress_bar=False)  # fmt: skip


def test_sweep_fits_alpha_and_fuses_every_budget_with_it(dataset, minilm):
    result = _sweep(dataset, minilm, "fit")
    lexical = result.row("bm25").run
    dense = [result.row("metaembed", b).run for b in (Budget(1, 1), Budget(16, 64))]
    alpha, curve = fit_alpha(dense, lexical, dataset.qrels, depth=5)
    assert result.metadata["alpha"] == alpha
    assert result.metadata["alpha_fit"]["mean_over_budgets"] == curve
    for budget, run in zip((Budget(1, 1), Budget(16, 64)), dense, strict=True):
        expected = fuse_runs(run, lexical, "score", alpha=alpha, depth=5)
        assert result.row("hybrid-score", budget).run == expected


def test_sweep_defaults_to_the_models_fitted_weight(dataset, minilm, monkeypatch):
    monkeypatch.setattr(minilm.config, "hybrid_alpha", 0.15)
    result = _sweep(dataset, minilm, None)
    assert result.metadata["alpha"] == 0.15
    lexical, dense = result.row("bm25").run, result.row("metaembed", Budget(1, 1)).run
    expected = fuse_runs(dense, lexical, "score", alpha=0.15, depth=5)
    assert result.row("hybrid-score", Budget(1, 1)).run == expected
    with pytest.raises(ValueError, match="'fit' or None"):
        _sweep(dataset, minilm, "best")
