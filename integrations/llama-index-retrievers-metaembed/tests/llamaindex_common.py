"""Paths and queries the LlamaIndex integration tests share (a unique module name: the root suite
has its own conftest and tests folders)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples" / "pdfs"
README = Path(__file__).resolve().parents[1] / "README.md"
QUERY = "What was Lumen Harbor's total revenue in 2024?"
REVENUE_PAGE = "lumen-harbor-annual-report-2024.pdf:3"  # "Total revenue ... EUR 412.6 million"
