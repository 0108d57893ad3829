"""Encode throughput of the tiny random Qwen2.5-VL (``metaembed_rag.testing``) through MetaEmbed.

It measures the pipeline's overhead (prompting, image preprocessing, mRoPE positions, batching),
not a real model's speed: the tiny backbone is 2 layers, 64 wide. Prints one table.

    python benchmarks/encode_tiny_qwen_vl.py [--pages 32] [--queries 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from PIL import Image

from metaembed_rag.model import MetaEmbed
from metaembed_rag.model.inputs import to_inputs
from metaembed_rag.testing import build_tiny_qwen_vl


def page(seed: int, size: tuple[int, int]) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (size[1], size[0], 3), dtype=torch.uint8, generator=generator)
    return Image.fromarray(pixels.numpy())


def timed(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` runs after one warm-up run (new shapes cost a first call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=32)
    parser.add_argument("--queries", type=int, default=256)
    parser.add_argument("--page-size", type=int, nargs=2, default=(816, 1056), metavar=("W", "H"))
    parser.add_argument("--page-batch", type=int, default=8)
    parser.add_argument("--query-batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as folder:
        model = MetaEmbed.from_backbone(build_tiny_qwen_vl(folder), family="qwen2_5_vl")
    pages = [page(i, tuple(args.page_size)) for i in range(args.pages)]
    queries = [f"What does table {i} say about revenue in region {i % 7}?" for i in range(args.queries)]
    visual = int(model.prepare(to_inputs(pages[:1]), is_query=False)["image_grid_thw"].prod()) // 4
    batches = [to_inputs(pages[i : i + args.page_batch]) for i in range(0, len(pages), args.page_batch)]
    quiet = {"show_progress_bar": False}
    n = args.repeats
    t_prep = timed(lambda: [model.prepare(b, is_query=False) for b in batches], n)
    t_pages = timed(lambda: model.encode_documents(pages, batch_size=args.page_batch, **quiet), n)
    t_queries = timed(lambda: model.encode_queries(queries, batch_size=args.query_batch, **quiet), n)

    print(f"tiny Qwen2.5-VL, CPU, {args.threads} threads, R_q=16, R_c=64, float32, best of {args.repeats}")
    print("| input | n | batch | per second | of which preprocessing |")
    print("|---|---|---|---|---|")
    width, height = args.page_size
    print(
        f"| page {width}x{height} ({visual} visual tokens) | {len(pages)} | {args.page_batch} "
        f"| {len(pages) / t_pages:.1f} pages/s | {100 * t_prep / t_pages:.0f}% |"
    )
    rate = len(queries) / t_queries
    print(f"| text query | {len(queries)} | {args.query_batch} | {rate:.1f} queries/s | |")


if __name__ == "__main__":
    main()
