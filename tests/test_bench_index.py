"""bench_index.py's sections run end to end on tiny sizes, so the benchmark does not rot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_index as bench
from _index_data import TopicModel, queries_for
from _index_tables import print_bytes, print_exact, print_peers, print_two_stage
from bench_maxsim import Probe

from metaembed_rag.budget import Budget

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_sizes() -> bench.Sizes:
    return bench.Sizes(
        cases=((120, 32),), batch_fraction=0.5, peer_pages={32: 30}, bytes_pages={32: 10},
        two_stage_queries=3, rerank_from=(10, 40), first_stages=(Budget(1, 1),), repeats=1, cell_seconds=0.0,
    )  # fmt: skip


def test_topic_model_is_seeded_unit_and_structured() -> None:
    model = TopicModel(32, pages_per_topic=10)
    a = torch.cat(list(model.pages(50, batch=16)))
    assert a.shape == (50, 64, 32) and torch.equal(a, torch.cat(list(model.pages(50, batch=16))))
    torch.testing.assert_close(a.norm(dim=-1), torch.ones(50, 64))
    # First vectors sit closer to each other than last ones (noise grows with the position).
    first, last = a[:, :4], a[:, -4:]
    assert (first @ first.transpose(1, 2)).mean() > (last @ last.transpose(1, 2)).mean()
    q = queries_for(a[:5], model)
    assert q.shape == (5, 16, 32)
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(5, 16))


def test_every_section_runs_and_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sizes = tiny_sizes()
    (num_pages, dim) = sizes.cases[0]
    probe = Probe(1, 64)
    index = bench.build(tmp_path / "ix", bench.page_batches(num_pages, dim, structured=True), dim)
    with index:
        assert len(index) == num_pages
        views = bench.mapped_pages(index)
        assert sum(map(len, views)) == num_pages and views[0].dtype == torch.bfloat16
        pages = torch.cat(views)
        assert torch.equal(index.get("7", with_vectors=True).vectors, pages[7].float())
        queries = queries_for(pages[:32], TopicModel(dim))
        exact = bench.exact_cells(index, views, queries, sizes, probe)
        stages = bench.two_stage_rows(index, queries[:3], sizes)
        del views
    assert [(c.num_q, c.num_pages) for c in exact[::5]] == [(1, 120), (32, 60)]
    assert set(exact[0].timings) == {"search", "maxsim", "gemm"}
    assert stages[0][:3] == ("exhaustive", 0, 1.0) and all(0 <= r[2] <= 1 for r in stages)
    cells, peers, overlap, qstats = bench.peer_cells(pages[:30], queries, sizes, tmp_path)
    measured = {p.name for p in peers if p.search is not None}
    assert {"qdrant local"} <= measured  # qdrant-client is a dev dependency; the others are optional
    assert all(v == 1.0 for v in overlap.values())  # every peer finds the same exact top-10
    assert qstats.pages == 30
    rows = bench.bytes_rows(pages[:10], tmp_path)
    assert [r[0] for r in rows] == ["bf16", "fp16", "fp32", "int8", "1bit"]
    assert rows[0][2]["(16,64)"] == pytest.approx(64 * dim * 2, rel=0.1)
    print_exact(exact, max(probe.bandwidth), max(probe.peak))
    print_peers(cells, peers, overlap)
    print_bytes(rows, [qstats])
    print_two_stage(stages, num_pages)
    out = capsys.readouterr().out
    for title in ("1. Exact scoring", "2. Peers", "3. Candidate bytes", "4. Two-stage"):
        assert title in out
