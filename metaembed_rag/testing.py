"""Tiny, random, offline backbones for tests, examples and CI.

``build_tiny_qwen_vl`` writes a complete Qwen2.5-VL (or Qwen2-VL) checkpoint folder, laid out
like the real ones (``...ForConditionalGeneration`` weights, ``config.json``, tokenizer files,
``preprocessor_config.json``), in a couple of seconds and without network access. The weights
are random: the model exercises every code path but means nothing.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["QWEN_SPECIAL_TOKENS", "build_tiny_qwen_vl"]

#: The Qwen chat and vision special tokens the MetaEmbed prompts use (``<|endoftext|>`` first: it pads).
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2's pre-tokeniser split (contractions, letters, single digits, punctuation, spaces).
_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_CORPUS = """\
user Query: Describe the image. What is shown on this page of the annual report?
The quick brown fox jumps over the lazy dog while the cat sleeps near the window.
Revenue grew twelve percent in the third quarter, driven by strong demand in Europe and Asia.
The table lists operating income, net profit, cash flow and capital expenditure by segment.
Figure two shows the architecture of the retrieval system: an encoder, an index and a ranker.
Photosynthesis converts light energy into chemical energy stored in glucose molecules.
The committee approved the budget for the new research laboratory and the library renovation.
Multi-vector retrieval scores every query token against every document token with MaxSim.
Please summarise the safety instructions before operating the machine or replacing the filter.
Which chapter explains the history of the city, its bridges, its rivers and its famous markets?
Patients reported fewer symptoms after six weeks of treatment compared with the control group.
The invoice number, payment date and total amount are printed at the top right of the document.
Temperature, pressure and humidity were measured every hour at three weather stations.
"""


def _train_tokenizer(vocab_size: int):  # -> PreTrainedTokenizerFast
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodes: no unknown tokens
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.splitlines() * 4, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        model_max_length=32768,
    )


def _configs(family: str, vocab_size: int, ids: dict[str, int]) -> tuple[type, object]:
    """(ForConditionalGeneration class, config) of a 2-layer, 64-wide model with a tiny vision tower."""
    text = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        # mrope_section splits the 8 rotary frequency pairs of a 16-wide head into (t, h, w).
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision = {"depth": 2, "num_heads": 2, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}
    special = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        vision |= {"hidden_size": 32, "intermediate_size": 64, "out_hidden_size": 64,
                   "window_size": 56, "fullatt_block_indexes": [1]}  # fmt: skip
        return Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLConfig(
            text_config=text, vision_config=vision, **special
        )
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

        vision |= {"embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2}
        return Qwen2VLForConditionalGeneration, Qwen2VLConfig(
            text_config=text, vision_config=vision, **special
        )
    raise ValueError(f"family must be 'qwen2_5_vl' or 'qwen2_vl', got {family!r}")


def build_tiny_qwen_vl(directory: str | Path, family: str = "qwen2_5_vl", seed: int = 0) -> Path:
    """Write a tiny random Qwen2.5-VL (or Qwen2-VL) checkpoint to ``directory`` and return it.

    Hidden size 64, 2 decoder layers, a 2-block vision tower 32 wide (patch 14, 2x2 merge), and a
    byte-level BPE tokenizer of a few hundred tokens trained on the fly that knows every Qwen
    special token; the config's token ids are the tokenizer's. The same ``seed`` gives the same
    files. No network is used.
    """
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.utils import logging as hf_logging

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(vocab_size=640)
    ids = {token: int(tokenizer.convert_tokens_to_ids(token)) for token in QWEN_SPECIAL_TOKENS}
    model_class, config = _configs(family, len(tokenizer), ids)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config).eval()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(directory)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(directory)
    Qwen2VLImageProcessorPil(patch_size=14, merge_size=2, temporal_patch_size=2).save_pretrained(directory)
    return directory
