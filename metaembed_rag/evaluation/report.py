"""Reporting a sweep: a printed table, a JSON file with every number, a PNG plot, TREC run files.

result = run_sweep(...)
print(format_table(result))
write_report(result, "reports/dev")    # report.json, report.png, runs/<system>.trec
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .results import SweepResult, SystemResult

__all__ = ["COLUMNS", "format_table", "plot", "to_json", "write_report", "write_runs"]

#: (header, metric key or row attribute, format) of the printed table.
COLUMNS = (
    ("nDCG@5", "ndcg@5", "{:.3f}"),
    ("nDCG@10", "ndcg@10", "{:.3f}"),
    ("R@1", "recall@1", "{:.3f}"),
    ("R@5", "recall@5", "{:.3f}"),
    ("R@10", "recall@10", "{:.3f}"),
    ("MRR@10", "mrr@10", "{:.3f}"),
    ("GFLOPs", "gflops", "{:.4g}"),
    ("lat ms", "latency_ms", "{:.2f}"),
    ("index MiB", "index_mib", "{:.4g}"),
)


def _cell(row: SystemResult, key: str, fmt: str) -> str:
    value = row.metrics.get(key) if key in row.metrics else getattr(row, key, None)
    return "-" if value is None else fmt.format(value)


def format_table(result: SweepResult) -> str:
    """A fixed-width table: one row per system and budget, quality then efficiency columns, and a
    footer with the dataset sizes and query encoding times."""
    meta = result.metadata
    header = ["system", "budget", *(name for name, _, _ in COLUMNS)]
    body = [
        [
            row.system,
            "-" if row.budget is None else str(row.budget),
            *(_cell(row, k, f) for _, k, f in COLUMNS),
        ]
        for row in result.rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    title = (f"{meta.get('dataset')} [{meta.get('split')}]: {meta.get('num_queries')} queries, "
             f"{meta.get('num_docs')} docs; model {meta.get('model')}; scoring on {meta.get('device')} "
             f"({meta.get('score_dtype')})")  # fmt: skip
    encoding = ", ".join(f"{k} {v:.1f} ms" for k, v in meta.get("query_encoding_ms", {}).items())
    lines = [title, line(header), line(["-" * w for w in widths]), *map(line, body)]
    if encoding:
        lines.append(f"query encoding per query (batch 1, median): {encoding}")
    lines.append(
        "GFLOPs = 2·N·r_q·r_c·D per query; index MiB = N·r_c·D·2 bytes (bf16); "
        "lat = exact MaxSim + top-10 per query (median, batch 1)"
    )
    return "\n".join(lines)


def to_json(result: SweepResult) -> dict[str, Any]:
    """Every number of the sweep (runs excluded) with its metadata, JSON-serialisable."""
    return {"metadata": result.metadata, "rows": [row.to_dict() for row in result.rows]}


def plot(result: SweepResult, path: str | Path, metrics: tuple[str, ...] = ("ndcg@10", "recall@10")) -> Path:
    """Quality against budget, one panel per metric: MetaEmbed and hybrids as lines over the
    budgets, baselines as horizontal dashed lines. Written as PNG with matplotlib's Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted({row.budget for row in result.rows if row.budget is not None})
    systems = sorted(
        {row.system for row in result.rows if row.budget is not None}, key=lambda s: (s != "metaembed", s)
    )
    baselines = [row for row in result.rows if row.budget is None]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for system in systems:
            points = [
                (i, result.row(system, b).metrics[metric])
                for i, b in enumerate(budgets)
                if any(r.system == system and r.budget == b for r in result.rows)
            ]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=system)
        for row in baselines:
            axis.axhline(
                row.metrics[metric],
                linestyle="--",
                linewidth=1,
                color=_baseline_color(row.system),
                label=row.system,
            )
        axis.set_xticks(range(len(budgets)), [str(b) for b in budgets])
        axis.set_xlabel("budget (r_q, r_c)")
        axis.set_ylabel(metric)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    meta = result.metadata
    figure.suptitle(
        f"{meta.get('model')} on {meta.get('dataset')} [{meta.get('split')}], "
        f"{meta.get('num_queries')} queries"
    )
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _baseline_color(system: str) -> str:
    return {"bm25": "tab:gray", "minilm": "tab:brown", "chunked-minilm": "tab:olive"}.get(system, "black")


def write_runs(result: SweepResult, folder: str | Path) -> list[Path]:
    """One TREC run file per row (``query Q0 doc rank score tag``), for trec_eval or significance tests."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for row in result.rows:
        tag = row.system if row.budget is None else f"{row.system}-{row.budget.r_q}x{row.budget.r_c}"
        path = folder / f"{tag}.trec"
        with open(path, "w", encoding="utf-8") as handle:
            for query_id, ranking in row.run.items():
                for rank, (doc_id, score) in enumerate(ranking, 1):
                    handle.write(f"{query_id} Q0 {doc_id} {rank} {score:.6f} {tag}\n")
        written.append(path)
    return written


def write_report(result: SweepResult, folder: str | Path, *, runs: bool = True) -> dict[str, Path]:
    """Write ``report.json``, ``report.png`` and (with ``runs``) ``runs/*.trec`` under ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "report.json", "png": folder / "report.png"}
    paths["json"].write_text(json.dumps(to_json(result), indent=2, default=str) + "\n")
    plot(result, paths["png"])
    if runs:
        write_runs(result, folder / "runs")
        paths["runs"] = folder / "runs"
    return paths
