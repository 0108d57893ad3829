"""The chunked-minilm baseline against a direct computation: hand-cut passages, each encoded alone
(no padding, no batching), mean-pooled, and a page scored by its best passage."""

import pytest
import torch

from metaembed_rag.evaluation import load_dataset, run_sweep
from metaembed_rag.evaluation.passages import PassageEncoder, max_passage_scores, passage_windows
from metaembed_rag.evaluation.retrievers import MeanPooledEncoder
from metaembed_rag.evaluation.sweep import BASELINES

from .conftest import write_beir

SENTENCES = [
    "The gnuplot set title command places a title above the plot.",
    "Octave stores matrices in column-major order and indexes them from one.",
    "A LaTeX float may drift to the next page when it does not fit.",
    "The siscone algorithm finds stable cones in a list of particles.",
    "Templates in C++ are instantiated when they are first used.",
]


def long_text(seed: int, sentences: int) -> str:
    return " ".join(
        SENTENCES[(seed * 7 + i * 3) % len(SENTENCES)] + f" Note {seed}.{i}." for i in range(sentences)
    )


PAGES = {
    "p1": ("", long_text(1, 30)),  # several passages
    "p2": ("", long_text(2, 12)),
    "p3": ("", "Octave matrices are column-major."),  # one short passage
    "p4": ("", long_text(4, 45)),
}
QUERIES = {
    "q1": "How are Octave matrices stored?",
    "q2": "Where does gnuplot put the title?",
    "q3": "stable cones of particles",
}
QRELS = {"q1": {"p3": 1}, "q2": {"p1": 1}, "q3": {"p4": 1}}


@pytest.fixture(scope="module")
def encoder():
    return MeanPooledEncoder()


def reference_passages(encoder, text, size=128, overlap=32):
    """Passages cut by the definition (stride size - overlap, the last one ends at the text's end),
    each encoded on its own."""
    tokenizer, model = encoder.tokenizer, encoder.model
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    windows, start = [], 0
    while True:
        windows.append(ids[start : start + size])
        if start + size >= len(ids):
            break
        start += size - overlap
    vectors = []
    with torch.inference_mode():
        for window in windows:
            input_ids = torch.tensor([[tokenizer.cls_token_id, *window, tokenizer.sep_token_id]])
            hidden = model(input_ids=input_ids).last_hidden_state[0]
            vectors.append(torch.nn.functional.normalize(hidden.mean(0), dim=0))
    return torch.stack(vectors)


def test_windows_cover_the_text_with_the_overlap():
    assert passage_windows(0, 128, 32) == [(0, 0)]
    assert passage_windows(128, 128, 32) == [(0, 128)]
    assert passage_windows(129, 128, 32) == [(0, 128), (96, 129)]
    assert passage_windows(300, 128, 32) == [(0, 128), (96, 224), (192, 300)]
    with pytest.raises(ValueError, match="overlap < passage_tokens"):
        passage_windows(10, 8, 8)


def test_passages_match_a_direct_computation(encoder):
    texts = [text for _, text in PAGES.values()]
    passages = PassageEncoder(encoder).encode(texts, batch_size=3)
    counts = torch.bincount(passages.owners, minlength=len(texts)).tolist()
    for index, text in enumerate(texts):
        expected = reference_passages(encoder, text)
        assert counts[index] == len(expected)
        torch.testing.assert_close(passages.vectors[passages.owners == index], expected, atol=2e-6, rtol=0)
    assert counts[0] >= 3 and counts[2] == 1
    # A text of at most 128 word pieces is one passage: exactly its plain MiniLM vector.
    torch.testing.assert_close(
        passages.vectors[passages.owners == 2][0], encoder.encode([texts[2]])[0], atol=2e-6, rtol=0
    )


def test_page_score_is_the_best_passage(encoder):
    texts = [text for _, text in PAGES.values()]
    passages = PassageEncoder(encoder).encode(texts)
    queries = encoder.encode(list(QUERIES.values()))
    scores = max_passage_scores(queries, passages)
    for qi in range(len(QUERIES)):
        for di, text in enumerate(texts):
            expected = max(float(queries[qi] @ p) for p in reference_passages(encoder, text))
            assert float(scores[qi, di]) == pytest.approx(expected, abs=2e-6)


def test_sweep_ranks_pages_by_their_best_passage(tmp_path, encoder):
    assert "chunked-minilm" in BASELINES
    dataset = load_dataset(write_beir(tmp_path / "long", docs=PAGES, queries=QUERIES, qrels=QRELS))
    result = run_sweep(
        dataset, None, baselines=["chunked-minilm"], device="cpu", latency_queries=2, show_progress_bar=False
    )
    row = result.row("chunked-minilm")
    queries = encoder.encode([dataset.queries[q] for q in dataset.query_ids])
    docs = [reference_passages(encoder, text) for text in dataset.document_texts()]
    for qi, q in enumerate(dataset.query_ids):
        best = [max(float(queries[qi] @ p) for p in passages) for passages in docs]
        order = sorted(range(len(best)), key=lambda i: (-best[i], i))
        assert [d for d, _ in row.run[q]] == [dataset.doc_ids[i] for i in order]
        assert [s for _, s in row.run[q]] == pytest.approx([best[i] for i in order], abs=2e-6)
    count = result.metadata["chunked_minilm"]["passages"]
    assert count == sum(len(d) for d in docs)
    assert row.gflops == 2 * count * 384 / 1e9 and row.index_mib == count * 384 * 2 / 2**20
