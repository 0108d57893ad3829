"""MMR training of a MetaEmbed model (Xiao et al., 2025, arXiv 2509.18095, §3.2).

LoRA adapts the backbone; the meta embeddings and the projection are trained fully; everything
else is frozen. Each step embeds a batch of queries and their documents (positives, then hard
negatives) at the full budget through ``model.prepare`` / ``model(...)`` and applies the
:class:`~.objective.TrainingObjective`: :class:`MMRLoss`, whose groups slice those embeddings,
and optionally distillation from cached teacher vectors (:mod:`.distill`, :mod:`.teacher`).
Runs checkpoint atomically and resume
bit-identically (same data order, RNG streams, optimiser and scheduler state).

``output_dir`` after a run::

    checkpoint-<step>/     every ``save_every`` steps and at the end (a loadable model + training state)
    final/                 the trained model (``MetaEmbed.from_pretrained(output_dir / "final")``)
    log.jsonl              one line per ``log_every`` steps: loss, per-group losses, lr, examples/s
    training_args.json     the arguments, model config, steps, elapsed seconds, parameter counts
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import PeftModel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..budget import Budget, ladder_for
from ..model.metaembed import MetaEmbed
from .arguments import TrainingArguments
from .batching import NoDuplicatesBatches, TrainingBatch, collate, positive_keys
from .distill import DistillLoss
from .examples import TrainingExample
from .mmr import MMRLoss
from .objective import TrainingObjective
from .state import TrainerState, latest_checkpoint, load_checkpoint, save_checkpoint, write_atomically

__all__ = ["TrainResult", "Trainer", "TrainingArguments"]

logger = logging.getLogger(__name__)

LOG_NAME = "log.jsonl"
ARGS_NAME = "training_args.json"
FINAL_NAME = "final"
_SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


@dataclass
class TrainResult:
    """What ``Trainer.train`` did. ``losses`` are this call's per-step losses (not a resumed run's)."""

    output_dir: Path
    final_model_dir: Path
    steps: int
    total_steps: int
    losses: list[float]
    elapsed_seconds: float
    trainable_parameters: dict[str, int]
    resumed_from: Path | None = None
    dropped_negatives: int = 0

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None


def _as_list(items: list[TrainingExample]) -> list[TrainingExample]:
    return items  # a module-level collate_fn, so DataLoader workers can pickle it


class Trainer:
    """Train ``model`` on ``train_examples`` with the MMR loss; ``train()`` runs to the end.

    ``train_examples`` may be lazy (a ``Sequence`` resolving files in ``__getitem__``); examples
    are read by ``args.num_workers`` DataLoader workers and tokenised in the main process. The
    model is modified in place (LoRA is added, parameters are frozen).
    """

    def __init__(self, model: MetaEmbed, args: TrainingArguments, train_examples: Sequence[TrainingExample],
                 loss: MMRLoss | None = None) -> None:
        if len(train_examples) == 0:
            raise ValueError("the training set is empty; check the data paths in your config")
        self.model = model
        self.args = args
        self.examples = train_examples
        groups = args.groups or ladder_for(model.num_query_tokens, model.num_candidate_tokens)
        self.loss = loss or MMRLoss(
            groups, weights=args.group_weights, temperature=args.temperature, reduction=args.reduction,
            mode=args.loss_mode, score_scale=args.score_scale,
        )
        for group in self.loss.groups:
            Budget.parse(group).validate(model.num_query_tokens, model.num_candidate_tokens)
        self.objective = self._objective(args)
        self.device = _resolve_device(args.device)
        self.autocast = self.device.type == "cuda" and args.bf16
        _seed_everything(args.seed)
        self.trainable = _setup_parameters(model, args)
        if args.gradient_checkpointing:
            model.adapter.gradient_checkpointing_enable()
        model.to(self.device)
        self.batches = NoDuplicatesBatches(
            positive_keys(train_examples, show_progress_bar=args.show_progress_bar),
            args.batch_size, args.seed,
        )
        self.total_steps = self._total_steps()
        self.optimizer = torch.optim.AdamW(_param_groups(model, args))
        self.scheduler = get_scheduler(
            _SCHEDULERS[args.lr_scheduler], self.optimizer,
            num_warmup_steps=args.warmup_for(self.total_steps), num_training_steps=self.total_steps,
        )

    # ------------------------------------------------------------------ set-up
    def _objective(self, args: TrainingArguments) -> TrainingObjective:
        """MMR alone, or with the teacher (distillation groups: the MMR loss's groups)."""
        if not args.uses_teacher:
            return TrainingObjective(self.loss, contrastive_weight=args.contrastive_weight)
        from .teacher import TeacherSettings, load_or_build_teacher

        settings = TeacherSettings(
            kind=args.distill_teacher, backbone=args.distill_backbone,
            max_seq_length=args.distill_max_seq_length, passage_tokens=args.distill_passage_tokens,
            passage_overlap=args.distill_passage_overlap,
        )
        teacher = load_or_build_teacher(settings, self.examples, args.teacher_cache_dir(),
                                        show_progress_bar=args.show_progress_bar)
        distill = DistillLoss(
            self.loss.groups, weights=self.loss.weights, temperature=args.distill_temperature,
            teacher_temperature=args.distill_teacher_temperature, score_scale=args.score_scale,
        )
        return TrainingObjective(self.loss, contrastive_weight=args.contrastive_weight, distill=distill,
                                 distill_weight=args.distill_weight,
                                 regression_weight=args.distill_regression_weight, teacher=teacher)

    def _total_steps(self) -> int:
        accumulation = self.args.gradient_accumulation_steps
        if self.args.max_steps is not None:
            return self.args.max_steps
        batches = sum(len(self.batches.epoch(e)) for e in range(self.args.epochs or 1))
        if batches < accumulation:
            raise ValueError(
                f"{batches} batches of {self.args.batch_size} make no optimiser step with "
                f"gradient_accumulation_steps={accumulation}; add epochs or lower the accumulation"
            )
        return batches // accumulation

    def _data_signature(self) -> dict[str, Any]:
        args = self.args
        return {"examples": len(self.examples), "batch_size": args.batch_size, "seed": args.seed,
                "gradient_accumulation_steps": args.gradient_accumulation_steps}

    def _resume_from(self) -> Path | None:
        resume, output_dir = self.args.resume, self.args.output_dir
        existing = latest_checkpoint(output_dir)
        if resume is False:
            if existing is not None:
                raise FileExistsError(
                    f"{output_dir} already holds checkpoints ({existing.name}); resume from them "
                    "(resume='auto') or choose another output_dir"
                )
            return None
        if resume in (True, "auto"):
            if resume is True and existing is None:
                raise FileNotFoundError(f"resume=True but {output_dir} holds no complete checkpoint")
            return existing
        return Path(resume)

    # ------------------------------------------------------------------ training
    def train(self) -> TrainResult:
        """Train to ``total_steps``, resuming per ``args.resume``; saves the final model."""
        args, output_dir = self.args, self.args.output_dir
        output_dir.mkdir(parents=True, exist_ok=True)
        resumed_from = self._resume_from()
        state = TrainerState(data_signature=self._data_signature())
        if resumed_from is not None:
            state = load_checkpoint(resumed_from, self.model, self.optimizer, self.scheduler)
            if state.data_signature != self._data_signature():
                logger.warning("resuming %s with other data settings (%s, was %s): the data order differs",
                               resumed_from, self._data_signature(), state.data_signature)
                state.data_signature = self._data_signature()
            logger.info("resuming from %s at step %d", resumed_from, state.step)
        _trim_log(output_dir / LOG_NAME, state.step)
        losses = self._run(state)
        final_dir = write_atomically(output_dir / FINAL_NAME, self.model.save_pretrained)
        result = TrainResult(
            output_dir=output_dir, final_model_dir=final_dir, steps=state.step, total_steps=self.total_steps,
            losses=losses, elapsed_seconds=state.elapsed_seconds, trainable_parameters=self.trainable,
            resumed_from=resumed_from, dropped_negatives=state.dropped_negatives,
        )
        summary = {"args": args.to_dict(), "model": self.model.config.to_dict(),
                   "loss_groups": [str(g) for g in self.loss.groups], "num_examples": len(self.examples),
                   **{k: v for k, v in asdict(result).items() if k != "losses"}}
        (output_dir / ARGS_NAME).write_text(json.dumps(summary, indent=2, default=str) + "\n")
        return result

    def _run(self, state: TrainerState) -> list[float]:
        args, model = self.args, self.model
        accumulation = args.gradient_accumulation_steps
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        losses: list[float] = []
        window = _Window()
        micro = 0
        started = time.perf_counter() - state.elapsed_seconds
        model.train()
        bar = tqdm(total=self.total_steps, initial=state.step, desc="Training", unit="step",
                   disable=not args.show_progress_bar)
        stream = self._micro_batches(state.epoch, state.batches_in_epoch)
        try:
            if state.step >= self.total_steps:
                return losses
            for epoch, position, examples in stream:
                batch = collate(examples, args.num_negatives)
                total, group_losses = self._losses(batch)
                (total / accumulation).backward()
                window.add(total, group_losses, batch.size)
                state.dropped_negatives += batch.dropped_negatives
                state.examples_seen += batch.size
                micro += 1
                if micro % accumulation:
                    continue
                grad_norm = torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm or float("inf"))
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                state.step += 1
                state.epoch, state.batches_in_epoch = epoch, position
                state.elapsed_seconds = time.perf_counter() - started
                step_loss = window.step_loss(accumulation)
                losses.append(step_loss)
                bar.update(1)
                bar.set_postfix(loss=f"{window.mean_loss():.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
                done = state.step >= self.total_steps
                if state.step % args.log_every == 0 or done:
                    self._log(state, window, float(grad_norm), epoch, position)
                if args.save_every and (state.step % args.save_every == 0 or done):
                    save_checkpoint(args.output_dir, model, self.optimizer, self.scheduler, state,
                                    keep_last=args.keep_last_checkpoints)
                if done:
                    break
        finally:
            stream.close()  # stops DataLoader workers now, not at garbage collection
            bar.close()
            model.eval()
        return losses

    def _micro_batches(self, epoch: int, start: int) -> Iterator[tuple[int, int, list[TrainingExample]]]:
        """``(epoch, batches of that epoch consumed, examples)`` from a position on, epoch after epoch."""
        while True:
            plan = self.batches.epoch(epoch)
            loader = DataLoader(
                self.examples,  # type: ignore[arg-type]  # any Sequence is a map-style dataset
                batch_sampler=[list(b) for b in plan[start:]], collate_fn=_as_list,
                num_workers=self.args.num_workers,
                # Its own generator: the loader must not draw from the global torch RNG (dropout's).
                generator=torch.Generator().manual_seed(self.args.seed),
            )
            for offset, examples in enumerate(loader, start=start + 1):
                yield epoch, offset, examples
            epoch, start = epoch + 1, 0

    def _losses(self, batch: TrainingBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model = self.model
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            queries = model(self._on_device(model.prepare(batch.queries, is_query=True)), is_query=True)
            documents = model(self._on_device(model.prepare(batch.documents, is_query=False)), is_query=False)
        positives, negatives = documents[: batch.size], documents[batch.size :]
        if batch.num_negatives:
            negatives = negatives.view(batch.size, batch.num_negatives, *negatives.shape[1:])
        return self.objective(queries, positives, negatives if batch.num_negatives else None, batch)

    def _on_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _log(self, state: TrainerState, window: _Window, grad_norm: float, epoch: int, position: int) -> None:
        lrs = {group["name"].split("/")[0]: group["lr"] for group in self.optimizer.param_groups}
        record = {
            "step": state.step,
            "epoch": round(epoch + position / max(len(self.batches.epoch(epoch)), 1), 4),
            "loss": window.mean_loss(),
            "group_losses": window.mean_groups(),
            "lr": lrs.get("lora"),
            "meta_lr": lrs.get("meta"),
            "grad_norm": grad_norm,
            "elapsed_seconds": round(state.elapsed_seconds, 3),
            "examples_per_second": round(window.examples / (time.perf_counter() - window.started), 3),
            "dropped_negatives": state.dropped_negatives,
        }
        with (self.args.output_dir / LOG_NAME).open("a") as log:
            log.write(json.dumps(record) + "\n")
        window.reset()


class _Window:
    """Running sums between two log lines, and the current step's loss."""

    def __init__(self) -> None:
        self.reset()
        self.current = 0.0

    def reset(self) -> None:
        self.loss_sum, self.count, self.examples = 0.0, 0, 0
        self.group_sums: dict[str, float] = {}
        self.started = time.perf_counter()

    def add(self, total: torch.Tensor, groups: dict[str, torch.Tensor], size: int) -> None:
        for name, value in groups.items():
            self.group_sums[name] = self.group_sums.get(name, 0.0) + float(value.detach())
        self.loss_sum += float(total.detach())
        self.current += float(total.detach())
        self.count += 1
        self.examples += size

    def step_loss(self, accumulation: int) -> float:
        loss, self.current = self.current / accumulation, 0.0
        return loss

    def mean_loss(self) -> float:
        return self.loss_sum / max(self.count, 1)

    def mean_groups(self) -> dict[str, float]:
        return {name: s / max(self.count, 1) for name, s in self.group_sums.items()}


# ---------------------------------------------------------------------- helpers
def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} but CUDA is not available here; use device='auto' or 'cpu'")
    return resolved


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA


def _setup_parameters(model: MetaEmbed, args: TrainingArguments) -> dict[str, int]:
    """Freeze everything, add (or reopen) LoRA, unfreeze meta embeddings and projection; count."""
    model.requires_grad_(False)
    backbone = model.adapter.backbone
    if isinstance(backbone, PeftModel):
        if args.lora:  # a saved model with LoRA: keep training its adapter
            for name, param in backbone.named_parameters():
                param.requires_grad_(".lora_" in name)
    elif args.lora:
        model.add_lora(r=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout,
                       target_modules=args.lora_target_modules)
    model.meta_embeddings.requires_grad_(True)
    if model.projection is not None:
        model.projection.requires_grad_(True)
    counts = {"lora": 0, "meta_embeddings": 0, "projection": 0, "frozen": 0}
    for name, param in model.named_parameters():
        kind = name.split(".")[0] if not name.startswith("adapter.") else "lora"
        counts[kind if param.requires_grad else "frozen"] += param.numel()
    trainable = sum(v for k, v in counts.items() if k != "frozen")
    logger.info("trainable parameters: %s (%.2f%% of %s)", ", ".join(f"{k} {v:,}" for k, v in counts.items()),
                100 * trainable / max(trainable + counts["frozen"], 1), f"{trainable + counts['frozen']:,}")
    return counts


def _param_groups(model: MetaEmbed, args: TrainingArguments) -> list[dict[str, Any]]:
    """LoRA at ``learning_rate``, meta embeddings + projection at ``meta_learning_rate``; weight decay
    only on weight matrices (not on the meta embeddings, which are embeddings, or biases)."""
    groups: dict[tuple[str, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            rate = "meta" if name.startswith(("meta_embeddings", "projection")) else "lora"
            decay = param.ndim >= 2 and not name.startswith("meta_embeddings")
            groups.setdefault((rate, decay), []).append(param)
    if not groups:
        raise ValueError("nothing to train: the model has no trainable parameters")
    return [
        {"name": f"{rate}/{'decay' if decay else 'no_decay'}", "params": params,
         "lr": args.meta_learning_rate if rate == "meta" else args.learning_rate,
         "weight_decay": args.weight_decay if decay else 0.0}
        for (rate, decay), params in groups.items()
    ]


def _trim_log(path: Path, step: int) -> None:
    """Drop log lines past ``step``: a resumed run redoes those steps."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept))
