"""Cold command-line calls, before against after: wall time and peak RSS of each process.

    git worktree add --detach /tmp/cli-before <commit>       # the code to compare against
    python benchmarks/bench_cli.py --before /tmp/cli-before [--repeats 5]

Every call is a fresh ``python -m metaembed_rag.cli ...`` process with ``PYTHONPATH`` pointing at
one checkout (the ``--before`` one, or this one), so imports, model loading and thread start-up
are all paid, as they are by a user. The two checkouts are interleaved call by call, so load from
other users of the machine falls on both; each cell is the median of ``--repeats`` calls, and the
ratio column (before ÷ after) is the figure to read. Peak RSS comes from ``wait4`` on the child.
The index searched is built once from two sample PDFs with the bundled model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SAMPLES = HERE / "samples" / "pdfs"
CORPUS = ("wayfarer-travel-claim-form.pdf", "willowbrook-garden-newsletter.pdf")


def _calls(index: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "info": ["info", str(index)],
        "search, bad --budget (usage error)": ["search", str(index), "seed swap", "--budget", "17,8"],
        "search (cold: model load + one query)": ["search", str(index), "When is the seed swap?",
                                                  "--budget", "4,8"],
    }


def _run(checkout: Path, args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and exit code of one cold call."""
    env = os.environ | {"PYTHONPATH": str(checkout), "TQDM_DISABLE": "1"}
    started = time.perf_counter()
    # cwd too: ``python -m`` puts the working folder first on sys.path, ahead of PYTHONPATH.
    child = subprocess.Popen([sys.executable, "-m", "metaembed_rag.cli", *args], env=env, cwd=checkout,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, type=Path, help="checkout of the code to compare against")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    checkouts = {"before": args.before.resolve(), "after": HERE}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "docs"
        corpus.mkdir()
        for name in CORPUS:
            (corpus / name).symlink_to(SAMPLES / name)
        index = Path(tmp) / "idx"
        build = ["index", str(corpus), "--index", str(index), "--quiet"]
        subprocess.run([sys.executable, "-m", "metaembed_rag.cli", *build], check=True,
                       env=os.environ | {"PYTHONPATH": str(HERE)}, capture_output=True)
        results: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        for _ in range(args.repeats):
            for name, call in _calls(index).items():
                for side, checkout in checkouts.items():
                    results.setdefault((name, side), []).append(_run(checkout, call))
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}; median of {args.repeats} "
          f"cold calls each; before = {args.before}")
    print("| call | before wall (s) | after wall (s) | wall ratio | before peak RSS (MiB) | "
          "after peak RSS (MiB) | RSS ratio | exit codes (before/after) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in _calls(Path()):
        before, after = results[(name, "before")], results[(name, "after")]
        wall_b, wall_a = (statistics.median(r[0] for r in rows) for rows in (before, after))
        rss_b, rss_a = (statistics.median(r[1] for r in rows) for rows in (before, after))
        codes = f"{sorted({r[2] for r in before})}/{sorted({r[2] for r in after})}"
        print(f"| `{name}` | {wall_b:.2f} | {wall_a:.2f} | {wall_b / wall_a:.1f}x | {rss_b:.0f} | "
              f"{rss_a:.0f} | {rss_b / rss_a:.1f}x | {codes} |")


if __name__ == "__main__":
    main()
