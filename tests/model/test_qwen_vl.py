"""Qwen-VL backbone adapter: prompts, image tokens, layout, mRoPE positions, invariances, I/O."""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from metaembed_rag.model import MetaEmbed
from metaembed_rag.model.inputs import EncoderInput
from metaembed_rag.model.qwen_vl import Qwen2VLAdapter, QwenVLAdapter
from metaembed_rag.testing import build_tiny_qwen_vl

PAD = "<|endoftext|>"
SUFFIX = PAD * 10 + "\n"
META = 5


@pytest.fixture(scope="module")
def adapter(tiny_qwen_vl_dir: Path) -> QwenVLAdapter:
    return QwenVLAdapter.load(tiny_qwen_vl_dir)


def page(width: int = 120, height: int = 90, seed: int = 0) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator)
    return Image.fromarray(pixels.numpy())


def content(adapter: QwenVLAdapter, batch: dict, row: int, num_meta: int = META) -> str:
    """Decoded prompt of one row: left padding and meta placeholders removed."""
    ids = batch["input_ids"][row][batch["attention_mask"][row].bool()][:-num_meta]
    return adapter.tokenizer.decode(ids.tolist())


def image_tokens(batch: dict, image: int) -> int:
    return int(batch["image_grid_thw"][image].prod()) // 4


def hidden(adapter: QwenVLAdapter, batch: dict) -> torch.Tensor:
    with torch.inference_mode():
        return adapter(batch, adapter.input_embeddings()(batch["input_ids"]))


# ---------------------------------------------------------------------- prompts
@pytest.mark.parametrize(
    ("is_query", "expected"),
    [
        (True, f"<|im_start|>user\nQuery: What is the revenue?<|im_end|>{PAD}{SUFFIX}"),
        (False, f"<|im_start|>user\nWhat is the revenue?<|im_end|>{PAD}"),
    ],
)
def test_text_prompt(adapter: QwenVLAdapter, is_query: bool, expected: str) -> None:
    batch = adapter.prepare([EncoderInput(text="What is the revenue?")], is_query=is_query, num_meta=META)
    assert content(adapter, batch, 0) == expected
    assert "pixel_values" not in batch


@pytest.mark.parametrize("is_query", [True, False])
@pytest.mark.parametrize("text", [None, "Total assets in 2023"])
def test_image_prompts(adapter: QwenVLAdapter, is_query: bool, text: str | None) -> None:
    batch = adapter.prepare([EncoderInput(text=text, image=page())], is_query=is_query, num_meta=META)
    n = image_tokens(batch, 0)
    body = ("Query: " if is_query else "") + (text or "Describe the image.")
    expected = (
        "<|im_start|>user\n<|vision_start|>" + "<|image_pad|>" * n + "<|vision_end|>"
        f"{body}<|im_end|>{PAD}" + (SUFFIX if is_query else "")
    )
    assert content(adapter, batch, 0) == expected


def test_prefixes_and_suffix_are_options(tiny_qwen_vl_dir: Path) -> None:
    custom = QwenVLAdapter.load(tiny_qwen_vl_dir, query_prefix="Q: ", document_prefix="D: ", query_suffix="")
    query = custom.prepare([EncoderInput(text="cats")], is_query=True, num_meta=1)
    document = custom.prepare([EncoderInput(text="cats")], is_query=False, num_meta=1)
    assert content(custom, query, 0, 1) == f"<|im_start|>user\nQ: cats<|im_end|>{PAD}"
    assert content(custom, document, 0, 1) == f"<|im_start|>user\nD: cats<|im_end|>{PAD}"
    assert custom.options()["query_prefix"] == "Q: "


# ---------------------------------------------------------------------- images
def test_image_token_count_matches_grid(adapter: QwenVLAdapter) -> None:
    images = [page(120, 90), page(300, 200, seed=1)]
    batch = adapter.prepare([EncoderInput(image=i) for i in images], is_query=False, num_meta=META)
    assert batch["image_grid_thw"].shape == (2, 3)
    for row in range(2):
        n = image_tokens(batch, row)
        assert int((batch["input_ids"][row] == adapter.processor.image_token_id).sum()) == n
        assert int(batch["mm_token_type_ids"][row].sum()) == n
    assert batch["pixel_values"].shape[0] == int(batch["image_grid_thw"].prod(-1).sum())


def test_visual_token_cap(tiny_qwen_vl_dir: Path, adapter: QwenVLAdapter) -> None:
    big = Image.new("RGB", (2480, 3508), "white")  # an A4 page at 300 dpi
    batch = adapter.prepare([EncoderInput(image=big)], is_query=False, num_meta=1)
    assert 900 < image_tokens(batch, 0) <= 1024
    small = QwenVLAdapter.load(tiny_qwen_vl_dir, max_visual_tokens=16)
    batch = small.prepare([EncoderInput(image=big)], is_query=False, num_meta=1)
    assert image_tokens(batch, 0) <= 16
    assert int(batch["mm_token_type_ids"].sum()) == image_tokens(batch, 0)


# ---------------------------------------------------------------------- layout
def test_left_padding_and_meta_placeholders_last(adapter: QwenVLAdapter) -> None:
    inputs = [
        EncoderInput(text="short"),
        EncoderInput(text="a much longer text " * 5),
        EncoderInput(image=page()),
    ]
    batch = adapter.prepare(inputs, is_query=False, num_meta=META)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    pad = adapter.processor.pad_token_id
    assert bool((mask[:, -META:] == 1).all()) and bool((ids[:, -META:] == pad).all())
    for row in range(len(inputs)):
        start = int((mask[row] == 0).sum())
        assert bool((mask[row, :start] == 0).all()) and bool((mask[row, start:] == 1).all())
        assert int(ids[row, start]) == adapter.tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert int((mask[0] == 0).sum()) > 0  # the short row really is padded


def test_truncation_keeps_template_and_meta(tiny_qwen_vl_dir: Path) -> None:
    short = QwenVLAdapter.load(tiny_qwen_vl_dir, max_length=40)
    text = "The committee approved the budget for the new research laboratory. " * 20
    batch = short.prepare([EncoderInput(text=text)], is_query=True, num_meta=8)
    assert batch["input_ids"].shape[1] <= 40
    prompt = content(short, batch, 0, 8)
    assert prompt.startswith("<|im_start|>user\nQuery: The committee")
    assert prompt.endswith(f"<|im_end|>{PAD}{SUFFIX}")
    assert bool((batch["input_ids"][0, -8:] == short.processor.pad_token_id).all())


def test_meta_positions_are_consecutive_text_positions(adapter: QwenVLAdapter) -> None:
    inputs = [EncoderInput(text="short"), EncoderInput(text="Total assets", image=page())]
    batch = adapter.prepare(inputs, is_query=False, num_meta=META)
    positions = adapter.position_ids(batch)  # [3, B, L]
    for row in range(len(inputs)):
        valid = batch["attention_mask"][row].bool()
        prompt = positions[:, row, valid][:, :-META]
        meta = positions[:, row, -META:]
        # Text positions: the same on the t, h and w axes, counting on after the prompt's last token.
        assert bool((meta == meta[0]).all())
        expected = torch.arange(META) + int(prompt[:, -1].max()) + 1
        assert torch.equal(meta[0], expected)
    image_row = positions[:, 1, batch["mm_token_type_ids"][1].bool()]
    assert not bool((image_row == image_row[0]).all())  # image tokens do get 3-D positions
    # Left padding does not move a row's positions.
    alone = adapter.prepare(inputs[:1], is_query=False, num_meta=META)
    padded = positions[:, 0, batch["attention_mask"][0].bool()]
    assert torch.equal(padded, adapter.position_ids(alone)[:, 0])


def test_forward_matches_the_models_own_multimodal_path(adapter: QwenVLAdapter) -> None:
    # With plain token embeddings, the adapter must reproduce what the model computes by itself
    # from input_ids (its own mRoPE positions, image features scattered into the image slots).
    inputs = [EncoderInput(text="Total assets", image=page(seed=2)), EncoderInput(text="short")]
    batch = adapter.prepare(inputs, is_query=False, num_meta=META)
    with torch.inference_mode():
        reference = adapter.backbone(**batch, use_cache=False).last_hidden_state
    valid = batch["attention_mask"].bool()
    torch.testing.assert_close(hidden(adapter, batch)[valid], reference[valid], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------- invariances
def test_batch_invariance(adapter: QwenVLAdapter) -> None:
    target = EncoderInput(text="Revenue by segment", image=page(seed=3))
    others = [
        EncoderInput(text="a much longer query about cash flow and profit " * 4),
        EncoderInput(image=page(200, 150)),
    ]
    alone = hidden(adapter, adapter.prepare([target], is_query=False, num_meta=META))[0, -META:]
    for batch_inputs, row in (([*others, target], 2), ([target, *others], 0)):
        batch = adapter.prepare(batch_inputs, is_query=False, num_meta=META)
        assert int(batch["attention_mask"][row].eq(0).sum()) > 10  # the target row is left-padded
        in_batch = hidden(adapter, batch)[row, -META:]
        torch.testing.assert_close(in_batch, alone, atol=1e-4, rtol=1e-4)
    text_alone = hidden(adapter, adapter.prepare(others[:1], is_query=True, num_meta=META))[0, -META:]
    mixed = hidden(adapter, adapter.prepare([others[1], others[0]], is_query=True, num_meta=META))[1, -META:]
    torch.testing.assert_close(mixed, text_alone, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("image", [None, page(seed=5)])
def test_causal_prefix_states_ignore_later_placeholders(
    adapter: QwenVLAdapter, image: Image.Image | None
) -> None:
    item = [EncoderInput(text="Where is the bridge?", image=image)]
    k = 3
    few = hidden(adapter, adapter.prepare(item, is_query=True, num_meta=k))[0, -k:]
    many = hidden(adapter, adapter.prepare(item, is_query=True, num_meta=k + 6))[0, -(k + 6) : -6]
    torch.testing.assert_close(few, many, atol=1e-6, rtol=1e-6)


# ---------------------------------------------------------------------- persistence
def test_save_load_round_trip_is_bit_exact(adapter: QwenVLAdapter, tmp_path: Path) -> None:
    inputs = [EncoderInput(text="cash flow"), EncoderInput(text="Total", image=page(seed=7))]
    adapter.save(tmp_path, weights=True)
    again = QwenVLAdapter.load(tmp_path / "backbone", processor_dir=tmp_path, **adapter.options())
    assert again.options() == adapter.options()
    before = adapter.prepare(inputs, is_query=False, num_meta=META)
    after = again.prepare(inputs, is_query=False, num_meta=META)
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key])
    assert torch.equal(hidden(adapter, before), hidden(again, after))


def copy_checkpoint(source: Path, target: Path, rename=lambda key: key, drop: str | None = None) -> Path:
    """Copy a checkpoint folder, renaming (or dropping) weights on the way."""
    from safetensors.torch import load_file, save_file

    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        shutil.copy(source / name, target / name)
    weights = load_file(source / "model.safetensors")
    kept = {rename(k): v for k, v in weights.items() if drop is None or drop not in k}
    save_file(kept, target / "model.safetensors", metadata={"format": "pt"})
    return target


def nested(key: str) -> str:
    """Legacy name (model.*, visual.*) -> nested name (model.language_model.*, model.visual.*)."""
    return re.sub(r"^visual\.", "model.visual.", re.sub(r"^model\.", "model.language_model.", key))


@pytest.mark.parametrize("layout", ["as saved", "nested"])
@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen2_vl"])
def test_backbone_weights_match_the_generation_checkpoint(
    request: pytest.FixtureRequest, tmp_path: Path, family: str, layout: str
) -> None:
    # transformers saves model.* / visual.*; checkpoints re-saved by other versions use
    # model.language_model.* / model.visual.*. Both must give the generation model's weights.
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration

    folder = request.getfixturevalue("tiny_qwen_vl_dir" if family == "qwen2_5_vl" else "tiny_qwen2_vl_dir")
    full_class = (
        Qwen2_5_VLForConditionalGeneration if family == "qwen2_5_vl" else Qwen2VLForConditionalGeneration
    )
    expected = full_class.from_pretrained(folder, dtype=torch.float32).model.state_dict()
    if layout == "nested":
        folder = copy_checkpoint(folder, tmp_path, rename=nested)
    loaded = QwenVLAdapter.load(folder).backbone.state_dict()
    assert expected.keys() == loaded.keys()
    assert all(torch.equal(expected[k], loaded[k]) for k in expected)


def test_missing_weights_are_an_error(tiny_qwen_vl_dir: Path, tmp_path: Path) -> None:
    folder = copy_checkpoint(tiny_qwen_vl_dir, tmp_path, drop="merger")
    with pytest.raises(OSError, match=r"weights are missing.*merger"):
        QwenVLAdapter.load(folder)


def test_tiny_builder_is_deterministic(tiny_qwen_vl_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen_vl(tmp_path)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "preprocessor_config.json"):
        assert filecmp.cmp(again / name, tiny_qwen_vl_dir / name, shallow=False), name


def test_qwen2_vl_family(tiny_qwen2_vl_dir: Path) -> None:
    adapter = QwenVLAdapter.load(tiny_qwen2_vl_dir)
    assert isinstance(adapter, Qwen2VLAdapter) and adapter.family == "qwen2_vl"
    batch = adapter.prepare([EncoderInput(text="hi"), EncoderInput(image=page())], is_query=False, num_meta=2)
    out = hidden(adapter, batch)
    assert out.shape == (*batch["input_ids"].shape, adapter.hidden_size)
    assert torch.isfinite(out[:, -2:]).all()


# ---------------------------------------------------------------------- errors
def test_hub_id_not_cached_says_how_to_fix() -> None:
    with pytest.raises(OSError, match="hf download metaembed-tests/not-a-model") as error:
        QwenVLAdapter.load("metaembed-tests/not-a-model")
    assert "never downloads" in str(error.value)


def test_not_a_qwen_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="'bert' model"):
        QwenVLAdapter.load(tmp_path)


def test_image_that_cannot_fit_max_length(tiny_qwen_vl_dir: Path) -> None:
    cramped = QwenVLAdapter.load(tiny_qwen_vl_dir, max_length=30)
    with pytest.raises(ValueError, match=r"input #1.*lower max_visual_tokens"):
        cramped.prepare(
            [EncoderInput(text="ok"), EncoderInput(image=page(600, 600))], is_query=False, num_meta=4
        )


def test_reserved_tokens_in_text_are_refused(adapter: QwenVLAdapter) -> None:
    with pytest.raises(ValueError, match="reserved token"):
        adapter.prepare([EncoderInput(text="look <|image_pad|> here")], is_query=True, num_meta=1)


def test_mismatched_tokenizer_is_refused(tiny_qwen_vl_dir: Path, tiny_qwen2_vl_dir: Path) -> None:
    adapter = QwenVLAdapter.load(tiny_qwen_vl_dir)
    adapter.backbone.config.image_token_id += 1
    with pytest.raises(ValueError, match="different models"):
        QwenVLAdapter(adapter.backbone, adapter.processor)


# ---------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def metaembed(tiny_qwen_vl_dir: Path) -> MetaEmbed:
    return MetaEmbed.from_backbone(
        tiny_qwen_vl_dir, family="qwen2_5_vl", num_query_tokens=4, num_candidate_tokens=8
    )


def test_metaembed_encodes_text_images_and_pairs(metaembed: MetaEmbed) -> None:
    queries = metaembed.encode_queries(["what is the revenue?", "bridges of the city"], batch_size=1)
    assert queries.shape == (2, 4, 64)
    documents = [page(seed=1), (page(160, 100, seed=2), "Revenue table"), "A text-only page about rivers."]
    vectors = metaembed.encode_documents(documents, batch_size=2)
    assert vectors.shape == (3, 8, 64)
    for tensor in (queries, vectors):
        torch.testing.assert_close(tensor.norm(dim=-1), torch.ones(tensor.shape[:2]))
    # Batch composition does not matter, nor does a smaller budget beyond slicing (causal backbone).
    one_by_one = torch.cat([metaembed.encode_documents([d], batch_size=1) for d in documents])
    torch.testing.assert_close(vectors, one_by_one, atol=1e-4, rtol=1e-4)
    small = metaembed.encode_documents(documents, batch_size=3, budget=(2, 4))
    torch.testing.assert_close(small, vectors[:, :4], atol=1e-4, rtol=1e-4)
    assert metaembed.config.adapter_options["max_visual_tokens"] == 1024


@pytest.mark.parametrize(
    ("lora", "save_backbone"),
    [
        (True, False),
        (False, True),
        (True, True),
    ],
)
def test_metaembed_save_and_load_round_trip(
    tiny_qwen_vl_dir: Path, tmp_path: Path, lora: bool, save_backbone: bool
) -> None:
    model = MetaEmbed.from_backbone(
        tiny_qwen_vl_dir, family="qwen2_5_vl", num_query_tokens=2, num_candidate_tokens=4
    )
    if lora:
        model.add_lora(r=4, alpha=4)
        with torch.no_grad():  # LoRA B starts at zero; make the adapter matter
            for name, parameter in model.adapter.backbone.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(0.0, 0.05)
    documents = [page(seed=4), (page(seed=5), "Revenue"), "A page about rivers."]
    before = model.encode_documents(documents), model.encode_queries(["where is the bridge?"])
    model.save_pretrained(tmp_path, save_backbone=save_backbone)
    again = MetaEmbed.from_pretrained(tmp_path)
    after = again.encode_documents(documents), again.encode_queries(["where is the bridge?"])
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


def test_split_layout_on_a_causal_backbone_appends_only_the_needed_rows(tiny_qwen_vl_dir: Path) -> None:
    model = MetaEmbed.from_backbone(
        tiny_qwen_vl_dir, family="qwen2_5_vl", num_query_tokens=4, num_candidate_tokens=8, meta_layout="split"
    )
    documents = [page(seed=1), "A text-only page about rivers."]
    vectors = model.encode_documents(documents, batch_size=2)
    # Reference: run the backbone on [tokens; M_c] by hand.
    items = [EncoderInput(image=documents[0]), EncoderInput(text=documents[1])]
    batch = model.adapter.prepare(items, is_query=False, num_meta=8)
    with torch.no_grad():
        embeds = model.adapter.input_embeddings()(batch["input_ids"])
        embeds[:, -8:] = model.meta_embeddings.weight[4:]
        expected = torch.nn.functional.normalize(model.adapter(batch, embeds)[:, -8:].float(), dim=-1)
    torch.testing.assert_close(vectors, expected, atol=1e-5, rtol=1e-5)
    # Causal: a smaller candidate budget runs fewer placeholders and gives the same prefix.
    torch.testing.assert_close(model.encode_documents(documents, budget=(1, 3)), vectors[:, :3],
                               atol=1e-4, rtol=1e-4)
    assert model.encode_queries(["where is the bridge?"], budget=(2, 8)).shape == (1, 2, 64)
