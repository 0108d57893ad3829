"""Distillation of a single-vector teacher into every budget group of a MetaEmbed student.

For each group ``g = (r_q, r_c)`` the student's in-batch MaxSim scores, scaled like the MMR loss
(÷ ``r_q`` by default) and divided by ``temperature``, form a distribution over the batch's
documents for each query; the teacher's cosines (:mod:`.teacher`) divided by
``teacher_temperature`` form another. The loss is ``KL(teacher ‖ student)`` averaged over queries,
and the groups are combined as ``Σ w_g L_g / G`` like :class:`~.mmr.MMRLoss`. It needs no labels,
only texts the teacher can read: in the spirit of score distillation for multi-vector retrievers
(Santhanam et al., 2022, ColBERTv2, arXiv 2112.01488 §3) with a bi-encoder teacher.

``regression_loss`` is the optional other half of issue 16's probe: ``1 - cos`` between the
student's first query and document vectors and the teacher's vectors (same width required).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..budget import Budget, BudgetLike
from ..scoring import maxsim_train
from .mmr import SCORE_SCALES, ScoreScale, group_scale

__all__ = ["DistillLoss"]


class DistillLoss(nn.Module):
    def __init__(
        self,
        groups: Sequence[BudgetLike],
        *,
        weights: Sequence[float] | None = None,
        temperature: float = 0.05,
        teacher_temperature: float = 0.05,
        score_scale: ScoreScale = "per_query_vector",
    ) -> None:
        super().__init__()
        self.groups = [Budget.parse(g) for g in groups]
        if not self.groups:
            raise ValueError("DistillLoss needs at least one budget group")
        if weights is not None and len(weights) != len(self.groups):
            raise ValueError(f"got {len(weights)} weights for {len(self.groups)} groups")
        if temperature <= 0 or teacher_temperature <= 0:
            raise ValueError(f"temperatures must be > 0, got {temperature} and {teacher_temperature}")
        if score_scale not in SCORE_SCALES:
            raise ValueError(f"score_scale must be one of {SCORE_SCALES}, got {score_scale!r}")
        self.weights = [float(w) for w in weights or [1.0] * len(self.groups)]
        self.temperature = temperature
        self.teacher_temperature = teacher_temperature
        self.score_scale: ScoreScale = score_scale

    def group_losses(
        self, queries: torch.Tensor, documents: torch.Tensor, teacher_scores: torch.Tensor
    ) -> list[torch.Tensor]:
        """One KL per group: ``queries [B, R_q, D]``, ``documents [N, R_c, D]``, ``teacher_scores [B, N]``."""
        if teacher_scores.shape != (queries.shape[0], documents.shape[0]):
            raise ValueError(
                f"teacher_scores must be [B={queries.shape[0]}, N={documents.shape[0]}], "
                f"got {tuple(teacher_scores.shape)}"
            )
        dtype = torch.promote_types(queries.dtype, torch.float32)
        target = F.log_softmax(teacher_scores.to(queries.device, dtype) / self.teacher_temperature, dim=1)
        losses = []
        for group in self.groups:
            scores = maxsim_train(queries, documents, group)
            student = F.log_softmax(scores * (group_scale(group, self.score_scale) / self.temperature), dim=1)
            losses.append((target.exp() * (target - student.to(dtype))).sum(dim=1).mean())
        return losses

    def combine(self, losses: Sequence[torch.Tensor]) -> torch.Tensor:
        return sum(w * loss for w, loss in zip(self.weights, losses, strict=True)) / len(losses)

    def forward(
        self, queries: torch.Tensor, documents: torch.Tensor, teacher_scores: torch.Tensor
    ) -> torch.Tensor:
        return self.combine(self.group_losses(queries, documents, teacher_scores))

    @staticmethod
    def regression_loss(
        queries: torch.Tensor,
        documents: torch.Tensor,
        teacher_queries: torch.Tensor,
        teacher_documents: torch.Tensor,
    ) -> torch.Tensor:
        """Mean ``1 - cos`` of the student's first query / document vectors and the teacher's vectors."""
        if queries.shape[-1] != teacher_queries.shape[-1]:
            raise ValueError(
                f"regression needs the student's width ({queries.shape[-1]}) to equal the "
                f"teacher's ({teacher_queries.shape[-1]})"
            )
        q = F.cosine_similarity(queries[:, 0], teacher_queries.to(queries), dim=-1)
        d = F.cosine_similarity(documents[:, 0], teacher_documents.to(documents), dim=-1)
        return ((1 - q).mean() + (1 - d).mean()) / 2
