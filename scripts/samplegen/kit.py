"""Drawing helpers shared by the sample documents: page furniture, tables, charts, form fields.

Everything is drawn with fpdf2's core fonts (Helvetica, latin-1 text) and vector primitives, so
the PDFs are tiny, have a real text layer, and come out byte-identical on every run of the same
fpdf2 version (the creation date is pinned).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

FIXED_DATE = dt.datetime(2025, 1, 15, 12, 0, 0, tzinfo=dt.timezone.utc)
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
INK = (30, 30, 30)
MUTED = (110, 110, 110)


@dataclass
class Query:
    """A retrieval question whose answer is on exactly one page of one file."""

    query: str
    file: str
    page: int
    answer: str


class Sample(FPDF):
    """An FPDF document with a running header/footer and a record of demo queries."""

    def __init__(self, file_name: str, title: str, orientation: str = "portrait") -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.file_name = file_name
        self.title_text = title
        self.queries: list[Query] = []
        self.set_creation_date(FIXED_DATE)
        self.set_producer("metaembed-rag scripts/make_samples.py")
        self.set_creator("metaembed-rag sample generator")
        self.set_title(title)
        self.set_auto_page_break(True, margin=18)
        self.set_margins(18, 20, 18)
        self.set_text_color(*INK)

    # -- page furniture -------------------------------------------------------------------------
    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*MUTED)
        self.set_y(8)
        self.cell(0, 5, self.title_text, align="L")
        self.set_text_color(*INK)
        self.set_y(20)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"Page {self.page_no()}", align="C")
        self.set_text_color(*INK)

    def ask(self, query: str, answer: str) -> None:
        """Record a demo query answered on the current page (``answer`` must be printed on it)."""
        self.queries.append(Query(query, self.file_name, self.page_no(), answer))

    # -- text -----------------------------------------------------------------------------------
    def heading(self, text: str, size: int = 16, space: float = 4) -> None:
        self.set_font("Helvetica", "B", size)
        self.multi_cell(0, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(space)

    def subheading(self, text: str) -> None:
        self.heading(text, size=12, space=2)

    def para(self, text: str, size: float = 10.5, align: str = "J") -> None:
        self.set_font("Helvetica", "", size)
        self.multi_cell(0, size * 0.5, text, align=align, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def bullets(self, items: Sequence[str], size: float = 10.5) -> None:
        self.set_font("Helvetica", "", size)
        for item in items:
            self.set_x(self.l_margin + 3)
            self.cell(5, size * 0.5, "-")
            self.multi_cell(0, size * 0.5, item, align="L", new_x="LMARGIN", new_y="NEXT")
            self.ln(1)
        self.ln(1)

    def columns(self, paragraphs: Sequence[str], ncols: int = 2, size: float = 10) -> None:
        """Flowing multi-column text (newspaper style)."""
        self.set_font("Helvetica", "", size)
        with self.text_columns(ncols=ncols, gutter=7, text_align="J", line_height=1.2, balance=True) as cols:
            for text in paragraphs:
                cols.write(text=text + "\n\n")

    # -- tables ---------------------------------------------------------------------------------
    def grid(
        self,
        rows: Sequence[Sequence[str]],
        widths: Sequence[float] | None = None,
        size: float = 9.5,
        align: str = "LEFT",
        header_color: tuple[int, int, int] = (225, 232, 240),
    ) -> None:
        """A table whose first row is the header."""
        self.set_font("Helvetica", "", size)
        headings = FontFace(emphasis="BOLD", fill_color=header_color)
        self.set_fill_color(255, 255, 255)  # tables otherwise inherit the last fill colour drawn
        with self.table(
            cell_fill_color=(246, 246, 246),
            cell_fill_mode="ROWS",
            col_widths=widths,
            text_align=align,
            headings_style=headings,
            line_height=size * 0.55,
            width=self.epw,
        ) as table:
            for row in rows:
                cells = table.row()
                for value in row:
                    cells.cell(value)
        self.ln(4)

    # -- charts ---------------------------------------------------------------------------------
    def bar_chart(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        labels: Sequence[str],
        values: Sequence[float],
        unit: str = "",
        color: tuple[int, int, int] = PALETTE[0],
    ) -> None:
        """Vertical bars with the value printed above each bar and the label below."""
        top = max(values) * 1.15
        slot = w / len(values)
        self.set_draw_color(*MUTED)
        self.line(x, y + h, x + w, y + h)
        for i, (label, value) in enumerate(zip(labels, values, strict=True)):
            bar_h = h * value / top
            bx = x + i * slot + slot * 0.15
            self.set_fill_color(*color)
            self.rect(bx, y + h - bar_h, slot * 0.7, bar_h, style="F")
            self.set_font("Helvetica", "B", 8)
            self.text(bx, y + h - bar_h - 1.5, f"{value:g}{unit}")
            self.set_font("Helvetica", "", 8)
            self.text(bx, y + h + 4.5, label)
        self.set_y(y + h + 9)

    def line_chart(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        labels: Sequence[str],
        series: dict[str, Sequence[float]],
        unit: str = "",
    ) -> None:
        """Lines with markers, one per series, a light grid, x labels and a legend."""
        everything = [v for values in series.values() for v in values]
        low, high = min(everything) * 0.9, max(everything) * 1.1
        step = w / max(1, len(labels) - 1)
        self.set_draw_color(220, 220, 220)
        self.set_line_width(0.2)
        for k in range(5):
            gy = y + h * k / 4
            self.line(x, gy, x + w, gy)
            self.set_font("Helvetica", "", 7)
            self.text(x - 12, gy + 1, f"{high - (high - low) * k / 4:.0f}{unit}")
        for i, label in enumerate(labels):
            self.set_font("Helvetica", "", 8)
            self.text(x + i * step - 3, y + h + 5, label)
        for s, (name, values) in enumerate(series.items()):
            color = PALETTE[s % len(PALETTE)]
            self.set_draw_color(*color)
            self.set_fill_color(*color)
            self.set_line_width(0.7)
            points = [(x + i * step, y + h - h * (v - low) / (high - low)) for i, v in enumerate(values)]
            self.polyline(points)
            for px, py in points:
                self.circle(px, py, 1.0, style="F")
            self.rect(x + w + 4, y + 6 * s, 4, 3, style="F")
            self.set_font("Helvetica", "", 8)
            self.text(x + w + 10, y + 6 * s + 2.6, name)
        self.set_line_width(0.2)
        self.set_draw_color(*MUTED)
        self.set_y(y + h + 10)

    # -- forms ----------------------------------------------------------------------------------
    def field_box(self, label: str, w: float, h: float = 9) -> None:
        """A labelled empty box to write in, placed at the current position; moves right."""
        x, y = self.get_x(), self.get_y()
        self.set_draw_color(*MUTED)
        self.rect(x, y, w - 2, h)
        self.set_font("Helvetica", "", 7)
        self.set_text_color(*MUTED)
        self.text(x + 1, y + 2.8, label)
        self.set_text_color(*INK)
        self.set_x(x + w)

    def field_row(self, labels: Sequence[tuple[str, float]], h: float = 9) -> None:
        """A row of labelled boxes whose widths are fractions of the text width."""
        self.set_x(self.l_margin)
        for label, fraction in labels:
            self.field_box(label, self.epw * fraction, h)
        self.ln(h + 2)

    def checkbox(self, label: str, checked: bool = False) -> None:
        x, y = self.get_x(), self.get_y()
        self.rect(x, y + 0.8, 3.5, 3.5)
        if checked:
            self.line(x, y + 0.8, x + 3.5, y + 4.3)
            self.line(x + 3.5, y + 0.8, x, y + 4.3)
        self.set_font("Helvetica", "", 9.5)
        self.set_x(x + 5.5)
        self.cell(self.get_string_width(label) + 8, 5, label)

    def section_bar(self, text: str) -> None:
        """A shaded bar introducing a form section."""
        self.set_fill_color(40, 70, 110)
        self.set_text_color(255, 255, 255)
        self.set_font("Helvetica", "B", 10.5)
        self.cell(0, 7, "  " + text, fill=True, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*INK)
        self.ln(3)

    def save(self, folder: Path) -> Path:
        path = folder / self.file_name
        self.output(str(path))
        return path
