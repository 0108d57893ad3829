"""``metaembed-rag train CONFIG``: MMR training from a TOML/YAML config (see ``training.config``)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "parse_override", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train", help="train a MetaEmbed model with the MMR loss from a config file",
        description="Train a MetaEmbed model (LoRA + meta tokens, MMR loss) from a TOML or YAML config. "
        "Options given here override the config.",
    )
    parser.add_argument("config", help="training config (.toml, .yaml)")
    parser.add_argument("--output-dir", help="where checkpoints, log.jsonl and final/ go")
    parser.add_argument("--max-steps", type=int, help="optimiser steps (wins over epochs)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float, help="LoRA learning rate")
    parser.add_argument("--meta-learning-rate", type=float, help="meta embeddings + projection learning rate")
    parser.add_argument("--save-every", type=int,
                        help="checkpoint every N steps (0: no checkpoints; final/ is always saved)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--num-workers", type=int, help="DataLoader workers reading examples")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                        help="continue from the newest checkpoint in the output dir (or from CHECKPOINT)")
    resume.add_argument("--no-resume", dest="resume", action="store_const", const=False,
                        help="start fresh (refused if the output dir holds checkpoints)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override any config value, e.g. --set training.warmup_ratio=0.05 "
                        "(VALUE is read as TOML: 3, 0.1, true, \"text\", [1, 2])")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def parse_override(text: str) -> tuple[str, Any]:
    """``section.key=value`` with ``value`` read as a TOML value (a bare word stays a string)."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key:
        raise ValueError(
            f"cannot read override {text!r}: write section.key=value, e.g. training.max_steps=100"
        )
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides = dict(parse_override(text) for text in args.set)
    flags = {"max_steps": args.max_steps, "epochs": args.epochs, "batch_size": args.batch_size,
             "learning_rate": args.learning_rate, "meta_learning_rate": args.meta_learning_rate,
             "save_every": args.save_every, "device": args.device, "num_workers": args.num_workers,
             "resume": args.resume}
    overrides |= {f"training.{k}": v for k, v in flags.items() if v is not None}
    if isinstance(args.resume, str) and args.resume != "auto":
        overrides["training.resume"] = str(Path(args.resume).resolve())
    if args.output_dir:
        overrides["training.output_dir"] = str(Path(args.output_dir).resolve())
    if args.quiet:
        overrides["training.show_progress_bar"] = False
    return overrides


def run(args: argparse.Namespace) -> int:
    """Load the config, build the model and data, train, and report where the model went."""
    from .config import load_config
    from .trainer import Trainer

    config = load_config(args.config, _overrides(args))
    logging.basicConfig(format="%(message)s")
    logging.getLogger("metaembed_rag.training").setLevel(logging.INFO)
    model = config.model.build()
    read_images = config.data.read_images
    examples = config.data.load(model.adapter.reads_images if read_images is None else read_images)
    trainer = Trainer(model, config.training, examples)
    print(f"training on {len(examples)} examples for {trainer.total_steps} steps "
          f"into {config.training.output_dir}")
    try:
        result = trainer.train()
    except KeyboardInterrupt:
        print("metaembed-rag: training interrupted; rerun the same command to resume from the last "
              "checkpoint", file=sys.stderr)
        return 130
    last = f", last loss {result.final_loss:.4f}" if result.final_loss is not None else ""
    print(f"trained {result.steps} steps in {result.elapsed_seconds:.0f} s{last}")
    print(f"model: {result.final_model_dir}  (log: {result.output_dir / 'log.jsonl'})")
    return 0
