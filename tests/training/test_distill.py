"""Distillation: the KL loss and the regression term against plain-Python references, the teacher
vectors against the encoders they come from, their disk cache, and a distillation stage in the
trainer."""

import json
import math

import pytest
import torch

from metaembed_rag.evaluation.passages import PassageEncoder, max_passage_scores
from metaembed_rag.evaluation.retrievers import MeanPooledEncoder
from metaembed_rag.model.inputs import EncoderInput
from metaembed_rag.training import teacher as teacher_module
from metaembed_rag.training.batching import collate
from metaembed_rag.training.distill import DistillLoss
from metaembed_rag.training.examples import TrainingExample
from metaembed_rag.training.mmr import MMRLoss
from metaembed_rag.training.objective import TrainingObjective
from metaembed_rag.training.teacher import TeacherSettings, load_or_build_teacher
from metaembed_rag.training.trainer import Trainer

from ._toy import FACTS, arguments, examples, small_minilm
from .test_mmr import maxsim_py

GROUPS = [(1, 1), (2, 3), (4, 6)]


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    q = torch.nn.functional.normalize(torch.randn(3, 4, 5, generator=g, dtype=torch.float64), dim=-1)
    docs = torch.nn.functional.normalize(torch.randn(3, 6, 5, generator=g, dtype=torch.float64), dim=-1)
    teacher = torch.rand(3, 3, generator=g, dtype=torch.float64) * 2 - 1
    return q, docs, teacher


def softmax_py(row):
    top = max(row)
    exps = [math.exp(x - top) for x in row]
    return [e / sum(exps) for e in exps]


def kl_reference(q, docs, teacher, groups, weights, tau, tau_t, score_scale):
    losses = []
    for r_q, r_c in groups:
        scale = 1 / r_q if score_scale == "per_query_vector" else 1.0
        total = 0.0
        for i in range(len(q)):
            p = softmax_py([t / tau_t for t in teacher[i]])
            s = softmax_py([maxsim_py(q[i], d, r_q, r_c) * scale / tau for d in docs])
            total += sum(pj * (math.log(pj) - math.log(sj)) for pj, sj in zip(p, s, strict=True))
        losses.append(total / len(q))
    return sum(w * loss for w, loss in zip(weights, losses, strict=True)) / len(losses)


@pytest.mark.parametrize("score_scale", ["per_query_vector", "unscaled"])
def test_kl_matches_hand_computed_reference(batch, score_scale):
    q, docs, teacher = batch
    weights = [1.0, 0.5, 2.0]
    loss = DistillLoss(
        GROUPS, weights=weights, temperature=0.05, teacher_temperature=0.02, score_scale=score_scale
    )(q, docs, teacher)
    expected = kl_reference(
        q.tolist(), docs.tolist(), teacher.tolist(), GROUPS, weights, 0.05, 0.02, score_scale
    )
    assert loss.item() == pytest.approx(expected, rel=1e-9)


def test_kl_is_zero_when_the_student_scores_like_the_teacher(batch):
    q, docs, _ = batch
    # The (4, 6) group's scores ÷ 4 as the teacher's cosines, at the same temperature:
    # identical distributions.
    teacher = torch.tensor(
        [[maxsim_py(a, d, 4, 6) / 4 for d in docs.tolist()] for a in q.tolist()], dtype=torch.float64
    )
    assert DistillLoss([(4, 6)])(q, docs, teacher).item() == pytest.approx(0.0, abs=1e-12)
    assert DistillLoss([(1, 1)])(q, docs, teacher).item() > 1e-3


def test_regression_is_one_minus_cosine_of_the_first_vectors(batch):
    q, docs, _ = batch
    g = torch.Generator().manual_seed(2)
    tq, td = (
        torch.randn(3, 5, generator=g, dtype=torch.float64),
        torch.randn(3, 5, generator=g, dtype=torch.float64),
    )

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
            sum(x * x for x in a) * sum(y * y for y in b)
        )

    expected = (
        sum(1 - cos(q[i, 0].tolist(), tq[i].tolist()) for i in range(3)) / 3
        + sum(1 - cos(docs[i, 0].tolist(), td[i].tolist()) for i in range(3)) / 3
    ) / 2
    assert DistillLoss.regression_loss(q, docs, tq, td).item() == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="student's width"):
        DistillLoss.regression_loss(q, docs, tq[:, :4], td[:, :4])


LONG = " ".join(f"Section {i} explains how the plotting command draws axis number {i}." for i in range(40))


def text_examples() -> list[TrainingExample]:
    rows = [(q, p) for q, p, _ in FACTS] + [("long manual page", LONG)]
    return [
        TrainingExample(EncoderInput(text=q), EncoderInput(text=p), positive_id=str(i))
        for i, (q, p) in enumerate(rows)
    ]


@pytest.fixture(scope="module")
def encoder():
    return MeanPooledEncoder()


def test_mean_teacher_is_mean_pooled_minilm_and_cached(tmp_path, encoder, monkeypatch):
    data = text_examples()
    teacher = load_or_build_teacher(TeacherSettings("mean"), data, tmp_path, show_progress_bar=False)
    queries, documents = [e.query.text for e in data], [e.positive.text for e in data]
    expected = encoder.encode(queries) @ encoder.encode(documents).T
    torch.testing.assert_close(teacher.scores(queries, documents), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(
        teacher.document_means(documents[:2]), encoder.encode(documents[:2]), atol=1e-6, rtol=0
    )
    assert len(list(tmp_path.glob("teacher-*.safetensors"))) == 1

    def no_encoding(*args, **kwargs):
        raise AssertionError("the cached teacher vectors should have been read")

    monkeypatch.setattr(teacher_module, "_encode", no_encoding)
    again = load_or_build_teacher(TeacherSettings("mean"), list(reversed(data)), tmp_path)
    assert torch.equal(again.scores(queries, documents), teacher.scores(queries, documents))
    with pytest.raises(AssertionError, match="cached teacher"):  # other data or settings: another key
        load_or_build_teacher(TeacherSettings("mean"), data[:-1], tmp_path)
    with pytest.raises(AssertionError, match="cached teacher"):
        load_or_build_teacher(TeacherSettings("mean", max_seq_length=128), data, tmp_path)
    with pytest.raises(KeyError, match="no cached teacher vector"):
        teacher.scores(["an unseen query"], documents[:1])


def test_chunked_teacher_scores_the_best_passage(tmp_path, encoder):
    data = text_examples()
    teacher = load_or_build_teacher(TeacherSettings("chunked"), data, tmp_path, show_progress_bar=False)
    queries, documents = [e.query.text for e in data], [e.positive.text for e in data]
    passages = PassageEncoder(encoder).encode(documents)
    assert int((passages.owners == len(data) - 1).sum()) >= 3  # the long page has several passages
    expected = max_passage_scores(encoder.encode(queries), passages)
    # Any order of the batch's documents: columns follow the texts asked for.
    order = [8, 0, 5, 3]
    torch.testing.assert_close(
        teacher.scores(queries, [documents[i] for i in order]), expected[:, order], atol=1e-6, rtol=0
    )


def test_objective_weights_the_terms(batch, tmp_path):
    data = text_examples()[:3]
    teacher = load_or_build_teacher(TeacherSettings("mean"), data, tmp_path, show_progress_bar=False)
    g = torch.Generator().manual_seed(3)
    q = torch.nn.functional.normalize(torch.randn(3, 4, 384, generator=g), dim=-1)
    docs = torch.nn.functional.normalize(torch.randn(3, 6, 384, generator=g), dim=-1)
    mmr, distill = MMRLoss(GROUPS), DistillLoss(GROUPS)
    texts = ([e.query.text for e in data], [e.positive.text for e in data])
    kl = distill(q, docs, teacher.scores(*texts))
    regression = distill.regression_loss(
        q, docs, teacher.query_vectors(texts[0]), teacher.document_means(texts[1])
    )
    b = collate(data)
    total, parts = TrainingObjective(mmr, 0.0, distill, 1.0, teacher=teacher)(q, docs, None, b)
    assert total.item() == pytest.approx(kl.item(), rel=1e-6)
    assert set(parts) == {"kl (1,1)", "kl (2,3)", "kl (4,6)"}
    total, parts = TrainingObjective(mmr, 1.0, distill, 0.5, 0.25, teacher=teacher)(q, docs, None, b)
    expected = mmr(q, docs).item() + 0.5 * kl.item() + 0.25 * regression.item()
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert set(parts) == {"(1,1)", "(2,3)", "(4,6)", "kl (1,1)", "kl (2,3)", "kl (4,6)", "regression"}
    with pytest.raises(ValueError, match="needs a DistillLoss and teacher vectors"):
        TrainingObjective(mmr, 1.0, None, 0.5)
    with pytest.raises(ValueError, match="not all 0"):
        TrainingObjective(mmr, 0.0)


def test_a_distillation_stage_trains_toward_the_teacher(tmp_path):
    model = small_minilm()
    args = arguments(
        tmp_path / "run",
        max_steps=8,
        contrastive_weight=0.0,
        distill_weight=1.0,
        distill_regression_weight=1.0,
        distill_cache_dir=tmp_path / "cache",
    )
    trainer = Trainer(model, args, examples())
    result = trainer.train()
    assert sum(result.losses[-2:]) / 2 < 0.5 * sum(result.losses[:2]) / 2, result.losses
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert set(log[0]["group_losses"]) == {"kl (1,1)", "kl (2,4)", "regression"}
    assert len(list((tmp_path / "cache").glob("teacher-*.safetensors"))) == 1
    assert json.loads((tmp_path / "run" / "training_args.json").read_text())["args"]["distill_weight"] == 1.0
