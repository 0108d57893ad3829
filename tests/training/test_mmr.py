"""The MMR loss against a hand-computed reference (plain Python floats, no torch ops)."""

import math

import pytest
import torch

from metaembed_rag.budget import Budget
from metaembed_rag.training.mmr import MMRLoss


def maxsim_py(q, c, r_q, r_c):
    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    return sum(max(dot(q[i], c[j]) for j in range(r_c)) for i in range(r_q))


def info_nce_py(logits_rows, temperature):
    total = 0.0
    for i, row in enumerate(logits_rows):
        scaled = [x / temperature for x in row]
        top = max(scaled)
        total += -(scaled[i] - top - math.log(sum(math.exp(x - top) for x in scaled)))
    return total / len(logits_rows)


def reference(q, pos, neg, groups, weights, temperature, reduction, score_scale="per_query_vector"):
    """Each group's InfoNCE at temperature τ·r_q (per_query_vector) or τ (none)."""
    losses = []
    for r_q, r_c in groups:
        rows = []
        for i in range(len(q)):
            row = [maxsim_py(q[i], p, r_q, r_c) for p in pos]
            row += [maxsim_py(q[i], n, r_q, r_c) for n in (neg[i] if neg is not None else [])]
            rows.append(row)
        group_temperature = temperature * r_q if score_scale == "per_query_vector" else temperature
        losses.append(info_nce_py(rows, group_temperature))
    total = sum(w * loss for w, loss in zip(weights, losses, strict=True))
    return total / len(losses) if reduction == "mean" else total


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(3, 4, 5, generator=g, dtype=torch.float64), dim=-1)
    pos = torch.nn.functional.normalize(torch.randn(3, 6, 5, generator=g, dtype=torch.float64), dim=-1)
    neg = torch.nn.functional.normalize(torch.randn(3, 2, 6, 5, generator=g, dtype=torch.float64), dim=-1)
    return q, pos, neg


GROUPS = [(1, 1), (2, 3), (4, 6)]


@pytest.mark.parametrize("score_scale", ["per_query_vector", "unscaled"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("with_negatives", [False, True])
def test_matches_hand_computed_reference(batch, reduction, with_negatives, score_scale):
    q, pos, neg = batch
    neg = neg if with_negatives else None
    weights = [1.0, 0.5, 2.0]
    loss = MMRLoss(GROUPS, weights=weights, temperature=0.03, reduction=reduction,
                   score_scale=score_scale)(q, pos, neg)
    expected = reference(q.tolist(), pos.tolist(), None if neg is None else neg.tolist(),
                         GROUPS, weights, 0.03, reduction, score_scale)
    assert loss.item() == pytest.approx(expected, rel=1e-9)


def test_per_query_vector_is_the_default_and_equals_a_temperature_per_group(batch):
    q, pos, neg = batch
    default = MMRLoss(GROUPS).group_losses(q, pos, neg)
    for (r_q, r_c), loss in zip(GROUPS, default, strict=True):
        unscaled = MMRLoss([(r_q, r_c)], temperature=0.03 * r_q, score_scale="unscaled")(q, pos, neg)
        assert loss.item() == pytest.approx(unscaled.item(), rel=1e-12)
    # The two settings differ wherever r_q > 1 and agree on (1, 1).
    none = MMRLoss(GROUPS, score_scale="unscaled").group_losses(q, pos, neg)
    assert none[0].item() == pytest.approx(default[0].item(), rel=1e-12)
    assert all(abs(a.item() - b.item()) > 1e-3 for a, b in zip(none[1:], default[1:], strict=True))


def test_modes_select_the_paper_groups(batch):
    q, pos, neg = batch
    assert MMRLoss(GROUPS, mode="nommr").groups == [Budget(4, 6)]
    assert MMRLoss(GROUPS, mode="single").groups == [Budget(1, 1)]
    full_only = MMRLoss([(4, 6)])(q, pos, neg)
    assert MMRLoss(GROUPS, mode="nommr")(q, pos, neg).item() == pytest.approx(full_only.item())


def test_every_prefix_gets_gradient_only_with_mmr(batch):
    q, pos, _ = batch
    grads = {}
    for mode in ("mmr", "single"):
        qq = q.clone().requires_grad_(True)
        MMRLoss(GROUPS, mode=mode)(qq, pos).backward()
        grads[mode] = qq.grad.abs().sum(dim=(0, 2))  # per query-vector slot
    assert (grads["mmr"] > 0).all()
    assert grads["single"][0] > 0 and (grads["single"][1:] == 0).all()


def test_a_perfect_batch_has_near_zero_loss():
    eye = torch.eye(4, dtype=torch.float64)
    q = eye[:, None, :].repeat(1, 2, 1)  # query i points along axis i
    pos = eye[:, None, :].repeat(1, 3, 1)
    # Positive scores r_q, the three others 0. Scaled by 1/r_q, each group's loss is
    # log(1 + 3·exp(-1/τ)); unscaled it is log(1 + 3·exp(-r_q/τ)).
    expected = math.log1p(3 * math.exp(-1 / 0.03))
    assert MMRLoss([(1, 1), (2, 3)])(q, pos).item() == pytest.approx(expected, rel=1e-6)
    unscaled = (math.log1p(3 * math.exp(-1 / 0.03)) + math.log1p(3 * math.exp(-2 / 0.03))) / 2
    loss = MMRLoss([(1, 1), (2, 3)], score_scale="unscaled")(q, pos)
    assert loss.item() == pytest.approx(unscaled, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": []}, "at least one budget group"),
        ({"weights": [1.0]}, "got 1 weights for 3 groups"),
        ({"temperature": 0}, "temperature must be > 0"),
        ({"mode": "other"}, "mode must be"),
        ({"reduction": "max"}, "reduction must be"),
        ({"score_scale": "r_c"}, "score_scale must be one of"),
    ],
)
def test_bad_configuration_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MMRLoss(**({"groups": GROUPS} | kwargs))


def test_shape_errors_name_the_fix(batch):
    q, pos, neg = batch
    with pytest.raises(ValueError, match="3 queries but 2 positives"):
        MMRLoss(GROUPS)(q, pos[:2])
    with pytest.raises(ValueError, match=r"negatives must be \[B=3, n, R_c, D\]"):
        MMRLoss(GROUPS)(q, pos, neg[0])
