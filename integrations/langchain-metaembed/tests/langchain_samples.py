"""Paths and queries over the bundled sample PDFs shared by this package's tests (a unique module name,
so it never clashes with another test folder's helpers when pytest runs from the repository root)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "samples" / "pdfs"
REPORT = "lumen-harbor-annual-report-2024.pdf"
REVENUE_QUERY = "What was Lumen Harbor's total revenue in 2024?"
