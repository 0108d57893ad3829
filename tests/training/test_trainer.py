"""The MMR Trainer on real backbones: it learns, freezes what it should, checkpoints and resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from metaembed_rag import MetaEmbed
from metaembed_rag.training.batching import collate
from metaembed_rag.training.examples import TrainingExample
from metaembed_rag.training.state import list_checkpoints
from metaembed_rag.training.trainer import Trainer

from ._toy import arguments, examples, image_examples, small_minilm, trainable_state


def frozen_snapshot(model: MetaEmbed) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}


def lora_module_names(model: MetaEmbed) -> set[str]:
    return {n.rsplit(".", 1)[-1] for n, m in model.adapter.backbone.named_modules() if hasattr(m, "lora_A")}


def logged_losses(output_dir: Path) -> list[tuple[int, float]]:
    lines = (output_dir / "log.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines)]


def test_minilm_learns_trains_only_lora_and_meta_and_saves_a_loadable_model(tmp_path: Path) -> None:
    model = small_minilm()
    meta_before = model.meta_embeddings.weight.detach().clone()
    args = arguments(tmp_path, max_steps=12, save_every=4, keep_last_checkpoints=2, log_every=4)
    trainer = Trainer(model, args, examples())
    frozen = frozen_snapshot(model)
    lora_b = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    result = trainer.train()

    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < 0.3 * first, result.losses
    assert len(result.losses) == result.steps == 12
    for name, value in frozen_snapshot(model).items():
        assert torch.equal(value, frozen[name]), f"frozen weight {name} changed"
    assert not torch.equal(model.meta_embeddings.weight, meta_before)
    assert all(not torch.equal(p, lora_b[n]) for n, p in model.named_parameters() if "lora_B" in n)

    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [4, 8, 12]
    assert set(log[0]["group_losses"]) == {"(1,1)", "(2,4)"}
    assert log[0]["lr"] == pytest.approx(1e-3 * 8 / 12)  # linear decay, no warm-up
    assert log[0]["meta_lr"] == pytest.approx(1e-2 * 8 / 12)
    assert all(r["examples_per_second"] > 0 and r["elapsed_seconds"] > 0 for r in log)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-8", "checkpoint-12"]
    summary = json.loads((tmp_path / "training_args.json").read_text())
    assert summary["steps"] == 12 and summary["args"]["batch_size"] == 4
    assert summary["trainable_parameters"]["meta_embeddings"] == 6 * 384

    loaded = MetaEmbed.from_pretrained(result.final_model_dir)
    queries = ["capital of France", "author of Hamlet"]
    torch.testing.assert_close(loaded.encode_queries(queries), model.encode_queries(queries),
                               rtol=0, atol=1e-6)
    resumed = MetaEmbed.from_pretrained(tmp_path / "checkpoint-12")  # a checkpoint is a model too
    torch.testing.assert_close(resumed.meta_embeddings.weight, model.meta_embeddings.weight)


def test_resume_after_a_crash_mid_save_is_bit_identical(tmp_path: Path, monkeypatch) -> None:
    def run(output_dir: Path):
        args = arguments(output_dir, max_steps=4, save_every=2, gradient_accumulation_steps=2,
                         lora_dropout=0.1, warmup_steps=2)
        trainer = Trainer(small_minilm(), args, examples(negatives=1))
        return trainer, trainer.train()

    straight_trainer, straight = run(tmp_path / "straight")

    real_save = torch.save
    calls = []

    def crash_on_second_checkpoint(obj, path, *a, **k):
        calls.append(path)
        if len(calls) == 2:  # checkpoint-4: model files written, optimiser state not
            raise KeyboardInterrupt
        return real_save(obj, path, *a, **k)

    monkeypatch.setattr(torch, "save", crash_on_second_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "crashed")
    monkeypatch.setattr(torch, "save", real_save)
    crashed = tmp_path / "crashed"
    assert (crashed / ".checkpoint-4.tmp").is_dir()
    assert [p.name for p in list_checkpoints(crashed)] == ["checkpoint-2"]

    resumed_trainer, resumed = run(crashed)
    assert resumed.resumed_from == crashed / "checkpoint-2"
    assert resumed.losses == straight.losses[2:]
    straight_state = trainable_state(straight_trainer.model)
    resumed_state = trainable_state(resumed_trainer.model)
    assert straight_state.keys() == resumed_state.keys()
    for name, value in straight_state.items():
        assert torch.equal(value, resumed_state[name]), name
    assert logged_losses(crashed) == logged_losses(tmp_path / "straight")
    assert not (crashed / ".checkpoint-4.tmp").exists()  # replaced by the good save

    # A finished run resumes to nothing and keeps its result.
    _, again = run(crashed)
    assert again.losses == [] and again.steps == 4


def test_lora_targets_and_parameter_groups(tmp_path: Path) -> None:
    model = small_minilm()
    trainer = Trainer(model, arguments(tmp_path, lora_r=4), examples())
    backbone = model.adapter.backbone
    assert isinstance(backbone, PeftModel)
    wrapped = {name for name, module in backbone.named_modules() if hasattr(module, "lora_A")}
    assert {n.rsplit(".", 1)[-1] for n in wrapped} == {"query", "key", "value", "dense"}
    assert len(wrapped) == 6 * 6  # q, k, v, attention output, intermediate, output in 6 layers
    expected_lora = sum(4 * (m.in_features + m.out_features)
                        for n, m in backbone.named_modules() if n in wrapped)
    assert trainer.trainable["lora"] == expected_lora
    assert trainer.trainable["meta_embeddings"] == model.meta_embeddings.weight.numel()
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    assert set(groups) == {"lora/decay", "meta/no_decay"}
    assert groups["lora/decay"]["lr"] == 1e-3 and groups["meta/no_decay"]["lr"] == 1e-2
    assert groups["meta/no_decay"]["params"] == [model.meta_embeddings.weight]

    custom = small_minilm()
    Trainer(custom, arguments(tmp_path / "custom", lora_target_modules=["query", "value"]), examples())
    assert lora_module_names(custom) == {"query", "value"}

    plain = small_minilm()
    plain_trainer = Trainer(plain, arguments(tmp_path / "plain", lora=False), examples())
    assert not isinstance(plain.adapter.backbone, PeftModel)
    assert plain_trainer.trainable["lora"] == 0
    assert [n for n, p in plain.named_parameters() if p.requires_grad] == ["meta_embeddings.weight"]


def test_gradient_checkpointing_keeps_meta_gradients_exact(tmp_path: Path) -> None:
    def meta_grad(checkpointing: bool) -> torch.Tensor:
        model = small_minilm()
        trainer = Trainer(model, arguments(tmp_path / str(checkpointing), lora=False,
                                           gradient_checkpointing=checkpointing), examples())
        model.train()
        torch.manual_seed(1)  # same dropout masks; non-reentrant checkpointing replays them
        loss, _ = trainer._losses(collate(examples()[:4]))
        loss.backward()
        assert model.adapter.backbone.is_activation_checkpointing == checkpointing
        return model.meta_embeddings.weight.grad

    plain, checkpointed = meta_grad(False), meta_grad(True)
    assert plain.abs().sum() > 0
    torch.testing.assert_close(checkpointed, plain, rtol=1e-5, atol=1e-7)


def test_tiny_qwen_vl_learns_on_text_and_page_images(tmp_path: Path, tiny_qwen_vl_dir: Path) -> None:
    model = MetaEmbed.from_backbone(tiny_qwen_vl_dir, "qwen2_5_vl", num_query_tokens=2,
                                    num_candidate_tokens=4)
    trainer = Trainer(model, arguments(tmp_path, max_steps=20, gradient_checkpointing=True), image_examples())
    assert lora_module_names(model) == set(model.adapter.lora_target_modules)
    result = trainer.train()
    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < 0.5 * first, result.losses
    loaded = MetaEmbed.from_pretrained(result.final_model_dir)
    query = ["largest planet"]
    torch.testing.assert_close(loaded.encode_queries(query), model.encode_queries(query), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------- errors
def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size must be >= 2, got 1: each query's negatives"):
        arguments(tmp_path, batch_size=1)
    model = small_minilm()
    with pytest.raises(ValueError, match="training set is empty"):
        Trainer(model, arguments(tmp_path), [])
    same = [TrainingExample(e.query, e.positive, positive_id="one") for e in examples()]
    with pytest.raises(ValueError, match="share one positive"):
        Trainer(small_minilm(), arguments(tmp_path), same)
    with pytest.raises(ValueError, match="8 distinct positives, fewer than batch_size=16"):
        Trainer(small_minilm(), arguments(tmp_path, batch_size=16), examples())
    with pytest.raises(ValueError, match=r"budget \(4, 8\) is out of range"):
        Trainer(small_minilm(), arguments(tmp_path, groups=[(1, 1), (4, 8)]), examples())
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        Trainer(small_minilm(), arguments(tmp_path / "none", resume=True), examples()).train()


def test_a_fresh_start_refuses_an_output_dir_with_checkpoints(tmp_path: Path) -> None:
    Trainer(small_minilm(), arguments(tmp_path, max_steps=1, save_every=1), examples()).train()
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        Trainer(small_minilm(), arguments(tmp_path, max_steps=1, resume=False), examples()).train()
