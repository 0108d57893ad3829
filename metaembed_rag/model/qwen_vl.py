"""Qwen2.5-VL and Qwen2-VL backbones for MetaEmbed (text, page images, image + text).

The backbone is the bare ``Qwen2_5_VLModel`` / ``Qwen2VLModel`` (no LM head); a
``...ForConditionalGeneration`` checkpoint folder loads into it directly: transformers maps the
weight names and drops ``lm_head`` (``_NESTED_VISUAL`` fixes the one layout it maps wrongly, and
a load with missing weights is refused). Attention is causal, so MetaEmbed lets a query stop after
its ``M_q`` placeholders and a document after ``M_c[:r_c]``.

Positions: Qwen-VL uses 3-D mRoPE. ``forward`` computes them with the model's own
``get_rope_index`` for every batch, text-only included, passing the attention mask so a
left-padded row gets exactly the positions it would get alone. The meta placeholders are
ordinary text tokens there: they continue the text position count after the prompt.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import Qwen2_5_VLModel, Qwen2VLModel

from .base import BackboneAdapter, Batch
from .inputs import EncoderInput
from .qwen_vl_processing import QwenVLProcessor
from .sources import load_weights, quiet_transformers, resolve_backbone

__all__ = ["Qwen2VLAdapter", "QwenVLAdapter", "QwenVLProcessor"]


# transformers 5.x renames a bare-model load of checkpoints saved with nested names
# (``model.visual.*``, ``model.language_model.*``) to ``language_model.visual.*``, leaving the vision
# tower randomly initialised; mapping the vision prefix first avoids that. Legacy names are unaffected.
_NESTED_VISUAL = {r"^model\.visual\.": "visual."}


class QwenVLAdapter(BackboneAdapter):
    """Adapter for Qwen2.5-VL; ``load`` returns a ``Qwen2VLAdapter`` for a Qwen2-VL checkpoint."""

    family: ClassVar[str] = "qwen2_5_vl"
    is_causal: ClassVar[bool] = True
    reads_images: ClassVar[bool] = True
    model_class: ClassVar[type] = Qwen2_5_VLModel
    # The official recipe's LoRA targets. As a name list PEFT also matches the vision tower's
    # MLP (it has gate/up/down_proj in Qwen2.5-VL), as the official list-based config does.
    lora_target_modules: ClassVar[list[str] | str] = [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    ]  # fmt: skip

    def __init__(self, backbone: Any, processor: QwenVLProcessor, *, attn_implementation: str | None = None):
        super().__init__()
        config = backbone.config
        if processor.image_token_id != int(config.image_token_id):
            raise ValueError(
                f"tokenizer's <|image_pad|> id {processor.image_token_id} differs from the model's "
                f"image_token_id {config.image_token_id}: tokenizer and weights come from different models"
            )
        if int(config.vision_config.spatial_merge_size) != processor.merge_size:
            raise ValueError(
                f"image processor merge_size {processor.merge_size} differs from the model's "
                f"spatial_merge_size {config.vision_config.spatial_merge_size}"
            )
        self.backbone = backbone
        self.processor = processor
        self.attn_implementation = attn_implementation

    @property
    def hidden_size(self) -> int:
        return int(self.backbone.config.text_config.hidden_size)

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    def options(self) -> dict[str, Any]:
        return {**self.processor.options(), "attn_implementation": self.attn_implementation}

    @classmethod
    def option_names(cls) -> set[str]:
        parameters = inspect.signature(QwenVLProcessor.__init__).parameters.values()
        processor = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
        return processor | {"attn_implementation"}

    # ------------------------------------------------------------------ batches
    def prepare(self, inputs: Sequence[EncoderInput], *, is_query: bool, num_meta: int) -> Batch:
        return self.processor(inputs, is_query=is_query, num_meta=num_meta)

    def position_ids(self, batch: Batch) -> torch.Tensor:
        """mRoPE positions ``[3, B, L]``; padding gets 0 and each row counts from 0 at its first token."""
        position_ids, _ = self.backbone.get_rope_index(
            batch["input_ids"],
            batch["mm_token_type_ids"],
            batch.get("image_grid_thw"),
            attention_mask=batch["attention_mask"],
        )
        return position_ids

    def forward(self, batch: Batch, inputs_embeds: torch.Tensor) -> torch.Tensor:
        pixel_values = batch.get("pixel_values")
        out = self.backbone(
            # input_ids only locate the image tokens; the embeddings come from inputs_embeds.
            input_ids=batch["input_ids"],
            inputs_embeds=inputs_embeds,
            attention_mask=batch["attention_mask"],
            position_ids=self.position_ids(batch),
            pixel_values=pixel_values,
            image_grid_thw=batch.get("image_grid_thw") if pixel_values is not None else None,
            use_cache=False,
        )
        return out.last_hidden_state

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path, *, weights: bool) -> None:
        """Tokenizer and image processor into ``directory``; weights into ``directory/backbone``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.processor.save(directory)
        if weights:
            self.backbone.save_pretrained(directory / "backbone")

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        dtype: torch.dtype | None = None,
        processor_dir: str | Path | None = None,
        **options: Any,
    ) -> QwenVLAdapter:
        """Load a Qwen2.5-VL or Qwen2-VL backbone (the folder's ``model_type`` decides).

        ``source`` is a checkpoint folder or a Hugging Face id already in the local cache;
        nothing is downloaded. ``dtype`` defaults to float32. ``options`` are those of
        ``options()``: processor settings plus ``attn_implementation``.
        """
        folder = resolve_backbone(source)
        adapter_cls = _adapter_for(folder)
        # attn_implementation goes to from_pretrained; every other option is the processor's.
        attn = options.pop("attn_implementation", None)
        extra = {"attn_implementation": attn} if attn else {}
        backbone = load_weights(
            adapter_cls.model_class, folder, dtype=dtype or torch.float32, key_mapping=_NESTED_VISUAL, **extra
        )
        with quiet_transformers():
            processor = QwenVLProcessor.load(Path(processor_dir or folder), **options)
        return adapter_cls(backbone, processor, attn_implementation=attn)


class Qwen2VLAdapter(QwenVLAdapter):
    """Qwen2-VL: same prompts and layout, its own model class."""

    family: ClassVar[str] = "qwen2_vl"
    model_class: ClassVar[type] = Qwen2VLModel


_BY_MODEL_TYPE: dict[str, type[QwenVLAdapter]] = {
    "qwen2_5_vl": QwenVLAdapter,
    "qwen2_vl": Qwen2VLAdapter,
}


def _adapter_for(folder: Path) -> type[QwenVLAdapter]:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise OSError(f"{folder} has no config.json; pass a Qwen2-VL or Qwen2.5-VL checkpoint folder")
    model_type = json.loads(config_path.read_text()).get("model_type")
    if model_type not in _BY_MODEL_TYPE:
        raise ValueError(
            f"{folder} holds a {model_type!r} model; the Qwen-VL adapter reads "
            f"{' or '.join(sorted(_BY_MODEL_TYPE))} checkpoints"
        )
    return _BY_MODEL_TYPE[model_type]
