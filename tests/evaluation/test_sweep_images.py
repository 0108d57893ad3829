"""The sweep with an image-reading (causal) model: rendered PDF pages and image rows, a tiny random
Qwen2.5-VL, scores equal to brute force, and query encoding timed per r_q."""

import io
import json

import pytest
from PIL import Image

from metaembed_rag import MetaEmbed
from metaembed_rag.documents.options import RenderOptions
from metaembed_rag.evaluation import load_dataset, run_sweep
from metaembed_rag.scoring import maxsim_reference
from metaembed_rag.testing import build_tiny_qwen_vl

from .conftest import write_beir, write_pdf


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory):
    folder = build_tiny_qwen_vl(tmp_path_factory.mktemp("tiny-vl"))
    return MetaEmbed.from_backbone(folder, family="qwen2_5_vl", num_query_tokens=4, num_candidate_tokens=8)


def test_image_sweep_equals_brute_force(tmp_path, tiny_vl):
    root = write_beir(tmp_path / "img", docs={}, queries={"q1": "red square", "q2": "boiler"},
                      qrels={"q1": {"red": 1}, "q2": {"pdf:1": 1}})  # fmt: skip
    write_pdf(root / "manual.pdf", ["Descale the boiler", "Warranty"])
    for color in ("red", "blue"):
        buffer = io.BytesIO()
        Image.new("RGB", (56, 56), color).save(buffer, format="PNG")
        (root / f"{color}.png").write_bytes(buffer.getvalue())
    rows = [{"_id": c, "image": f"{c}.png"} for c in ("red", "blue")]
    rows += [{"_id": f"pdf:{p}", "pdf": "manual.pdf", "page": p} for p in (1, 2)]
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_dataset(root)
    data.render_options = RenderOptions(dpi=24)  # small pages keep the tiny model fast

    result = run_sweep(data, tiny_vl, baselines=[], device="cpu", latency_queries=2, show_progress_bar=False)
    inputs = data.document_inputs(images=True)
    assert all(i.image is not None and i.text is None for i in inputs)
    docs = tiny_vl.encode_documents(inputs)
    queries = tiny_vl.encode_queries(list(data.queries.values()))
    assert [str(r.budget) for r in result.rows] == ["(1,1)", "(2,4)", "(4,8)"]
    for row in result.rows:
        scores = maxsim_reference(queries, docs, row.budget)
        for qi, q in enumerate(data.query_ids):
            assert [s for _, s in row.run[q]] == pytest.approx(
                sorted(scores[qi].tolist(), reverse=True), abs=1e-4
            )
    assert set(result.metadata["query_encoding_ms"]) == {f"metaembed r_q={r}" for r in (1, 2, 4)}
    assert result.metadata["reads_images"] is True
