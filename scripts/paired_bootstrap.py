"""Paired bootstrap of a metric's difference between two TREC runs of `metaembed-rag eval --out`.

    python scripts/paired_bootstrap.py data/minilm-v2/dev \\
        reports/minilm/v2/dev/v2-512/runs/metaembed-16x64.trec \\
        reports/minilm/v2/dev/baselines/runs/minilm.trec

Prints the mean of run A minus run B over the queries and its 95% interval from 10,000 resamples
of the queries (seeded), as used for the model card's comparisons.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from metaembed_rag.evaluation import available_splits, evaluate_per_query, load_dataset


def read_run(path: Path) -> dict[str, list[tuple[str, float]]]:
    run: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        query, _, doc, _, score, _ = line.split()
        run[query].append((doc, float(score)))
    return dict(run)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", help="the dataset folder the runs were made on (for its qrels)")
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--metric", default="ndcg@5")
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    splits = available_splits(args.dataset)
    qrels = load_dataset(args.dataset, splits[0] if len(splits) == 1 else "test").qrels
    a = evaluate_per_query(read_run(args.run_a), qrels)
    b = evaluate_per_query(read_run(args.run_b), qrels)
    queries = sorted(a)
    diff = np.array([a[q][args.metric] - b[q][args.metric] for q in queries])
    rng = np.random.default_rng(args.seed)
    means = diff[rng.integers(0, len(diff), size=(args.resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    print(f"{args.metric}: A - B = {diff.mean():+.3f} [{low:+.3f}, {high:+.3f}] over {len(diff)} queries "
          f"(A {args.run_a}, B {args.run_b})")


if __name__ == "__main__":
    main()
