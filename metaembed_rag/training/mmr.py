"""Matryoshka Multi-Vector Retrieval (MMR) loss.

MetaEmbed (Xiao et al., 2025, arXiv 2509.18095, §3.2) trains nested prefixes of the query and
candidate meta-token vectors together: for each group ``g = (r_q, r_c)`` of the budget ladder
an InfoNCE loss is computed on MaxSim scores over the first ``r_q`` query and ``r_c`` candidate
vectors, and the groups are combined as ``Σ_g w_g L_g / G``, as in the official training code
(the paper writes the sum, available as ``reduction="sum"``). Each query is contrasted against
every in-batch positive plus its own hard negatives, at temperature τ = 0.03.

Logit scale per group. MaxSim sums ``r_q`` maxima, so at one temperature the ``(16, 64)`` group's
logits are up to 16 times sharper than those of ``(1, 1)``: its loss starts near 23 with gradient
norms about 30 and dominates the ladder (issue 16's probe). ``score_scale="per_query_vector"``
(the default) divides each group's scores by its ``r_q`` before the temperature, i.e. a per-group
temperature ``τ·r_q``, so every group's logits lie in ``[-1/τ, 1/τ]``. Ranking at inference is
unchanged (a constant factor per budget). ``score_scale="unscaled"`` is the official code's loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..budget import LADDER, Budget, BudgetLike
from ..scoring import maxsim_train

__all__ = ["SCORE_SCALES", "MMRLoss", "group_scale"]

Mode = Literal["mmr", "nommr", "single"]
ScoreScale = Literal["per_query_vector", "unscaled"]
SCORE_SCALES: tuple[str, ...] = ("per_query_vector", "unscaled")


def group_scale(group: Budget, score_scale: ScoreScale) -> float:
    """The factor that multiplies ``group``'s MaxSim scores before the temperature."""
    return 1.0 / group.r_q if score_scale == "per_query_vector" else 1.0


class MMRLoss(nn.Module):
    """InfoNCE over nested budget groups.

    ``mode="mmr"`` trains every group of ``groups`` (the ladder by default); ``"nommr"`` only the
    full group (the paper's NoMMR ablation); ``"single"`` only ``(1, 1)``, the single-vector
    baseline. ``score_scale`` is described in the module docstring.
    """

    def __init__(
        self,
        groups: Sequence[BudgetLike] = LADDER,
        *,
        weights: Sequence[float] | None = None,
        temperature: float = 0.03,
        reduction: Literal["mean", "sum"] = "mean",
        mode: Mode = "mmr",
        score_scale: ScoreScale = "per_query_vector",
    ) -> None:
        super().__init__()
        budgets = [Budget.parse(g) for g in groups]
        if not budgets:
            raise ValueError("MMRLoss needs at least one budget group")
        if weights is not None and len(weights) != len(budgets):
            raise ValueError(f"got {len(weights)} weights for {len(budgets)} groups")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if mode not in ("mmr", "nommr", "single"):
            raise ValueError(f"mode must be 'mmr', 'nommr' or 'single', got {mode!r}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if score_scale not in SCORE_SCALES:
            raise ValueError(f"score_scale must be one of {SCORE_SCALES}, got {score_scale!r}")
        pairs = list(zip(budgets, weights or [1.0] * len(budgets), strict=True))
        if mode == "nommr":
            pairs = [max(pairs, key=lambda p: (p[0].r_q * p[0].r_c, p[0]))]
        elif mode == "single":
            pairs = [(Budget(1, 1), 1.0)]
        self.groups = [b for b, _ in pairs]
        self.weights = [float(w) for _, w in pairs]
        self.temperature = temperature
        self.reduction = reduction
        self.mode = mode
        self.score_scale: ScoreScale = score_scale

    def group_losses(
        self, queries: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """One InfoNCE loss per group.

        ``queries`` ``[B, R_q, D]``, ``positives`` ``[B, R_c, D]`` (row i is query i's positive),
        ``negatives`` ``[B, n, R_c, D]`` (query i's own hard negatives) or ``None``.
        """
        batch = queries.shape[0]
        if positives.shape[0] != batch:
            raise ValueError(
                f"{batch} queries but {positives.shape[0]} positives; pass one positive per query"
            )
        if negatives is not None and (negatives.dim() != 4 or negatives.shape[0] != batch):
            raise ValueError(f"negatives must be [B={batch}, n, R_c, D], got {tuple(negatives.shape)}")
        labels = torch.arange(batch, device=queries.device)
        losses = []
        for group in self.groups:
            logits = maxsim_train(queries, positives, group)  # [B, B]: every in-batch positive
            if negatives is not None:
                own = torch.stack([maxsim_train(queries[i : i + 1], negatives[i], group)[0]
                                   for i in range(batch)])  # [B, n]: each query's own negatives
                logits = torch.cat([logits, own], dim=1)
            scale = group_scale(group, self.score_scale) / self.temperature
            losses.append(F.cross_entropy(logits * scale, labels))
        return losses

    def combine(self, losses: Sequence[torch.Tensor]) -> torch.Tensor:
        """The total loss from ``group_losses``' output: ``Σ w_g L_g / G`` (or the sum)."""
        total = sum(w * loss for w, loss in zip(self.weights, losses, strict=True))
        return total / len(losses) if self.reduction == "mean" else total

    def forward(
        self, queries: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.combine(self.group_losses(queries, positives, negatives))
