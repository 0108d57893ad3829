"""Training checkpoints: written atomically, found again, and restored exactly.

A checkpoint is a folder ``checkpoint-<step>`` holding

    metaembed_config.json, metaembed.safetensors, lora/, processor/   the model (``save_pretrained``)
    training_state.pt      optimiser, scheduler and RNG states (python, numpy, torch, CUDA)
    trainer_state.json     step, position in the data, elapsed time; written last

It is first written to ``.checkpoint-<step>.tmp`` and then renamed, so a run killed while saving
leaves a temporary folder that is ignored (and replaced by the next save), never a broken
``checkpoint-<step>``. The folder is itself a model: ``MetaEmbed.from_pretrained`` loads it.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from peft import PeftModel, set_peft_model_state_dict
from safetensors.torch import load_file

from ..model.checkpoint import WEIGHTS_NAME
from ..model.config import MetaEmbedConfig

if TYPE_CHECKING:
    from ..model.metaembed import MetaEmbed

__all__ = [
    "TrainerState",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_trained_weights",
    "save_checkpoint",
    "write_atomically",
]

STATE_NAME = "trainer_state.json"
TRAINING_STATE_NAME = "training_state.pt"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class TrainerState:
    """Where a run stands after ``step`` optimiser steps."""

    step: int = 0
    #: The epoch being read and how many of its batches are consumed (the data plan is a function
    #: of the seed and the epoch, so this pins the next batch exactly).
    epoch: int = 0
    batches_in_epoch: int = 0
    examples_seen: int = 0
    elapsed_seconds: float = 0.0
    dropped_negatives: int = 0
    #: Settings that decide the data order; a resume with other values warns.
    data_signature: dict[str, Any] | None = None


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``output_dir``, oldest step first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _CHECKPOINT.match(p.name)) and (p / STATE_NAME).is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint in ``output_dir``, or ``None``."""
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1] if checkpoints else None


def write_atomically(target: Path, write: Any) -> Path:
    """Call ``write(tmp_dir)`` and then move ``tmp_dir`` to ``target`` (replacing it)."""
    tmp = target.with_name(f".{target.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)  # left by a run that died while saving
    tmp.mkdir(parents=True)
    write(tmp)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


def _rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {**numpy_state, "state": {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v
                                           for k, v in numpy_state["state"].items()}},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuples(state["python"]))
    numpy_state = state["numpy"]
    np.random.set_state({**numpy_state, "state": {k: v.numpy() if isinstance(v, torch.Tensor) else v
                                                  for k, v in numpy_state["state"].items()}})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value: Any) -> Any:
    # random.setstate wants the exact nested tuples getstate returned.
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(
    output_dir: Path,
    model: MetaEmbed,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: TrainerState,
    *,
    keep_last: int | None = None,
) -> Path:
    """Write ``output_dir/checkpoint-<step>`` atomically, then drop checkpoints beyond ``keep_last``."""

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": _rng_state()}, folder / TRAINING_STATE_NAME)
        (folder / STATE_NAME).write_text(json.dumps(asdict(state), indent=2) + "\n")  # last: marks complete

    path = write_atomically(output_dir / f"checkpoint-{state.step}", write)
    if keep_last is not None:
        for old in list_checkpoints(output_dir)[:-keep_last]:
            shutil.rmtree(old)
    return path


#: Settings a checkpoint and the model resuming from it must share.
_SAME_SHAPE = ("family", "hidden_size", "num_query_tokens", "num_candidate_tokens", "projection_dim",
               "meta_layout")


def load_trained_weights(model: MetaEmbed, folder: Path) -> None:
    """Copy the meta embeddings, projection and LoRA weights saved in ``folder`` into ``model``."""
    saved = MetaEmbedConfig.load(folder)
    differ = [f"{key} {getattr(saved, key)!r} there, {getattr(model.config, key)!r} here"
              for key in _SAME_SHAPE if getattr(saved, key) != getattr(model.config, key)]
    if differ:
        raise ValueError(f"{folder} was trained with another model setup ({'; '.join(differ)}); "
                         "resume with the settings of that run or start a new output_dir")
    heads = load_file(str(folder / WEIGHTS_NAME))
    with torch.no_grad():
        model.meta_embeddings.weight.copy_(heads["meta_embeddings.weight"])
        if model.projection is not None:
            model.projection.weight.copy_(heads["projection.weight"])
            model.projection.bias.copy_(heads["projection.bias"])
    backbone = model.adapter.backbone
    lora_file = folder / "lora" / "adapter_model.safetensors"
    if isinstance(backbone, PeftModel) != lora_file.is_file():
        raise ValueError(
            f"{folder} was saved {'with' if lora_file.is_file() else 'without'} a LoRA adapter but the "
            "model being trained is not set up the same way; resume with the settings of that run"
        )
    if isinstance(backbone, PeftModel):
        result = set_peft_model_state_dict(backbone, load_file(str(lora_file)))
        if result.unexpected_keys:
            raise ValueError(f"{lora_file}: LoRA weights do not fit this model: {result.unexpected_keys[:3]}")


def load_checkpoint(folder: Path, model: MetaEmbed, optimizer: torch.optim.Optimizer,
                    scheduler: Any) -> TrainerState:
    """Restore ``model``'s trained weights, the optimiser, the scheduler and the RNGs from ``folder``."""
    if not (folder / STATE_NAME).is_file():
        raise FileNotFoundError(f"{folder} is not a complete training checkpoint: it has no {STATE_NAME}")
    load_trained_weights(model, folder)
    saved = torch.load(folder / TRAINING_STATE_NAME, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    _set_rng_state(saved["rng"])
    return TrainerState(**json.loads((folder / STATE_NAME).read_text()))
