"""Print the model card's dev table (markdown) from `metaembed-rag eval` reports.

    python scripts/model_card_table.py reports/minilm/mmr=MMR reports/minilm/nommr=NoMMR ...

Each argument is REPORT_DIR=LABEL; every MetaEmbed/hybrid row of each report becomes a table row,
baselines (bm25, minilm) once each.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

METRICS = ("ndcg@5", "ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10")


def rows(report: dict, label: str, seen: set[str]) -> list[str]:
    out = []
    for row in report["rows"]:
        system, budget = row["system"], row.get("budget")
        if budget is None:  # a baseline: print it once, under its own name
            if system in seen:
                continue
            seen.add(system)
            name, shown = system, "-"
        else:
            name = label if system == "metaembed" else f"{label} + {system}"
            shown = f"({budget['r_q']},{budget['r_c']})"
        values = " | ".join(f"{row['metrics'][m]:.3f}" for m in METRICS)
        out.append(f"| {name} | {shown} | {values} |")
    return out


def compact(reports: list[tuple[dict, str]], metric: str = "ndcg@5") -> None:
    """One row per system, one column per budget: the ladder at a glance."""
    budgets: list[str] = []
    table: dict[str, dict[str, float]] = {}
    for report, label in reports:
        for row in report["rows"]:
            budget = row.get("budget")
            shown = f"({budget['r_q']},{budget['r_c']})" if budget else "-"
            if budget and shown not in budgets:
                budgets.append(shown)
            name = label if row["system"] == "metaembed" else (
                f"{label} + {row['system']}" if budget else row["system"])
            table.setdefault(name, {})[shown] = row["metrics"][metric]
    print(f"| {metric} | " + " | ".join(budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    for name, values in table.items():
        cells = [f"{values.get(b, values.get('-', float('nan'))):.3f}" for b in budgets]  # baselines: flat
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(arguments: list[str]) -> None:
    reports = []
    for argument in arguments:
        folder, _, label = argument.partition("=")
        reports.append((json.loads((Path(folder) / "report.json").read_text()), label or folder))
    compact(reports)
    print()
    print("| system | budget | " + " | ".join(METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    seen: set[str] = set()
    for report, label in reports:
        for line in rows(report, label, seen):
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
